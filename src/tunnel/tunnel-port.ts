// A tunnel port (OVS-style): one OpenFlow port per encapsulation, with the remote VTEP and the key
// either fixed in the configuration or taken per packet from the flow (set_field:…->tun_dst / tun_id,
// i.e. remote_ip=flow, key=flow). Encapsulation copies a cached outer-header template (outer-template.ts)
// into the packet's headroom; templates are keyed by (remote, key) and rebuilt when the next hop's MAC
// changes (Neighbours.generation).
import { ENCAP_GRE, ENCAP_NAMES, ENCAP_STT, ENCAP_VXLAN_SOE, type Packet } from '../packet/packet.ts';
import { parseIpv4, parseIpv6, u32 } from '../wire/bytes.ts';
import { DEFAULT_PORTS } from '../wire/tunnel-ports.ts';
import { type OuterSpec, OuterTemplate } from './outer-template.ts';

export interface TunnelConfig {
  name: string;
  /** stt, vxlan, vxlan-gpe, vxlan-soe, geneve, gre, nvgre */
  encap: string;
  localIp: string;
  /** A fixed remote VTEP, or 'flow' (taken from tun_dst). Default 'flow'. */
  remoteIp?: string;
  /** A fixed key (VNI / GRE key / STT context), or 'flow' (from tun_id). Default 'flow'. */
  key?: string | number | bigint;
  dstPort?: number;
  /** Outer UDP (or GRE) checksum. Default off for IPv4 (as Linux vxlan udpcsum off), always on for IPv6. */
  csum?: boolean;
  /** Outer TTL, or 'inherit' from the inner IP header. Default 64. */
  ttl?: number | 'inherit';
  /** Outer TOS, or 'inherit'. Default 0. */
  tos?: number | 'inherit';
  /** Outer DF: set, clear, or inherit from the inner IPv4 header. Default 'clear' (Linux vxlan df unset). */
  df?: 'set' | 'clear' | 'inherit';
  /** Geneve option TLVs (hex), sent on every packet. */
  geneveOptions?: string;
}

export function encapByName(name: string): number {
  const i = (ENCAP_NAMES as readonly string[]).indexOf(name);
  if (i <= 0) throw new Error(`unknown encapsulation '${name}' (one of ${ENCAP_NAMES.slice(1).join(', ')})`);
  return i;
}

/** Parses an address into 4 or 16 bytes; returns the IP version. */
export function parseAddr(text: string, out: Uint8Array): number {
  if (text.includes(':')) {
    parseIpv6(text, out, 0);
    return 6;
  }
  parseIpv4(text, out, 0);
  return 4;
}

export class TunnelPort {
  readonly name: string;
  readonly encap: number;
  readonly ipVersion: number;
  readonly local = new Uint8Array(16);
  /** null = remote_ip=flow */
  readonly remote: Uint8Array | null;
  /** A fixed IPv4 remote as a u32 (0: remote_ip=flow, or IPv6). */
  readonly remote4: number;
  /** local_ip as a u32 (IPv4; 0 for IPv6). */
  readonly local4: number;
  readonly keyFromFlow: boolean;
  readonly keyHi: number;
  readonly keyLo: number;
  readonly dstPort: number;
  readonly csum: boolean;
  readonly ttl: number; //  -1 = inherit
  readonly tos: number; //  -1 = inherit
  readonly df: 'set' | 'clear' | 'inherit';
  readonly geneveOptions: Uint8Array | undefined;
  /** Some outer field is taken from the inner header per packet (ttl/tos/df = inherit). */
  readonly inherits: boolean;
  private templates = new Map<number, OuterTemplate[]>();
  private templatesGeneration = 0;
  /** The template returned last: a burst of one flow asks for the same one again (no hash, no Map). */
  private lastTemplate: OuterTemplate | null = null;

