// Key shapes: which of the 76 key words an extracted key can have non-zero (cf. OVS miniflow's map).
//
// extractKey (extract.ts) writes only the words of the packet's protocol class and leaves the rest 0.
// The key layout (key.ts) puts the common classes in front, so a shape is at most two runs of words:
//
//   class                       run 1     run 2        words   (of 76)
//   IPv4 (any L4)               [0, 19)   –            19      in_port, L2, IPv4, L4
//   + IPv4 tunnel metadata      [0, 25)   –            25
//   + IPv6 tunnel metadata      [0, 33)   –            33
//   IPv6                        [0, 19)   [33, 42)     28      + ipv6_src/dst/label
//   IPv6 ICMPv6 (ND)            [0, 19)   [33, 50)     36      + nd_target/sll/tll
//   ARP                         [0, 8)    [50, 57)     15      L2 + arp_*
//   other                       [0, 8)    –            8       L2
//   (tunnel metadata extends run 1 to 25 or 33 for every class)
//
// Hashing and comparing 19–25 contiguous words instead of 76 indexed ones is what makes an exact-match
// cache hit cheap: the EMC keys an entry by (shape, words of the shape), and two keys of one shape are
// equal exactly when those words are, since every other word is 0 in both. Runs are supersets of what
// extraction writes for the class (a truncated header leaves words 0, which changes nothing).
// Shape 0 (SHAPE_ALL) is every word: for keys built any other way (tests, set_field on a copy), where
// nothing is known to be 0.

import type { FlowKey } from './key.ts';
import * as K from './key.ts';

export const SHAPE_ALL = 0;

const TUNNEL_NONE = 0;
const TUNNEL_V4 = 1;
const TUNNEL_V6 = 2;
const L3_OTHER = 0;
const L3_ARP = 1;
const L3_IPV4 = 2;
const L3_IPV6 = 3;
const L4_NONE = 0;
const L4_PORTS = 1;
const L4_ICMP = 2;
const L4_ICMPV6 = 3;
const N_SHAPES = 1 + 3 * 16;

/** Ends of the first run [0, RUN1_END[s]) and the second run [RUN2_START[s], RUN2_END[s]) of shape s. */
export const RUN1_END = new Uint8Array(N_SHAPES);
export const RUN2_START = new Uint8Array(N_SHAPES);
export const RUN2_END = new Uint8Array(N_SHAPES);

function shapeId(tunnel: number, l3: number, l4: number): number {
  return 1 + tunnel * 16 + l3 * 4 + l4;
}

const L4_END = K.ICMP_CODE + 1; // 19: in_port, L2, IPv4, L4
const L2_END = K.VLAN2_TCI + 1; // 8
const TUNNEL_END = K.TUN_ENCAP + 1; // 25: in_port, L2, IPv4, L4, IPv4 tunnel metadata
RUN1_END[SHAPE_ALL] = K.KEY_WORDS;
for (let t = 0; t < 3; t++)
  for (let l3 = 0; l3 < 4; l3++)
    for (let l4 = 0; l4 < 4; l4++) {
      const s = shapeId(t, l3, l4);
      const ip = l3 === L3_IPV4 || l3 === L3_IPV6;
      RUN1_END[s] =
        t === TUNNEL_V6 ? K.TUN_IPV6_DST + 4 : t === TUNNEL_V4 ? TUNNEL_END : ip ? L4_END : L2_END;
      if (l3 === L3_IPV6) {
        RUN2_START[s] = K.IPV6_SRC;
        RUN2_END[s] = l4 === L4_ICMPV6 ? K.ND_TLL + 2 : K.IPV6_LABEL + 1;
      } else if (l3 === L3_ARP) {
        RUN2_START[s] = K.ARP_OP;
        RUN2_END[s] = K.ARP_THA + 2;
      }
    }

/** One past the last word a key of `shape` can have non-zero (its runs' end). */
export function shapeEnd(shape: number): number {
  return Math.max(RUN1_END[shape]!, RUN2_END[shape]!);
}

/** Word indexes of each shape, ascending (tests and tools; the hot path uses the runs). */
export const SHAPE_WORDS: readonly Int32Array[] = Array.from({ length: N_SHAPES }, (_, s) => {
  const w: number[] = [];
  for (let i = 0; i < RUN1_END[s]!; i++) w.push(i);
  for (let i = RUN2_START[s]!; i < RUN2_END[s]!; i++) w.push(i);
  return Int32Array.from(w);
});

