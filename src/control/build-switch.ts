// Config → Switch: ports, tunnels, addresses, routes, neighbours, VTEP lists and flows. The back ends
// are opened by the caller (`open`), so the same code builds a real host (TAP / AF_PACKET) and an
// in-memory one (tests, `nvo demo` without root).

import { configurePacketIns } from '../datapath/packet-in.ts';
import { KIND_GUEST, KIND_UNDERLAY, type PortSink } from '../datapath/port.ts';
import { Switch } from '../datapath/switch.ts';
import { parseFlow } from '../flow/ofctl-parse.ts';
import { parseIpv4, parseIpv6 } from '../wire/bytes.ts';
import { type Config, ConfigError } from './config.ts';

export interface PortRequest {
  role: 'guest' | 'underlay' | 'socket';
  name: string;
  backend: 'tap' | 'af-packet' | 'udp';
  device: string;
  netns?: string;
  offload: boolean;
  /** Raw underlay: the port's `uso` (UDP GSO superframes on the wire). */
  uso?: boolean;
  /** backend udp (a guest over UDP): where its frames are sent. */
  peer?: string;
  /** role 'socket' (underlay mode socket): the local address and UDP port to bind, and the tunnels it carries. */
  socket?: { address: string; port: number; tunnels: string[] };
}

const ip4num = (s: string): number => {
  const b = new Uint8Array(4);
  parseIpv4(s, b, 0);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
};

export function buildSwitch(cfg: Config, open: (r: PortRequest) => PortSink & { mac?: Uint8Array }): Switch {
  const sw = new Switch({
    name: cfg.name,
    underlayMac: cfg.underlay.mac,
    poolSize: cfg.limits.poolSize,
    superPoolSize: cfg.limits.superPoolSize,
    emcEntries: cfg.limits.emcEntries,
    macAgingMs: cfg.limits.macAgingMs,
  });
  let underlayNo = 0;
  for (const u of cfg.underlay.ports) {
    const sink = open({
      role: 'underlay',
      name: u.name,
      backend: 'af-packet',
      device: u.device,
      netns: u.netns,
      offload: u.offload,
      uso: u.uso,
    });
    const port = sw.addPort(u.name, KIND_UNDERLAY, { sink, mtu: u.mtu, txOffload: u.offload, txUso: u.uso });
    underlayNo ||= port.no;
    if (!cfg.underlay.mac && sink.mac) sw.underlayMac.set(sink.mac);
  }
  for (const g of cfg.guests) {
    const sink = open({
      role: 'guest',
      name: g.name,
      backend: g.backend,
      device: g.device,
      netns: g.netns,
      offload: g.offload,
      peer: g.peer,
    });
    // A UDP guest takes plain frames only: the switch finishes checksums and segments for it.
    const txOffload = g.backend !== 'udp' && g.offload;
    sw.addPort(g.name, KIND_GUEST, { no: g.no, sink, vni: g.vni, txOffload });
  }
  for (const t of cfg.tunnels) {
    const { no, ...tc } = t;
    sw.addTunnel(
      { ...tc, key: typeof tc.key === 'string' && tc.key !== 'flow' ? BigInt(tc.key) : tc.key },
      { no },
    );
  }
  if (cfg.underlay.mode === 'socket') attachSockets(cfg, sw, open);
  underlayAddressing(cfg, sw, underlayNo);
  if (cfg.limits.packetInQueue !== undefined) configurePacketIns(sw, cfg.limits.packetInQueue);
  for (const f of cfg.flows) sw.addFlow(parseFlow(f, { portByName: sw.portByName }));
  return sw;
}

/**
 * Underlay mode socket: one UDP socket per (local address, port), shared by the tunnel ports that use
 * it; each such port sends through it (its sink) and sizes inner segments for underlay.mtu.
 */
function attachSockets(cfg: Config, sw: Switch, open: (r: PortRequest) => PortSink): void {
  const groups = new Map<string, { address: string; port: number; tunnels: string[] }>();
  for (const t of cfg.tunnels) {
    const port = sw.port(t.name)!.tunnel!.dstPort;
    const at = `${t.localIp.includes(':') ? `[${t.localIp}]` : t.localIp}:${port}`;
    const g = groups.get(at) ?? { address: t.localIp, port, tunnels: [] };
    g.tunnels.push(t.name);
    groups.set(at, g);
  }
  for (const [at, g] of groups) {
    const sink = open({
      role: 'socket',
      name: `udp:${at}`,
      backend: 'udp',
      device: at,
      netns: cfg.underlay.netns,
      offload: true,
      socket: g,
    });
    for (const name of g.tunnels) {
      const p = sw.port(name)!;
      p.sink = sink;
      p.mtu = cfg.underlay.mtu;
    }
  }
}

/**
 * Addresses nvo owns (each also an on-link route), routes, static neighbours and VTEP lists, IPv4 or
 * IPv6 per entry; the neighbour table and its waiting queue are sized from `limits`.
 */
function underlayAddressing(cfg: Config, sw: Switch, underlayNo: number): void {
  const nb = sw.neighbours;
  const l = cfg.limits;
  if (l.neighbours !== undefined) nb.maxEntries = l.neighbours;
  if (l.unresQlen !== undefined || l.unresTotal !== undefined)
    sw.resolver.configure({ perHop: l.unresQlen, total: l.unresTotal });
  for (const a of cfg.underlay.addresses) {
    const [addr, len] = a.split('/');
    if (addr!.includes(':')) {
      const b = ipv6Addr(addr!);
      nb.addLocal6(b);
      if (underlayNo) nb.addRoute6(b, Number(len), null, underlayNo);
      continue;
    }
    const n = ip4num(addr!);
    sw.localIps4.add(n);
    if (underlayNo) nb.addRoute4(n, Number(len), 0, underlayNo);
  }
  cfg.underlay.routes.forEach((r, i) => {
    const [addr, len] = r.prefix.split('/');
    if (addr!.includes(':') !== r.via.includes(':'))
      throw new ConfigError(
        `underlay.routes.${i}: prefix ${r.prefix} and via ${r.via} are of different IP versions`,
      );
    if (addr!.includes(':')) nb.addRoute6(ipv6Addr(addr!), Number(len), ipv6Addr(r.via), underlayNo);
    else nb.addRoute4(ip4num(addr!), Number(len), ip4num(r.via), underlayNo);
  });
  for (const n of cfg.underlay.neighbours) {
    const mac = Uint8Array.from(n.mac.split(':').map((x) => Number.parseInt(x, 16)));
    if (n.ip.includes(':')) nb.set6(ipv6Addr(n.ip), mac, underlayNo, 0, true);
    else nb.set4(ip4num(n.ip), mac, underlayNo, 0, true);
  }
  for (const [vni, remotes] of Object.entries(cfg.vteps))
    for (const r of remotes) sw.addVtep(Number(vni), r.includes(':') ? ipv6Addr(r) : ip4bytes(r));
}

function ipv6Addr(s: string): Uint8Array {
  const b = new Uint8Array(16);
  parseIpv6(s, b, 0);
  return b;
}

function ip4bytes(s: string): Uint8Array {
  const b = new Uint8Array(4);
  parseIpv4(s, b, 0);
  return b;
}
