// The configuration of one nvo host (`nvo run --config nvo.yaml`), validated with zod: a bad field is
// reported with its path and why (e.g. `tunnels.0.encap: Invalid option: expected one of "stt"|…`).
//
//   name: host1
//   underlay:
//     ports: [{ name: eth0, device: veth0, netns: host1, mtu: 1500 }]
//     addresses: [10.0.0.1/24]           # nvo owns these: answers ARP, terminates tunnels
//     routes: [{ prefix: 0.0.0.0/0, via: 10.0.0.254 }]
//     # IPv6 alike: addresses [fd00::1/64] (answers NS, no DAD), routes [{ prefix: ::/0, via: fd00::fe }];
//     # next hops are resolved by ARP / ND, packets wait meanwhile (limits.unresQlen, default 3)
//     neighbours: [{ ip: 10.0.0.2, mac: 02:00:00:00:00:02 }]
//   guests: [{ name: g1, backend: tap, device: nvotap0, vni: 42 }]
//   tunnels: [{ name: vx0, encap: vxlan, localIp: 10.0.0.1 }]
//   vteps: { "42": [10.0.0.2] }
//   flows: ["priority=0,actions=NORMAL"]
//
// Two underlay modes (`underlay.mode`):
//   raw     (default) nvo owns the underlay: AF_PACKET on `ports`, its own `addresses`, ARP, routes,
//           neighbours; it writes the outer Ethernet/IP/UDP headers itself. Every encapsulation. Root.
//   socket  the kernel owns the underlay: addresses, routing, ARP/ND and the outer IP/UDP headers are
//           its job; each UDP tunnel (vxlan, vxlan-gpe, vxlan-soe, geneve) sends and receives its
//           payload (tunnel header onward) through a UDP socket bound to localIp:dstPort (UDP_SEGMENT /
//           UDP_GRO with the native addon, else node:dgram). Outer checksum, TTL, DF and fragmentation
//           are then the kernel's (its defaults: TTL 64, PMTU discovery, local fragmentation of a
//           datagram bigger than the route's MTU), the outer source port is the socket's (dstPort), and
//           the tunnel's csum/ttl/tos/df settings do not apply. `mtu` sizes the inner TCP segments cut
//           from guest superframes; `netns` opens the sockets in that namespace (native only). STT, GRE
//           and NVGRE are not UDP, hence no socket mode for them.
//
// A guest with `backend: udp` needs neither root nor the addon: each datagram is one Ethernet frame, no
// header (QEMU's `-netdev dgram` / `-netdev socket,udp=` format); nvo binds `device` and sends the
// guest's frames to `peer`. With underlay mode socket that makes a whole rootless, addon-less nvo.
//
//   guests: [{ name: vm1, backend: udp, device: 127.0.0.1:5000, peer: 127.0.0.1:5001, vni: 42 }]
//   underlay: { mode: socket, mtu: 1500 }
//   tunnels: [{ name: vx0, encap: vxlan, localIp: 10.0.0.1 }]   # the kernel has 10.0.0.1 on some device
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseIpv6 } from '../wire/bytes.ts';
import { DEFAULT_PORTS } from '../wire/tunnel-ports.ts';

const ipv4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'an IPv4 address');
const cidr4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 prefix like 10.0.0.1/24');
/** 10.0.0.1:5000 or [fd00::1]:5000 */
const hostPort = z
  .string()
  .regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/, 'address:port, e.g. 127.0.0.1:5000');
const mac = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'a MAC address like 02:00:00:00:00:01');
const isIpv6 = (s: string): boolean => {
  try {
    parseIpv6(s, new Uint8Array(16), 0);
    return true;
  } catch {
    return false;
  }
};
const ipv6 = z.string().refine(isIpv6, 'an IPv6 address');
const cidr6 = z.string().refine((s) => {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  return m !== null && isIpv6(m[1]!) && Number(m[2]) <= 128;
}, 'an IPv6 prefix like fd00::1/64');
/** IPv4 or IPv6: the underlay may be either (routes, neighbours and VTEPs of one family per entry). */
const ip = z.union([ipv4, ipv6], { error: 'an IPv4 or IPv6 address' });
const cidr = z.union([cidr4, cidr6], { error: 'an IPv4 or IPv6 prefix like 10.0.0.1/24 or fd00::1/64' });
const encap = z.enum(['stt', 'vxlan', 'vxlan-gpe', 'vxlan-soe', 'geneve', 'gre', 'nvgre']);