/**
 * The shape of a key made by extractKey from a packet whose tunnel metadata is IPv`tunIpVersion`
 * (p.tunIpVersion). Only valid for such keys: it reads the class from dl_type and nw_proto.
 */
export function shapeOf(k: FlowKey, tunIpVersion: number): number {
  const tunnel = k[K.TUN_ENCAP] === 0 ? TUNNEL_NONE : tunIpVersion === 6 ? TUNNEL_V6 : TUNNEL_V4;
  const t = k[K.DL_TYPE]!;
  const l3 =
    t === 0x0800 ? L3_IPV4 : t === 0x86dd ? L3_IPV6 : t === 0x0806 || t === 0x8035 ? L3_ARP : L3_OTHER;
  let l4 = L4_NONE;
  if (l3 === L3_IPV4 || l3 === L3_IPV6) {
    const proto = k[K.NW_PROTO]!;
    if (proto === 6 || proto === 17 || proto === 132) l4 = L4_PORTS;
    else if (proto === 1 && l3 === L3_IPV4) l4 = L4_ICMP;
    else if (proto === 58 && l3 === L3_IPV6) l4 = L4_ICMPV6;
  }
  return shapeId(tunnel, l3, l4);
}

/**
 * Hash of the flow words of `shape`, 30 bits: the EMC index and the packet's flow hash (the tunnel
 * source port, RFC 7348 §5). It leaves out nw_tos, nw_ttl and tcp_flags, which change within one flow
 * (ECN marks, SYN/ACK/FIN): hashing them gave one TCP connection several outer source ports, i.e.
 * several ECMP paths and reordering. Equal keys still hash equal, which is all the EMC needs (it
 * compares every word of the shape).
 *
 * Multilinear: Σ k[i] × M[i] mod 2^32 with a fixed odd multiplier per word, then the murmur3 finaliser.
 * The products are independent (16 multiplies the CPU overlaps; the chained lanes before this were
 * 16 dependent multiply/xor-shift steps, ≈ 17 ns of the 100k-flow bench's ≈ 155). An odd multiplier is
 * invertible mod 2^32, so keys that differ in one hashed word have different sums, and the finaliser
 * is a bijection that spreads every bit into the low 30 kept. Words 8..18 of an L2-only shape are 0:
 * hashing them there is harmless (one code path).
 */
export function hashShape(k: FlowKey, shape: number): number {
  let h =
    (Math.imul(shape + 1, 0x9e3779b1) +
      Math.imul(k[0]!, 0x7984a8ab) +
      Math.imul(k[1]!, 0x71e273a9) +
      Math.imul(k[2]!, 0x081c5253) +
      Math.imul(k[3]!, 0x9fb93535 | 0) +
      Math.imul(k[4]!, 0xabd2d9f3 | 0) +
      Math.imul(k[5]!, 0xf93fe42f | 0) +
      Math.imul(k[6]!, 0x14be09ab) +
      Math.imul(k[7]!, 0xdb149e47 | 0)) |
    0;
  h =
    (h +
      Math.imul(k[K.NW_SRC]!, 0x4a95902b) +
      Math.imul(k[K.NW_DST]!, 0x5323451b) +
      Math.imul(k[K.NW_PROTO]!, 0xa3ae6e69 | 0) +
      Math.imul(k[K.NW_FRAG]!, 0x3994693f) +
      Math.imul(k[K.TP_SRC]!, 0xa1dbf721 | 0) +
      Math.imul(k[K.TP_DST]!, 0xa061ae15 | 0) +
      Math.imul(k[K.ICMP_TYPE]!, 0x4b6a5551) +
      Math.imul(k[K.ICMP_CODE]!, 0x1aa615a9)) |
    0;
  // Tunnel metadata (the rest of run 1), then run 2, with the table's multipliers.
  const end1 = RUN1_END[shape]!;
  for (let i = L4_END; i < end1; i++) h = (h + Math.imul(k[i]!, MUL[i]!)) | 0;
  const end2 = RUN2_END[shape]!;
  for (let i = RUN2_START[shape]!; i < end2; i++) h = (h + Math.imul(k[i]!, MUL[i]!)) | 0;
  return finish(h);
}

