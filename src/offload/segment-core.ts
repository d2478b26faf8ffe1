// The one loop that cuts a superframe into wire-size packets, shared by TCP segmentation (tso.ts), UDP
// GSO (udp-gso.ts) and tunnel GSO (tunnel-gso.ts); its per-segment header rules (fixSegment) also serve
// the USO packer (uso-pack.ts), which cuts into one buffer instead. Behaviour follows Linux
// (encapsulations.md §7.1, §8):
//
//   segment k (0 ≤ k < n, n = ⌈P / mss⌉) = copy of the headers [start, payload) + payload bytes
//   [k·mss, min(P, (k+1)·mss)); per segment:
//   - inner IPv4: total length, ID = ID₀ + k (mod 2^16; inet_gso_segment; ID₀ on all with FIXED_ID and
//     DF, as SKB_GSO_TCP_FIXEDID), header checksum;
//     inner IPv6: payload length.
//   - TCP (tcp_gso_segment): seq = seq₀ + k·mss (mod 2^32); FIN and PSH only on the last segment;
//     CWR only on the first; checksum recomputed, or left partial (pseudo-header seeded) when the
//     output port completes checksums.
//   - UDP (__udp_gso_segment): UDP length and checksum per datagram (0 → 0xffff).
//   - outer headers of a tunnel (__skb_udp_tunnel_segment, gre_gso_segment): outer IPv4 length, ID₀ + k,
//     header checksum (IPv6: payload length); outer UDP length; outer UDP checksum zero when it was zero,
//     else computed from headers only (LCO, csum-complete.ts); GRE checksum likewise.
//
// Copying: headers and payload chunk are memmoved (csum-fast.ts copyBytes: copyWithin inside one slab,
// else Node's C++ buffer copy; no view is allocated), and the payload sum is the shared wire/checksum.ts `sum`. Each segment's start is nudged by 0–3 bytes so its payload
// keeps the source's alignment mod 4, which keeps the word-wise sums on their aligned fast path.