const ConfigBase = z
  .object({
    name: z.string().default('nvo'),
    underlay: z
      .object({
        mode: z.enum(['raw', 'socket']).default('raw'),
        /** socket mode: the path MTU inner TCP segments are cut for (outer IP datagram ≤ mtu). */
        mtu: z.number().int().min(576).max(65535).default(1500),
        /** socket mode: the namespace to open the UDP sockets in (native I/O only). */
        netns: z.string().optional(),
        mac: mac.optional(),
        ports: z
          .array(
            z.object({
              name: z.string(),
              device: z.string(),
              netns: z.string().optional(),
              mtu: z.number().int().min(576).max(65535).default(1500),
              /** The device takes superframes (vnet_hdr): TSO/USO on the underlay wire. */
              offload: z.boolean().default(true),
              /** Send UDP tunnels' superframes as UDP GSO (USO) superframes: see Port.txUso. */
              uso: z.boolean().default(false),
            }),
          )
          .default([]),
        addresses: z.array(cidr).default([]),
        routes: z.array(z.object({ prefix: cidr, via: ip })).default([]),
        neighbours: z.array(z.object({ ip, mac })).default([]),
      })
      .default({ mode: 'raw', mtu: 1500, ports: [], addresses: [], routes: [], neighbours: [] }),
    guests: z
      .array(
        z.object({
          name: z.string(),
          /** tap, af-packet (root + addon), or udp: Ethernet frames in UDP datagrams (rootless, see above). */
          backend: z.enum(['tap', 'af-packet', 'udp']),
          /** The device name; for backend udp the local address:port nvo binds. */
          device: z.string(),
          /** backend udp: where frames for the guest are sent (address:port). */
          peer: hostPort.optional(),
          netns: z.string().optional(),
          vni: z.number().int().min(0).max(0xffffff).default(0),
          offload: z.boolean().default(true),
          no: z.number().int().min(1).max(0xfeff).optional(),
        }),
      )
      .default([]),
    tunnels: z
      .array(
        z.object({
          name: z.string(),
          encap,
          localIp: z.string(),
          remoteIp: z.string().default('flow'),
          key: z
            .union([z.literal('flow'), z.number().int().min(0), z.string().regex(/^(0x[0-9a-fA-F]+|\d+)$/)])
            .default('flow'),
          dstPort: z.number().int().min(1).max(65535).optional(),
          csum: z.boolean().optional(),
          ttl: z.union([z.number().int().min(1).max(255), z.literal('inherit')]).optional(),
          tos: z.union([z.number().int().min(0).max(255), z.literal('inherit')]).optional(),
          df: z.enum(['set', 'clear', 'inherit']).optional(),
          no: z.number().int().min(1).max(0xfeff).optional(),
        }),
      )
      .default([]),
    vteps: z.record(z.string().regex(/^\d+$/, 'a VNI'), z.array(ip)).default({}),
    flows: z.array(z.string()).default(['priority=0,actions=NORMAL']),
    control: z.object({ socket: z.string() }).optional(),
    limits: z
      .object({
        poolSize: z.number().int().min(64).default(4096),
        superPoolSize: z.number().int().min(8).default(256),
        emcEntries: z.number().int().min(0).default(8192),
        macAgingMs: z.number().int().min(1000).default(300_000),
        /** Underlay neighbour table size (Linux gc_thresh3). */
        neighbours: z.number().int().min(16).max(1_000_000).optional(),
        /** Packets waiting per unresolved next hop (Linux unres_qlen), and in all. */
        unresQlen: z.number().int().min(0).max(1024).optional(),
        unresTotal: z.number().int().min(1).max(65536).optional(),
        /** Packet-in records waiting for `nvo monitor` subscribers. */
        packetInQueue: z.number().int().min(1).max(65536).optional(),
      })
      .default({ poolSize: 4096, superPoolSize: 256, emcEntries: 8192, macAgingMs: 300_000 }),
  })
  .strict();

