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
RUN1_END[SHAPE_ALL] = K.KEY_WORDS;
for (let t = 0; t < 3; t++)
  for (let l3 = 0; l3 < 4; l3++)
    for (let l4 = 0; l4 < 4; l4++) {
      const s = shapeId(t, l3, l4);
      const ip = l3 === L3_IPV4 || l3 === L3_IPV6;
      RUN1_END[s] =
        t === TUNNEL_V6 ? K.TUN_IPV6_DST + 4 : t === TUNNEL_V4 ? K.TUN_ENCAP + 1 : ip ? L4_END : L2_END;
      if (l3 === L3_IPV6) {
        RUN2_START[s] = K.IPV6_SRC;
        RUN2_END[s] = l4 === L4_ICMPV6 ? K.ND_TLL + 2 : K.IPV6_LABEL + 1;
      } else if (l3 === L3_ARP) {
        RUN2_START[s] = K.ARP_OP;
        RUN2_END[s] = K.ARP_THA + 2;
      }
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
 * compares every word of the shape). One multiply and one xor-shift per word: each step is a bijection
 * of h for a given word, so keys that differ in one hashed word differ before the cut to 30 bits.
 */
export function hashShape(k: FlowKey, shape: number): number {
  let h = shape;
  h = mixRun(h, k, 0, K.NW_TOS);
  h = mixRun(h, k, K.NW_FRAG, K.TCP_FLAGS);
  // Words 8..18 of an L2-only shape are 0: hashing them there is harmless, and keeps one code path.
  h = mixRun(h, k, K.ICMP_TYPE, Math.max(RUN1_END[shape]!, L4_END));
  h = mixRun(h, k, RUN2_START[shape]!, RUN2_END[shape]!);
  return finish(h);
}

function mixRun(h: number, k: FlowKey, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    h = Math.imul(h ^ k[i]!, 0x9e3779b1);
    h ^= h >>> 15;
  }
  return h;
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff; // a Smi (see key.ts finish)
}

/** Do a (any words) and b[base, base + KEY_WORDS) agree on the words of `shape`? */
export function sameInShape(a: FlowKey, b: Uint32Array, base: number, shape: number): boolean {
  const end1 = RUN1_END[shape]!;
  for (let i = 0; i < end1; i++) if (a[i] !== b[base + i]) return false;
  const end2 = RUN2_END[shape]!;
  for (let i = RUN2_START[shape]!; i < end2; i++) if (a[i] !== b[base + i]) return false;
  return true;
}
