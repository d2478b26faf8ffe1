// Matchable / settable fields: names as ovs-ofctl spells them (lib/meta-flow.h, meta-flow.xml), where each
// lives in the flow key, how wide it is, how its value is written, and its prerequisites.
//
// A field is the bit range [shift, shift+bits) of the big-endian number formed by key words
// [word, word+nwords). Values cross the API as bigint: this is the control path (parsing, printing,
// adding flows); the data path only touches the Uint32Array words.
import * as K from './key.ts';

/** How a value is written in flow text. */
export type FieldFormat = 'dec' | 'hex' | 'mac' | 'ipv4' | 'ipv6' | 'port' | 'frag' | 'tcpflags' | 'tunflags';

/**
 * Prerequisites (OVS enum mf_prereqs): what the match must pin down before the field means anything.
 * ND_SOLICIT / ND_ADVERT are icmp_type 135 / 136 on top of ICMPv6.
 */
export type Prereq =
  | 'none'
  | 'arp'
  | 'ipv4'
  | 'ipv6'
  | 'ip'
  | 'tcp'
  | 'udp'
  | 'sctp'
  | 'tp'
  | 'icmpv4'
  | 'icmpv6'
  | 'nd'
  | 'nd_solicit'
  | 'nd_advert';

export interface Field {
  /** Canonical name (as set_field prints it). */
  readonly name: string;
  /** Other accepted names (dl_src for eth_src …, and the NXM_/OXM_ names). */
  readonly aliases: readonly string[];
  /** NXM/OXM name used by load/move printing (NXM_NX_REG0), or '' to print `name`. */
  readonly nxm: string;
  readonly word: number;
  readonly nwords: number;
  readonly bits: number;
  readonly shift: number;
  readonly format: FieldFormat;
  readonly maskable: boolean;
  readonly prereq: Prereq;
  /** Text value = field value << textShift (nw_tos is written as a TOS byte but holds the DSCP bits). */
  readonly textShift: number;
  /** Settable by set_field / load (false for in_port-like read-only fields we don't rewrite). */
  readonly writable: boolean;
}

function f(
  name: string,
  word: number,
  nwords: number,
  bits: number,
  format: FieldFormat,
  opts: {
    aliases?: string[];
    nxm?: string;
    shift?: number;
    maskable?: boolean;
    prereq?: Prereq;
    textShift?: number;
    writable?: boolean;
  } = {},
): Field {
  return {
    name,
    aliases: opts.aliases ?? [],
    nxm: opts.nxm ?? '',
    word,
    nwords,
    bits,
    shift: opts.shift ?? 0,
    format,
    maskable: opts.maskable ?? true,
    prereq: opts.prereq ?? 'none',
    textShift: opts.textShift ?? 0,
    writable: opts.writable ?? true,
  };
}

const regs: Field[] = [];
for (let i = 0; i < K.N_REGS; i++)
  regs.push(f(`reg${i}`, K.REG0 + i, 1, 32, 'hex', { nxm: `NXM_NX_REG${i}` }));
for (let i = 0; i < K.N_REGS / 2; i++)
  regs.push(f(`xreg${i}`, K.REG0 + 2 * i, 2, 64, 'hex', { nxm: `OXM_OF_PKT_REG${i}` }));
for (let i = 0; i < K.N_REGS / 4; i++)
  regs.push(f(`xxreg${i}`, K.REG0 + 4 * i, 4, 128, 'hex', { nxm: `NXM_NX_XXREG${i}` }));

