// IPv6 fragmentation at the source, RFC 8200 §4.5.
//
//   original:   | unfragmentable part | fragmentable part ............................... |
//                 IPv6 + HbH + … + Routing    (ext headers after Routing, upper-layer header, data)
//   fragment k: | unfragmentable part | Fragment header | fragmentable bytes [k·C, (k+1)·C) |
//
//   Fragment header (8 B):  Next Header | Reserved | Fragment Offset (13, ×8) | Res (2) | M | Identification (32)
//
// The unfragmentable part is the IPv6 header plus every extension header up to and including the
// last Hop-by-Hop or Routing header (RFC 8200 §4.5: "…up to and including the Routing header if
// present, else the Hop-by-Hop Options header if present, else no extension headers"). Destination
// Options before a Routing header are therefore unfragmentable, those after it fragmentable. The Next
// Header byte that pointed at the first fragmentable header now says 44 and the Fragment header
// carries the old value. Per-fragment payload C = floor((mtu − unfragmentable − 8) / 8) × 8; the
// upper-layer header lands in the first fragment whenever C covers it (RFC 7112 requires it; a
// header chain longer than C gives CHAIN_TOO_LONG rather than fragments a receiver must drop).
// Payload Length of each fragment = unfragmentable − 40 + 8 + its slice. The Identification comes
// from the caller (RFC 7739: unpredictable). IPv6 links have MTU ≥ 1280 (RFC 8200 §5); smaller
// values are accepted here for tests of many-fragment cases.
import type { Batch } from '../packet/batch.ts';
import type { Packet } from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { setU16, setU32, u16 } from '../wire/bytes.ts';
import * as ipProto from '../wire/ip-proto.ts';
import { copyBytes } from './csum-fast.ts';
import { FITS, FRAGMENTED, MALFORMED, MTU_TOO_SMALL, NO_BUFFERS } from './ipv4-fragment.ts';

export { FITS, FRAGMENTED, MALFORMED, MTU_TOO_SMALL, NO_BUFFERS };
export const CHAIN_TOO_LONG = 6;

export const HEADER_LEN = 40;
export const FRAG_HEADER_LEN = 8;
export const MIN_MTU = 1280;

/**
 * Walks the extension headers of the IPv6 packet at l3 (payload ends at `end`). Writes into `out`:
 * [0] unfragmentable length, [1] offset of the Next Header byte that names the first fragmentable
 * header, [2] offset of the upper-layer header (or -1 when the chain does not end inside the packet),
 * [3] the upper-layer protocol, [4] offset of a Fragment header or -1. Returns false on a malformed chain.
 */
export function walkChain(b: Uint8Array, l3: number, end: number, out: Int32Array): boolean {
  let nh = b[l3 + 6]!;
  let o = l3 + HEADER_LEN;
  out[0] = HEADER_LEN;
  out[1] = l3 + 6;
  out[2] = -1;
  out[3] = nh;
  out[4] = -1;
  for (let hops = 0; hops < 16; hops++) {
    if (nh === ipProto.FRAGMENT) {
      if (o + FRAG_HEADER_LEN > end) return false;
      if (out[4]! < 0) out[4] = o;
      // A non-first fragment holds no headers to walk: what follows is data.
      if ((u16(b, o + 2) & 0xfff8) !== 0) return true;
      nh = b[o]!;
      o += FRAG_HEADER_LEN;
      continue;
    }
    if (nh === ipProto.AH || ipProto.isGenericExtHeader(nh)) {
      if (o + 2 > end) return true; // chain runs past the data: no upper layer found
      const len = nh === ipProto.AH ? (b[o + 1]! + 2) * 4 : (b[o + 1]! + 1) * 8;
      if (o + len > end) return true;
      if ((nh === ipProto.HOPOPT || nh === ipProto.ROUTING) && out[4]! < 0) {
        out[0] = o + len - l3;
        out[1] = o;
      }
      nh = b[o]!;
      o += len;
      continue;
    }
    out[2] = o;
    out[3] = nh;
    return true;
  }
  return false;
}

/** Bytes of the upper-layer header that must be in the first fragment (Linux ipv6frag_thdr_truncated). */
export function upperMin(proto: number): number {
  if (proto === ipProto.TCP) return 20;
  if (proto === ipProto.UDP) return 8;
  if (proto === ipProto.ICMPV6) return 8;
  return proto === ipProto.NONE ? 0 : 1;
}

const chain = new Int32Array(5);

/** Fragments the IPv6 packet at pkt.l3 (L2 = [pkt.start, pkt.l3), copied onto each fragment). */
export function fragment6(pkt: Packet, mtu: number, id: number, pool: Pool, out: Batch): number {
  const b = pkt.buf;
  const l3 = pkt.l3;
  if (l3 < pkt.start || pkt.end - l3 < HEADER_LEN || b[l3]! >>> 4 !== 6) return MALFORMED;
  const plen = u16(b, l3 + 4);
  const end = l3 + HEADER_LEN + plen;
  if (plen === 0 || end > pkt.end) return MALFORMED;
  if (HEADER_LEN + plen <= mtu) return FITS;
  if (!walkChain(b, l3, end, chain) || chain[4]! >= 0) return MALFORMED;
  const unfrag = chain[0]!;
  const nhAt = chain[1]!;
  const l2len = l3 - pkt.start;
  const room = pool.slotSize - pool.headroom - l2len;
  const cap = (Math.min(mtu, room) - unfrag - FRAG_HEADER_LEN) & ~7;
  if (cap < 8) return MTU_TOO_SMALL;
  // RFC 7112: the whole header chain up to and including the upper-layer header in fragment 0.
  const upper = chain[2]!;
  if (upper >= 0 && upper + upperMin(chain[3]!) - (l3 + unfrag) > cap) return CHAIN_TOO_LONG;
  const flen = end - (l3 + unfrag);
  const n = Math.ceil(flen / cap);
  if (pool.available < n || out.capacity - out.count < n) return NO_BUFFERS;
  const firstNh = b[nhAt]!;
  for (let k = 0, done = 0; k < n; k++) {
    const p = pool.alloc()!;
    const chunk = Math.min(cap, flen - done);
    const s = p.start;
    const ip = s + l2len;
    const ob = p.buf;
    copyBytes(b, pkt.start, ob, s, l2len + unfrag);
    ob[nhAt - l3 + ip] = ipProto.FRAGMENT;
    const fh = ip + unfrag;
    ob[fh] = firstNh;
    ob[fh + 1] = 0;
    setU16(ob, fh + 2, done | (done + chunk < flen ? 1 : 0));
    setU32(ob, fh + 4, id);
    copyBytes(b, l3 + unfrag + done, ob, fh + FRAG_HEADER_LEN, chunk);
    setU16(ob, ip + 4, unfrag - HEADER_LEN + FRAG_HEADER_LEN + chunk);
    p.end = fh + FRAG_HEADER_LEN + chunk;
    p.l2 = s;
    p.l3 = ip;
    p.l4 = -1;
    p.inPort = pkt.inPort;
    p.flowHash = pkt.flowHash;
    out.push(p);
    done += chunk;
  }
  return FRAGMENTED;
}