export const ConfigSchema = ConfigBase.superRefine(crossFieldRules);

export type Config = z.infer<typeof ConfigSchema>;

/** Encapsulations carried in UDP: the only ones a kernel UDP socket can carry (socket mode). */
export const UDP_ENCAPS: readonly string[] = ['vxlan', 'vxlan-gpe', 'vxlan-soe', 'geneve'];
const WHY_NOT_UDP: Record<string, string> = {
  stt: 'STT is a TCP-like header on raw IP (protocol 6), which nvo must write itself',
  gre: 'GRE is IP protocol 47, not UDP',
  nvgre: 'NVGRE is GRE, IP protocol 47, not UDP',
};

/**
 * Rules across fields: a UDP guest has an address:port and a peer; underlay mode socket takes UDP
 * encapsulations only, one per socket, and nothing of the raw underlay (the kernel owns it).
 */
function crossFieldRules(c: z.infer<typeof ConfigBase>, ctx: z.RefinementCtx): void {
  c.guests.forEach((g, i) => {
    if (g.backend !== 'udp') {
      if (g.peer !== undefined)
        ctx.addIssue({ code: 'custom', path: ['guests', i, 'peer'], message: 'only used with backend udp' });
      return;
    }
    if (!hostPort.safeParse(g.device).success)
      ctx.addIssue({
        code: 'custom',
        path: ['guests', i, 'device'],
        message: 'backend udp binds address:port, e.g. 127.0.0.1:5000',
      });
    if (g.peer === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['guests', i, 'peer'],
        message: 'backend udp needs the address:port to send frames to',
      });
    if (g.netns !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['guests', i, 'netns'],
        message: "backend udp uses nvo's own namespace",
      });
  });
  const u = c.underlay;
  if (u.mode !== 'socket') {
    if (u.netns !== undefined)
      ctx.addIssue({ code: 'custom', path: ['underlay', 'netns'], message: 'only used with mode: socket' });
    return;
  }
  for (const k of ['ports', 'addresses', 'routes', 'neighbours'] as const)
    if (u[k].length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['underlay', k],
        message: 'not used with mode: socket (the kernel owns the underlay: addresses, routes, ARP)',
      });
  const byAddr = new Map<string, string>();
  c.tunnels.forEach((t, i) => {
    if (!UDP_ENCAPS.includes(t.encap)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tunnels', i, 'encap'],
        message: `${t.encap} cannot use underlay mode socket: ${WHY_NOT_UDP[t.encap]}; use mode raw (root, AF_PACKET) or one of ${UDP_ENCAPS.join(', ')}`,
      });
      return;
    }
    // One socket per local address and port: its tunnels must agree on how to read a datagram.
    const family = t.encap === 'vxlan-soe' ? 'vxlan' : t.encap;
    const at = `${t.localIp}|${t.dstPort ?? DEFAULT_PORTS[t.encap]}`;
    const other = byAddr.get(at);
    if (other !== undefined && other !== family)
      ctx.addIssue({
        code: 'custom',
        path: ['tunnels', i, 'dstPort'],
        message: `${t.localIp} port ${at.split('|')[1]} already carries ${other}: one UDP socket reads one encapsulation`,
      });
    else byAddr.set(at, family);
  });
}

export class ConfigError extends Error {}

/** Validates a parsed document; throws ConfigError listing each bad field as `path: why`. */
export function validateConfig(doc: unknown, source = 'config'): Config {
  const r = ConfigSchema.safeParse(doc ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new ConfigError(`${source}: ${lines.join('; ')}`);
  }
  return r.data;
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  return validateConfig(doc, file);
}

export function defaultSocket(cfg: Config): string {
  return cfg.control?.socket ?? `/run/nvo/${cfg.name}.sock`;
}