/** Odd multipliers per key word (random, fixed: the hash must not change between runs or hosts). */
const MUL = Int32Array.from([
  0x7984a8ab, 0x71e273a9, 0x081c5253, 0x9fb93535, 0xabd2d9f3, 0xf93fe42f, 0x14be09ab, 0xdb149e47, 0x4a95902b,
  0x5323451b, 0xa3ae6e69, 0x3994693f, 0xa1dbf721, 0xa061ae15, 0x4b6a5551, 0x1aa615a9, 0x687b253b, 0x5856c32b,
  0x3f137b71, 0x8b3a1535, 0xc9cf0801, 0x20dd5387, 0x89328293, 0xa7213dff, 0xf4a02d93, 0x919e9bc7, 0xda80a0bd,
  0x67d1191f, 0x64cd1715, 0xb14cf519, 0x5e4ef10b, 0xfd95588d, 0x5f0f2c03, 0x344d04cb, 0x7e4d173d, 0xd561cab7,
  0x13311e91, 0x929e04e3, 0xb9f0920f, 0x3c85b931, 0xb643edf5, 0xc5e1fb5b, 0xca9f1daf, 0x1b0b5a93, 0x5a0ac811,
  0xf86c67b3, 0x9a323eaf, 0xfece6b99, 0x65ee28df, 0x419274d5, 0x869b7c3d, 0x5da24107, 0x429fdbf7, 0x0954549d,
  0x6a9df49d, 0x4bcee26b, 0x073391a5, 0x2d53b107, 0x757f3125, 0x56c8a7f9, 0x2e67dbe9, 0x220425dd, 0x22ae0903,
  0x3623ac61, 0xf0088cfd, 0x9f642b79, 0x57807cdb, 0xcae33aff, 0xe35d6c11, 0xd3655fc9, 0xc7b13aa9, 0x76e2507b,
  0x9edb8d93, 0xc5c30e11, 0x56936633, 0x671b5a97,
]);

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff; // a Smi (see key.ts finish)
}

/**
 * Do a (any words) and b[base, base + KEY_WORDS) agree on the words of `shape`? Words 0..18 are compared
 * for every shape (a shorter run 1 has zeros there in both keys of that shape), branch-free: the
 * xor-or of 19 independent pairs overlaps in the CPU, where a loop was a compare and a branch per word.
 */
export function sameInShape(a: FlowKey, b: Uint32Array, base: number, shape: number): boolean {
  const d =
    (a[0]! ^ b[base]!) |
    (a[1]! ^ b[base + 1]!) |
    (a[2]! ^ b[base + 2]!) |
    (a[3]! ^ b[base + 3]!) |
    (a[4]! ^ b[base + 4]!) |
    (a[5]! ^ b[base + 5]!) |
    (a[6]! ^ b[base + 6]!) |
    (a[7]! ^ b[base + 7]!) |
    (a[8]! ^ b[base + 8]!) |
    (a[9]! ^ b[base + 9]!) |
    (a[10]! ^ b[base + 10]!) |
    (a[11]! ^ b[base + 11]!) |
    (a[12]! ^ b[base + 12]!) |
    (a[13]! ^ b[base + 13]!) |
    (a[14]! ^ b[base + 14]!) |
    (a[15]! ^ b[base + 15]!) |
    (a[16]! ^ b[base + 16]!) |
    (a[17]! ^ b[base + 17]!) |
    (a[18]! ^ b[base + 18]!);
  if (d !== 0) return false;
  const end1 = RUN1_END[shape]!;
  let i = L4_END;
  // IPv4 tunnel metadata (tun_id, tun_src, tun_dst, tun_flags, encap): every decapsulated key has it.
  if (end1 >= TUNNEL_END) {
    const t =
      (a[19]! ^ b[base + 19]!) |
      (a[20]! ^ b[base + 20]!) |
      (a[21]! ^ b[base + 21]!) |
      (a[22]! ^ b[base + 22]!) |
      (a[23]! ^ b[base + 23]!) |
      (a[24]! ^ b[base + 24]!);
    if (t !== 0) return false;
    i = TUNNEL_END;
  }
  for (; i < end1; i++) if (a[i] !== b[base + i]) return false;
  const end2 = RUN2_END[shape]!;
  for (let i = RUN2_START[shape]!; i < end2; i++) if (a[i] !== b[base + i]) return false;
  return true;
}
