// The flow key: every header field a flow can match, in a fixed layout of 32-bit words inside one
// preallocated Uint32Array (cf. OVS `struct flow` / miniflow). Multi-word fields are big-endian across
// words: word 0 holds the most significant bits. A MAC is 2 words (16 high bits + 32 low bits), an IPv6
// address 4 words, a 64-bit tun_id / metadata 2 words. Unused fields stay 0 (as OVS leaves them zero).
//
// A key extracted from a decapsulated packet holds the tunnel metadata and the *inner* headers together,
// so one lookup classifies the packet (DESIGN.md: no outer-then-inner second lookup).

// The order puts what most packets carry first: in_port, L2, IPv4 and L4 are words 0..18, so a
// UDP/IPv4 key's non-zero words are one run [0, 19), and [0, 25) with IPv4 tunnel metadata. Hashing and
// comparing a run needs no index table (key-shape.ts). Fields that share a prerequisite stay adjacent
// (nw_src..nw_dst, nw_proto..nw_frag, ipv6_src..ipv6_label, arp_op..arp_tha; match.ts relies on it).
export const IN_PORT = 0;
export const DL_DST = 1; //        2 words
export const DL_SRC = 3; //        2 words
export const DL_TYPE = 5; //       0x05ff for 802.3 frames without an ethertype (OVS FLOW_DL_TYPE_NONE)
export const VLAN_TCI = 6; //      outermost tag: PCP(3) | CFI(1)=present | VID(12); 0 = untagged
export const VLAN2_TCI = 7; //     second tag (QinQ inner), same encoding
export const NW_SRC = 8; //        IPv4 source
export const NW_DST = 9;
export const NW_PROTO = 10; //     IPv4 protocol / IPv6 next header after extension headers
export const NW_TOS = 11; //       the whole TOS / traffic-class byte: DSCP = >>2, ECN = &3
export const NW_TTL = 12;
export const NW_FRAG = 13; //      FRAG_ANY | FRAG_LATER
export const TP_SRC = 14; //       TCP / UDP / SCTP source port
export const TP_DST = 15;
export const TCP_FLAGS = 16; //    low 12 bits of the TCP data-offset/flags word (NS..FIN)
export const ICMP_TYPE = 17; //    ICMPv4 or ICMPv6
export const ICMP_CODE = 18;
export const TUN_ID = 19; //       2 words (VXLAN/Geneve VNI in the low 24 bits; STT context is all 64)
export const TUN_SRC = 21; //      IPv4 outer source of a received tunnel packet (or to set before output)
export const TUN_DST = 22;
export const TUN_FLAGS = 23; //    bit 0 = OAM (VXLAN-GPE / Geneve O bit), as OVS FLOW_TNL_F_OAM
export const TUN_ENCAP = 24; //    ENCAP_* of src/packet/packet.ts; 0 = not from a tunnel
export const TUN_IPV6_SRC = 25; // 4 words
export const TUN_IPV6_DST = 29; // 4 words
export const IPV6_SRC = 33; //     4 words
export const IPV6_DST = 37; //     4 words
export const IPV6_LABEL = 41; //   20 bits
export const ND_TARGET = 42; //    4 words
export const ND_SLL = 46; //       2 words
export const ND_TLL = 48; //       2 words
export const ARP_OP = 50;
export const ARP_SPA = 51;
export const ARP_TPA = 52;
export const ARP_SHA = 53; //      2 words
export const ARP_THA = 55; //      2 words
export const METADATA = 57; //     2 words
export const REG0 = 59; //         16 words: reg0..reg15 (xreg N = reg 2N,2N+1; xxreg N = reg 4N..4N+3)
export const N_REGS = 16;
export const PKT_MARK = 75;
/** Number of 32-bit words in a key. */
export const KEY_WORDS = 76;

/** nw_frag bits (OVS FLOW_NW_FRAG_ANY / _LATER). */
export const FRAG_ANY = 1; //   a fragment (MF set or offset != 0)
export const FRAG_LATER = 2; // a fragment with offset != 0 (no L4 header)
/** 802.1Q TCI "present" bit, as OVS VLAN_CFI and OF1.3 OFPVID_PRESENT (bit 12). */
export const VLAN_CFI = 0x1000;
/** dl_type of frames that carry a length, not an ethertype (OVS FLOW_DL_TYPE_NONE). */
export const DL_TYPE_NONE = 0x05ff;

/** A flow key (or a mask over one): KEY_WORDS words. */
export type FlowKey = Uint32Array;

export function newKey(): FlowKey {
  return new Uint32Array(KEY_WORDS);
}

// Murmur3-style word mixing (the constants of MurmurHash3_x86_32, as OVS hash_add/hash_finish):
// fast, avalanches well enough for power-of-two bucket indexes.
function mix(h: number, w: number): number {
  w = Math.imul(w, 0xcc9e2d51);
  w = (w << 15) | (w >>> 17);
  w = Math.imul(w, 0x1b873593);
  h ^= w;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, bytes: number): number {
  h ^= bytes;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  // 30 bits: V8 keeps integers below 2^30 unboxed (Smi, with pointer compression), so hashes used as
  // Map keys or returned from functions never allocate.
  return h & 0x3fffffff;
}

/** Hash of a whole key (EMC index), 30 bits. */
export function hashKey(k: FlowKey, basis = 0): number {
  let h = basis;
  for (let i = 0; i < KEY_WORDS; i++) h = mix(h, k[i]!);
  return finish(h, KEY_WORDS * 4);
}

/**
 * Hash of `k & mask` over the words listed in `words` (a subtable's non-zero mask words): the tuple-space
 * classifier hashes only what its mask keeps, so two keys that differ only in wildcarded bits collide.
 */
export function hashMasked(k: FlowKey, mask: FlowKey, words: Int32Array, basis = 0): number {
  let h = basis;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    h = mix(h, k[w]! & mask[w]!);
  }
  return finish(h, words.length * 4);
}

export function keyEquals(a: FlowKey, b: FlowKey): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (a[i] !== b[i]) return false;
  return true;
}