  constructor(cfg: TunnelConfig) {
    this.name = cfg.name;
    this.encap = encapByName(cfg.encap);
    this.ipVersion = parseAddr(cfg.localIp, this.local);
    if (cfg.remoteIp && cfg.remoteIp !== 'flow') {
      this.remote = new Uint8Array(16);
      if (parseAddr(cfg.remoteIp, this.remote) !== this.ipVersion)
        throw new Error(`tunnel ${cfg.name}: local_ip and remote_ip are of different IP versions`);
    } else this.remote = null;
    this.remote4 = this.remote !== null && this.ipVersion === 4 ? u32(this.remote, 0) : 0;
    this.local4 = this.ipVersion === 4 ? u32(this.local, 0) : 0;
    const key = cfg.key ?? 'flow';
    this.keyFromFlow = key === 'flow';
    const k = this.keyFromFlow ? 0n : BigInt(key as string | number | bigint);
    const maxBits = this.encap === ENCAP_STT ? 64n : this.encap === ENCAP_GRE ? 32n : 24n;
    if (k < 0n || k >> maxBits !== 0n)
      throw new Error(`tunnel ${cfg.name}: key ${k} does not fit ${maxBits} bits`);
    this.keyHi = Number(k >> 32n);
    this.keyLo = Number(k & 0xffffffffn);
    this.dstPort = cfg.dstPort ?? DEFAULT_PORTS[cfg.encap] ?? 0;
    this.csum = cfg.csum ?? false;
    this.ttl = cfg.ttl === undefined ? 64 : cfg.ttl === 'inherit' ? -1 : cfg.ttl;
    this.tos = cfg.tos === undefined ? 0 : cfg.tos === 'inherit' ? -1 : cfg.tos;
    this.df = cfg.df ?? 'clear';
    this.geneveOptions = cfg.geneveOptions
      ? Uint8Array.from(cfg.geneveOptions.match(/../g)!.map((x) => Number.parseInt(x, 16)))
      : undefined;
    this.inherits = this.ttl < 0 || this.tos < 0 || this.df === 'inherit';
    if (this.encap === ENCAP_VXLAN_SOE && this.ipVersion !== 4)
      throw new Error(
        `tunnel ${cfg.name}: VXLAN-SOE relies on outer IPv4 fragmentation; use an IPv4 underlay`,
      );
  }

  /**
   * The outer template for (remote, key) with next-hop MACs; cached. `generation` is the neighbour
   * table's: when it moves, every cached template is dropped (MACs may have changed).
   */
  template(
    remote: Uint8Array,
    idHi: number,
    idLo: number,
    srcMac: Uint8Array,
    dstMac: Uint8Array,
    generation: number,
  ): OuterTemplate {
    const n = this.ipVersion === 4 ? 4 : 16;
    if (generation !== this.templatesGeneration) {
      this.templates.clear();
      this.templatesGeneration = generation;
      this.lastTemplate = null;
    }
    const last = this.lastTemplate;
    if (
      last !== null &&
      last.spec.idLo === idLo &&
      last.spec.idHi === idHi &&
      sameBytes(last.spec.dst, remote, n)
    )
      return last;
    let h = (idLo ^ Math.imul(idHi, 0x9e3779b1)) | 0;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ remote[i]!, 0x01000193);
    const list = this.templates.get(h);
    if (list)
      for (let i = 0; i < list.length; i++) {
        const t = list[i]!;
        if (t.spec.idLo === idLo && t.spec.idHi === idHi && sameBytes(t.spec.dst, remote, n))
          return (this.lastTemplate = t);
      }
    const spec: OuterSpec = {
      encap: this.encap,
      ipVersion: this.ipVersion,
      src: this.local.slice(0, n),
      dst: remote.slice(0, n),
      srcMac: srcMac.slice(0, 6),
      dstMac: dstMac.slice(0, 6),
      dstPort: this.dstPort,
      idHi,
      idLo,
      ttl: this.ttl < 0 ? 64 : this.ttl,
      tos: Math.max(this.tos, 0),
      df: this.df === 'set',
      udpCsum: this.csum,
      greCsum: this.csum,
      geneveOptions: this.geneveOptions,
    };
    const t = new OuterTemplate(spec);
    if (list) list.push(t);
    else this.templates.set(h, [t]);
    this.lastTemplate = t;
    return t;
  }

  /** Remote VTEP for a packet: the fixed one, or tun_dst from the flow (p.tunDst); null if unset. */
  remoteFor(p: Packet): Uint8Array | null {
    if (this.remote) return this.remote;
    if (p.tunIpVersion !== this.ipVersion) return null;
    return p.tunDst;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