/** Every field nvo knows, in no particular order. */
export const FIELDS: readonly Field[] = [
  f('in_port', K.IN_PORT, 1, 32, 'port', { maskable: false, nxm: 'NXM_OF_IN_PORT' }),
  f('metadata', K.METADATA, 2, 64, 'hex', { nxm: 'OXM_OF_METADATA' }),
  ...regs,
  f('pkt_mark', K.PKT_MARK, 1, 32, 'hex', { nxm: 'NXM_NX_PKT_MARK' }),
  f('tun_id', K.TUN_ID, 2, 64, 'hex', { aliases: ['tunnel_id'], nxm: 'NXM_NX_TUN_ID' }),
  f('tun_src', K.TUN_SRC, 1, 32, 'ipv4', { nxm: 'NXM_NX_TUN_IPV4_SRC' }),
  f('tun_dst', K.TUN_DST, 1, 32, 'ipv4', { nxm: 'NXM_NX_TUN_IPV4_DST' }),
  f('tun_ipv6_src', K.TUN_IPV6_SRC, 4, 128, 'ipv6', { nxm: 'NXM_NX_TUN_IPV6_SRC' }),
  f('tun_ipv6_dst', K.TUN_IPV6_DST, 4, 128, 'ipv6', { nxm: 'NXM_NX_TUN_IPV6_DST' }),
  f('tun_flags', K.TUN_FLAGS, 1, 1, 'tunflags', { nxm: 'NXM_NX_TUN_FLAGS' }),
  f('eth_src', K.DL_SRC, 2, 48, 'mac', { aliases: ['dl_src'], nxm: 'NXM_OF_ETH_SRC' }),
  f('eth_dst', K.DL_DST, 2, 48, 'mac', { aliases: ['dl_dst'], nxm: 'NXM_OF_ETH_DST' }),
  f('eth_type', K.DL_TYPE, 1, 16, 'hex', { aliases: ['dl_type'], maskable: false, nxm: 'NXM_OF_ETH_TYPE' }),
  f('vlan_tci', K.VLAN_TCI, 1, 16, 'hex', { nxm: 'NXM_OF_VLAN_TCI' }),
  // dl_vlan / vlan_vid / vlan_pcp are views of vlan_tci; the text parser applies OVS's set rules for them
  // (ofctl-parse.ts applyField: dl_vlan and vlan_pcp also set the present bit).
  f('dl_vlan', K.VLAN_TCI, 1, 12, 'dec', { maskable: false }),
  // vlan_vid is 13 bits: the VID plus the CFI/present bit, as OF1.3 OXM VLAN_VID (set_field:4103->vlan_vid).
  f('vlan_vid', K.VLAN_TCI, 1, 13, 'dec', { nxm: 'OXM_OF_VLAN_VID' }),
  f('vlan_pcp', K.VLAN_TCI, 1, 3, 'dec', {
    aliases: ['dl_vlan_pcp'],
    shift: 13,
    maskable: false,
    nxm: 'OXM_OF_VLAN_PCP',
  }),
  f('ip_src', K.NW_SRC, 1, 32, 'ipv4', { aliases: ['nw_src'], prereq: 'ipv4', nxm: 'NXM_OF_IP_SRC' }),
  f('ip_dst', K.NW_DST, 1, 32, 'ipv4', { aliases: ['nw_dst'], prereq: 'ipv4', nxm: 'NXM_OF_IP_DST' }),
  f('ipv6_src', K.IPV6_SRC, 4, 128, 'ipv6', { prereq: 'ipv6', nxm: 'NXM_NX_IPV6_SRC' }),
  f('ipv6_dst', K.IPV6_DST, 4, 128, 'ipv6', { prereq: 'ipv6', nxm: 'NXM_NX_IPV6_DST' }),
  f('ipv6_label', K.IPV6_LABEL, 1, 20, 'hex', { prereq: 'ipv6', nxm: 'NXM_NX_IPV6_LABEL' }),
  f('nw_proto', K.NW_PROTO, 1, 8, 'dec', {
    aliases: ['ip_proto'],
    maskable: false,
    prereq: 'ip',
    nxm: 'NXM_OF_IP_PROTO',
    writable: false,
  }),
  f('nw_tos', K.NW_TOS, 1, 6, 'dec', {
    shift: 2,
    maskable: false,
    prereq: 'ip',
    textShift: 2,
    nxm: 'NXM_OF_IP_TOS',
  }),
  f('ip_dscp', K.NW_TOS, 1, 6, 'dec', { shift: 2, maskable: false, prereq: 'ip', nxm: 'OXM_OF_IP_DSCP' }),
  f('nw_ecn', K.NW_TOS, 1, 2, 'dec', {
    aliases: ['ip_ecn'],
    maskable: false,
    prereq: 'ip',
    nxm: 'NXM_NX_IP_ECN',
  }),
  f('nw_ttl', K.NW_TTL, 1, 8, 'dec', { maskable: false, prereq: 'ip', nxm: 'NXM_NX_IP_TTL' }),
  f('ip_frag', K.NW_FRAG, 1, 2, 'frag', {
    aliases: ['nw_frag'],
    prereq: 'ip',
    nxm: 'NXM_NX_IP_FRAG',
    writable: false,
  }),
  f('arp_op', K.ARP_OP, 1, 16, 'dec', { maskable: false, prereq: 'arp', nxm: 'NXM_OF_ARP_OP' }),
  f('arp_spa', K.ARP_SPA, 1, 32, 'ipv4', { prereq: 'arp', nxm: 'NXM_OF_ARP_SPA' }),
  f('arp_tpa', K.ARP_TPA, 1, 32, 'ipv4', { prereq: 'arp', nxm: 'NXM_OF_ARP_TPA' }),
  f('arp_sha', K.ARP_SHA, 2, 48, 'mac', { prereq: 'arp', nxm: 'NXM_NX_ARP_SHA' }),
  f('arp_tha', K.ARP_THA, 2, 48, 'mac', { prereq: 'arp', nxm: 'NXM_NX_ARP_THA' }),
  f('nd_target', K.ND_TARGET, 4, 128, 'ipv6', { prereq: 'nd', nxm: 'NXM_NX_ND_TARGET' }),
  f('nd_sll', K.ND_SLL, 2, 48, 'mac', { prereq: 'nd_solicit', nxm: 'NXM_NX_ND_SLL' }),
  f('nd_tll', K.ND_TLL, 2, 48, 'mac', { prereq: 'nd_advert', nxm: 'NXM_NX_ND_TLL' }),
  f('tcp_src', K.TP_SRC, 1, 16, 'dec', { prereq: 'tcp', nxm: 'NXM_OF_TCP_SRC' }),
  f('tcp_dst', K.TP_DST, 1, 16, 'dec', { prereq: 'tcp', nxm: 'NXM_OF_TCP_DST' }),
  f('udp_src', K.TP_SRC, 1, 16, 'dec', { prereq: 'udp', nxm: 'NXM_OF_UDP_SRC' }),
  f('udp_dst', K.TP_DST, 1, 16, 'dec', { prereq: 'udp', nxm: 'NXM_OF_UDP_DST' }),
  f('sctp_src', K.TP_SRC, 1, 16, 'dec', { prereq: 'sctp', nxm: 'OXM_OF_SCTP_SRC' }),
  f('sctp_dst', K.TP_DST, 1, 16, 'dec', { prereq: 'sctp', nxm: 'OXM_OF_SCTP_DST' }),
  // ovs-ofctl accepts tp_src/tp_dst for whichever of TCP/UDP/SCTP the match names.
  f('tp_src', K.TP_SRC, 1, 16, 'dec', { prereq: 'tp' }),
  f('tp_dst', K.TP_DST, 1, 16, 'dec', { prereq: 'tp' }),
  f('tcp_flags', K.TCP_FLAGS, 1, 12, 'tcpflags', { prereq: 'tcp', nxm: 'NXM_NX_TCP_FLAGS', writable: false }),
  f('icmp_type', K.ICMP_TYPE, 1, 8, 'dec', { maskable: false, prereq: 'icmpv4', nxm: 'NXM_OF_ICMP_TYPE' }),
  f('icmp_code', K.ICMP_CODE, 1, 8, 'dec', { maskable: false, prereq: 'icmpv4', nxm: 'NXM_OF_ICMP_CODE' }),
  f('icmpv6_type', K.ICMP_TYPE, 1, 8, 'dec', {
    maskable: false,
    prereq: 'icmpv6',
    nxm: 'NXM_NX_ICMPV6_TYPE',
  }),
  f('icmpv6_code', K.ICMP_CODE, 1, 8, 'dec', {
    maskable: false,
    prereq: 'icmpv6',
    nxm: 'NXM_NX_ICMPV6_CODE',
  }),
];

