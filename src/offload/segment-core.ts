// The one loop that cuts a superframe into wire-size packets, shared by TCP segmentation (tso.ts), UDP
// GSO (udp-gso.ts) and tunnel GSO (tunnel-gso.ts). Behaviour follows Linux (encapsulations.md §7.1, §8):
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
// else one short-lived subarray view — the only allocation besides the pool slots), and the payload
// sum is the shared wire/checksum.ts `sum`. Each segment's start is nudged by 0–3 bytes so its payload
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
  const isTcp = inner.l4Proto === ipp.TCP;
  const csumOff = isTcp ? 16 : 6;
  const seq0 = isTcp ? u32(b, inner.l4 + 4) : 0;
  const flags0 = isTcp ? b[inner.l4 + 13]! : 0;
  const id0 = inner.ipVersion === 4 ? u16(b, inner.l3 + 4) : 0;
  // FIXED_ID only for DF datagrams (RFC 6864 §4.1: only atomic datagrams may repeat an ID).
  const idStep =
    (src.flags & FIXED_ID) !== 0 && inner.ipVersion === 4 && (b[inner.l3 + 6]! & 0x40) !== 0 ? 0 : 1;
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
    const l4len = d.end - l4;
    if (inner.ipVersion === 4) {
      setU16(db, l3 + 2, d.end - l3);
      setU16(db, l3 + 4, (id0 + k * idStep) & 0xffff);
      setIpv4Checksum(db, l3, inner.ipHdrLen);
    } else {
      setU16(db, l3 + 4, d.end - l3 - 40);
    }
    if (isTcp) {
      setU32(db, l4 + 4, (seq0 + k * mss) >>> 0);
      let f = flags0;
      if (k < n - 1) f &= ~(TCP_FIN | TCP_PSH);
      if (k > 0) f &= ~TCP_CWR;
      db[l4 + 13] = f;
    } else {
      setU16(db, l4 + 4, l4len);
    }
    const pseudo = pseudoFor(db, l3, inner.l4Proto, l4len);
    if (partial) {
      setU16(db, l4 + csumOff, fold(pseudo));
      d.flags = NEEDS_CSUM;
      d.csumStart = l4;
      d.csumOffset = csumOff;
    } else {
      setU16(db, l4 + csumOff, 0);
      const c = ~fold(sum(db, l4, pay, pseudo) + payloadSum) & 0xffff;
      setU16(db, l4 + csumOff, c === 0 && !isTcp ? 0xffff : c);
      d.flags = CSUM_VALID;
    }
    if (outer.present) fixOuter(db, d, outer, delta, k, outerId0, l3, l4, inner.l4Proto);
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
