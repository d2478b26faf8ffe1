// The configuration of one nvo host (`nvo run --config nvo.yaml`), validated with zod: a bad field is
// reported with its path and why (e.g. `tunnels.0.encap: Invalid option: expected one of "stt"|…`).
//
//   name: host1
//   underlay:
//     ports: [{ name: eth0, device: veth0, netns: host1, mtu: 1500 }]
//     addresses: [10.0.0.1/24]           # nvo owns these: answers ARP, terminates tunnels
//     routes: [{ prefix: 0.0.0.0/0, via: 10.0.0.254 }]
//     neighbours: [{ ip: 10.0.0.2, mac: 02:00:00:00:00:02 }]
//   guests: [{ name: g1, backend: tap, device: nvotap0, vni: 42 }]
//   tunnels: [{ name: vx0, encap: vxlan, localIp: 10.0.0.1 }]
//   vteps: { "42": [10.0.0.2] }
//   flows: ["priority=0,actions=NORMAL"]
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const ipv4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'an IPv4 address');
const cidr4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 prefix like 10.0.0.1/24');
const mac = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'a MAC address like 02:00:00:00:00:01');
const encap = z.enum(['stt', 'vxlan', 'vxlan-gpe', 'vxlan-soe', 'geneve', 'gre', 'nvgre']);

export const ConfigSchema = z
  .object({
    name: z.string().default('nvo'),
    underlay: z
      .object({
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
        addresses: z.array(cidr4).default([]),
        routes: z.array(z.object({ prefix: cidr4, via: ipv4 })).default([]),
        neighbours: z.array(z.object({ ip: ipv4, mac })).default([]),
      })
      .default({ ports: [], addresses: [], routes: [], neighbours: [] }),
    guests: z
      .array(
        z.object({
          name: z.string(),
          backend: z.enum(['tap', 'af-packet']),
          device: z.string(),
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
    vteps: z.record(z.string().regex(/^\d+$/, 'a VNI'), z.array(ipv4)).default({}),
    flows: z.array(z.string()).default(['priority=0,actions=NORMAL']),
    control: z.object({ socket: z.string() }).optional(),
    limits: z
      .object({
        poolSize: z.number().int().min(64).default(4096),
        superPoolSize: z.number().int().min(8).default(256),
        emcEntries: z.number().int().min(0).default(8192),
        macAgingMs: z.number().int().min(1000).default(300_000),
      })
      .default({ poolSize: 4096, superPoolSize: 256, emcEntries: 8192, macAgingMs: 300_000 }),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

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