import type { Batch } from '../packet/batch.ts';
import { CSUM_VALID, FIXED_ID, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { setU16, setU32, u16, u32 } from '../wire/bytes.ts';
import { fold, sum } from '../wire/checksum.ts';
import * as ipp from '../wire/ip-proto.ts';
import { lcoOuterUdp, pseudoFor, setIpv4Checksum } from './csum-complete.ts';
import { copySum } from './csum-fast.ts';
import { type Layout, TCP_CWR, TCP_FIN, TCP_PSH } from './frame-layout.ts';

/** Outer headers of a tunnel superframe (absolute offsets in the source packet). */
export interface Outer {
  present: boolean;
  l3: number;
  ipVersion: number;
  ipHdrLen: number;
  /** UDP header (VXLAN, GPE, Geneve) or GRE header. */
  l4: number;
  isGre: boolean;
  /** UDP: checksum field non-zero in the input → compute per segment (LCO); zero → keep zero. */
  udpCsum: boolean;
  /** GRE with the C bit: checksum per segment over GRE header + payload (RFC 2784 §2.5). */
  greCsum: boolean;
}

export function newOuter(): Outer {
  return {
    present: false,
    l3: 0,
    ipVersion: 0,
    ipHdrLen: 0,
    l4: 0,
    isGre: false,
    udpCsum: false,
    greCsum: false,
  };
}

/** What every segment of one superframe shares, read once from its headers (readFields). */
export interface SegmentFields {
  isTcp: boolean;
  l4Proto: number;
  ipVersion: number;
  ipHdrLen: number;
  /** L4 checksum field: 16 (TCP) or 6 (UDP). */
  csumOffset: number;
  mss: number;
  seq0: number;
  flags0: number;
  id0: number;
  /** IPv4 ID step per segment: 1, or 0 for FIXED_ID on a DF datagram. */
  idStep: number;
}

export function newFields(): SegmentFields {
  return {
    isTcp: false,
    l4Proto: 0,
    ipVersion: 0,
    ipHdrLen: 0,
    csumOffset: 0,
    mss: 0,
    seq0: 0,
    flags0: 0,
    id0: 0,
    idStep: 1,
  };
}

const fields = newFields();

/** Fills f from src's headers at `inner` (the walked layer to cut), cut at `mss`; returns f. */
export function readFields(src: Packet, inner: Layout, mss: number, f: SegmentFields): SegmentFields {
  const b = src.buf;
  f.isTcp = inner.l4Proto === ipp.TCP;
  f.l4Proto = inner.l4Proto;
  f.ipVersion = inner.ipVersion;
  f.ipHdrLen = inner.ipHdrLen;
  f.csumOffset = f.isTcp ? 16 : 6;
  f.mss = mss;
  f.seq0 = f.isTcp ? u32(b, inner.l4 + 4) : 0;
  f.flags0 = f.isTcp ? b[inner.l4 + 13]! : 0;
  f.id0 = inner.ipVersion === 4 ? u16(b, inner.l3 + 4) : 0;
  // FIXED_ID only for DF datagrams (RFC 6864 §4.1: only atomic datagrams may repeat an ID).
  f.idStep = (src.flags & FIXED_ID) !== 0 && inner.ipVersion === 4 && (b[inner.l3 + 6]! & 0x40) !== 0 ? 0 : 1;
  return f;
}

/**
 * The per-segment header fields of segment k of n, whose headers (a copy of the superframe's) are at
 * l3 / l4 in db and whose payload [pay, end) sums to payloadSum (unused when partial): IP length and
 * ID + header checksum, TCP seq and flags or UDP length, and the L4 checksum (or its pseudo-header seed).
 */
export function fixSegment(
  db: Uint8Array,
  l3: number,
  l4: number,
  pay: number,
  end: number,
  k: number,
  n: number,
  f: SegmentFields,
  payloadSum: number,
  partial: boolean,
): void {
  const l4len = end - l4;
  if (f.ipVersion === 4) {
    setU16(db, l3 + 2, end - l3);
    setU16(db, l3 + 4, (f.id0 + k * f.idStep) & 0xffff);
    setIpv4Checksum(db, l3, f.ipHdrLen);
  } else {
    setU16(db, l3 + 4, end - l3 - 40);
  }
  if (f.isTcp) {
    setU32(db, l4 + 4, (f.seq0 + k * f.mss) >>> 0);
    let fl = f.flags0;
    if (k < n - 1) fl &= ~(TCP_FIN | TCP_PSH);
    if (k > 0) fl &= ~TCP_CWR;
    db[l4 + 13] = fl;
  } else {
    setU16(db, l4 + 4, l4len);
  }
  const pseudo = pseudoFor(db, l3, f.l4Proto, l4len);
  const at = l4 + f.csumOffset;
  if (partial) {
    setU16(db, at, fold(pseudo));
  } else {
    setU16(db, at, 0);
    const c = ~fold(sum(db, l4, pay, pseudo) + payloadSum) & 0xffff;
    setU16(db, at, c === 0 && !f.isTcp ? 0xffff : c);
  }
}

export const CUT_OK = 0;
export const CUT_NO_BUFFERS = 1;
export const CUT_TOO_BIG = 2;

/**
 * Cuts src into n segments pushed onto out. The caller has validated the layout and checked
 * n ≤ out's free space. Returns CUT_OK, or CUT_TOO_BIG (segment larger than a pool slot) /
 * CUT_NO_BUFFERS (pool empty) with nothing pushed and every slot taken so far given back.
 * partial: leave L4 checksums partial (NEEDS_CSUM, pseudo-header seeded) for a port that fills them in.
 */
export function cut(
  src: Packet,
  inner: Layout,
  outer: Outer,
  mss: number,
  n: number,
  pool: Pool,
  out: Batch,
  partial: boolean,
): number {
  const b = src.buf;
  const hdrLen = inner.payload - src.start;
  const payloadLen = inner.ipEnd - inner.payload;
  const room = pool.slotSize - pool.headroom - 3;
  if (hdrLen + Math.min(mss, payloadLen) > room) return CUT_TOO_BIG;
  if (pool.available < n) {
    pool.allocFailures++;
    return CUT_NO_BUFFERS;
  }
  const f = readFields(src, inner, mss, fields);
  const outerId0 = outer.present && outer.ipVersion === 4 ? u16(b, outer.l3 + 4) : 0;
  for (let k = 0; k < n; k++) {
    const d = pool.alloc()!;
    const chunkStart = inner.payload + k * mss;
    const chunk = Math.min(mss, inner.ipEnd - chunkStart);
    // Nudge the start so that dst payload ≡ src payload (mod 4) in absolute buffer addresses.
    const want = (b.byteOffset + chunkStart - (d.buf.byteOffset + d.start + hdrLen)) & 3;
    d.start += want;
    d.end = d.start + hdrLen + chunk;
    const db = d.buf;
    const delta = d.start - src.start;
    copySum(b, src.start, db, d.start, hdrLen, false);
    const l3 = inner.l3 + delta;
    const l4 = inner.l4 + delta;
    const pay = inner.payload + delta;
    const payloadSum = copySum(b, chunkStart, db, pay, chunk, !partial);
    fixSegment(db, l3, l4, pay, d.end, k, n, f, payloadSum, partial);
    if (partial) {
      d.flags = NEEDS_CSUM;
      d.csumStart = l4;
      d.csumOffset = f.csumOffset;
    } else {
      d.flags = CSUM_VALID;
    }
    if (outer.present) fixOuter(db, d, outer, delta, k, outerId0, l3, l4, f.l4Proto);
    d.l2 = d.start; // the walk always starts with Ethernet at src.start
    d.l3 = outer.present ? outer.l3 + delta : l3;
    d.l4 = outer.present ? outer.l4 + delta : l4;
    if (outer.present) {
      d.innerL2 = inner.l2 >= 0 ? inner.l2 + delta : -1;
      d.innerL3 = l3;
      d.innerL4 = l4;
    }
    copyMeta(src, d);
    out.push(d);
  }
  return CUT_OK;
}

function fixOuter(
  db: Uint8Array,
  d: Packet,
  outer: Outer,
  delta: number,
  k: number,
  outerId0: number,
  innerL3: number,
  innerL4: number,
  innerProto: number,
): void {
  const l3 = outer.l3 + delta;
  const l4 = outer.l4 + delta;
  if (outer.ipVersion === 4) {
    setU16(db, l3 + 2, d.end - l3);
    setU16(db, l3 + 4, (outerId0 + k) & 0xffff);
    setIpv4Checksum(db, l3, outer.ipHdrLen);
  } else {
    setU16(db, l3 + 4, d.end - l3 - 40);
  }
  if (!outer.isGre) {
    setU16(db, l4 + 4, d.end - l4);
    if (outer.udpCsum) lcoOuterUdp(db, l3, l4, innerL3, innerL4, innerProto, d.end);
    else setU16(db, l4 + 6, 0);
  } else if (outer.greCsum) {
    // RFC 2784 §2.5: checksum over the GRE header and payload, no pseudo-header; LCO as for UDP.
    setU16(db, l4 + 4, 0);
    const innerRest = ~fold(pseudoFor(db, innerL3, innerProto, d.end - innerL4)) & 0xffff;
    setU16(db, l4 + 4, ~fold(sum(db, l4, innerL4) + innerRest) & 0xffff);
  }
}

/** Per-packet metadata a segment inherits (in-port, hash, tunnel metadata); offload state is per segment. */
function copyMeta(src: Packet, d: Packet): void {
  d.inPort = src.inPort;
  d.flowHash = src.flowHash;
  d.flags &= ~SUPERFRAME;
  d.tunEncap = src.tunEncap;
  d.tunIdHi = src.tunIdHi;
  d.tunIdLo = src.tunIdLo;
  d.tunFlags = src.tunFlags;
  d.tunTos = src.tunTos;
  d.tunTtl = src.tunTtl;
  d.tunSrcPort = src.tunSrcPort;
  d.tunDstPort = src.tunDstPort;
  d.tunIpVersion = src.tunIpVersion;
  if (src.tunIpVersion !== 0) {
    d.tunSrc.set(src.tunSrc);
    d.tunDst.set(src.tunDst);
  }
  d.traced = src.traced;
}