const byName = new Map<string, Field>();
for (const fl of FIELDS) {
  byName.set(fl.name, fl);
  for (const a of fl.aliases) byName.set(a, fl);
  if (fl.nxm) byName.set(fl.nxm.toLowerCase(), fl);
  // OXM_OF_ETH_DST and NXM_OF_ETH_DST name the same field in OVS's parser.
  if (fl.nxm.startsWith('NXM_OF_')) byName.set(`oxm_of_${fl.nxm.slice(7).toLowerCase()}`, fl);
}
byName.set('nxm_nx_tun_ipv4_src', byName.get('tun_src')!);
byName.set('nxm_nx_tun_ipv4_dst', byName.get('tun_dst')!);
byName.set('oxm_of_tunnel_id', byName.get('tun_id')!);
byName.set('oxm_of_ipv4_src', byName.get('ip_src')!);
byName.set('oxm_of_ipv4_dst', byName.get('ip_dst')!);

/** Field by any of its names (case-insensitive for NXM/OXM names), or undefined. */
export function fieldByName(name: string): Field | undefined {
  return byName.get(name) ?? byName.get(name.toLowerCase());
}

/** All-ones of the field's width. */
export function fieldMax(fl: Field): bigint {
  return (1n << BigInt(fl.bits)) - 1n;
}

/** Reads the field from words (a key, a match value or a mask). */
export function getField(words: Uint32Array, fl: Field): bigint {
  let v = 0n;
  for (let i = 0; i < fl.nwords; i++) v = (v << 32n) | BigInt(words[fl.word + i]!);
  return (v >> BigInt(fl.shift)) & fieldMax(fl);
}

/** Writes the field's bits into words, leaving the other bits of those words alone. */
export function setField(words: Uint32Array, fl: Field, value: bigint): void {
  const sh = BigInt(fl.shift);
  const m = fieldMax(fl) << sh;
  let cur = 0n;
  for (let i = 0; i < fl.nwords; i++) cur = (cur << 32n) | BigInt(words[fl.word + i]!);
  cur = (cur & ~m) | ((value << sh) & m);
  for (let i = fl.nwords - 1; i >= 0; i--) {
    words[fl.word + i] = Number(cur & 0xffffffffn);
    cur >>= 32n;
  }
}

/** Per-word masks of the field's bits, for the data path (one entry per key word). */
export function fieldWordMask(fl: Field): Uint32Array {
  const w = new Uint32Array(K.KEY_WORDS);
  setField(w, fl, fieldMax(fl));
  return w;
}
