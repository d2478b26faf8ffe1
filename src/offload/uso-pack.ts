// Transmit side of tunnel USO (the inverse of uso-coalesce.ts): a guest TCP (or UDP_L4) superframe is
// cut straight into the payload of an outer UDP GSO superframe — back-to-back chunks, each a tunnel
// header (`prefix`) and one complete inner segment:
//
//   before:  [inner Eth/IP/TCP headers, hdrLen][data₀ data₁ … dataₙ₋₁]           (data = mss, last ≤ mss)
//   after:   [prefix][headers₀][data₀] [prefix][headers₁][data₁] … ;  chunk = prefix + hdrLen + mss
//
// Every segment's headers are the superframe's with segment-core.ts fixSegment applied (the kernel's TSO
// rules: IP length, ID₀ + k, header checksum; seq₀ + k·mss; FIN/PSH on the last only, CWR on the first
// only) and a complete L4 checksum: UDP GSO finishes only the outer UDP checksum. The payload is moved
// once (memmove: copyWithin in one slab, Node's C++ copy across slabs), no packet is allocated.
//
// In place: with dst = src.buf and at = src.start − prefix length, chunk 0's headers and data stay
// where they are and chunk k's data moves right by k·(prefix + hdrLen). Chunks are written last first,
// and each chunk's data before its headers, so nothing is overwritten before it is read:
//   chunk k ≥ 1 starts at payload + k·mss + (k − 1)·(prefix + hdrLen) ≥ payload + k·mss,
// i.e. at or after the end of data₀ … dataₖ₋₁ (still to be read), while the headers it copies from
// [src.start, payload) are rewritten only by chunk 0, the last one written.
import type { Packet } from '../packet/packet.ts';
import { sum } from '../wire/checksum.ts';
import { copyBytes } from './csum-fast.ts';
import type { Layout } from './frame-layout.ts';
import { fixSegment, newFields, readFields } from './segment-core.ts';

const fields = newFields();

/** Bytes of one full chunk: prefix + the superframe's headers (from src.start to lay.payload) + mss. */
export function chunkLen(src: Packet, lay: Layout, prefixLen: number, mss: number): number {
  return prefixLen + (lay.payload - src.start) + mss;
}

/**
 * Writes segments [from, to) of the n-segment superframe src (walked layer `lay`, admitted by
 * gso.ts Segmenter.admit, cut at `mss`) into dst as chunks, segment `from`'s chunk starting at `at`;
 * each chunk starts with prefix[prefixAt, prefixAt + prefixLen). Returns the end of the last chunk.
 * dst may be src.buf only in place (at = src.start − prefixLen, from = 0), after any later groups
 * were written elsewhere.
 */
export function packSegments(
  src: Packet,
  lay: Layout,
  mss: number,
  n: number,
  from: number,
  to: number,
  prefix: Uint8Array,
  prefixAt: number,
  prefixLen: number,
  dst: Uint8Array,
  at: number,
): number {
  const f = readFields(src, lay, mss, fields);
  const b = src.buf;
  const hdrLen = lay.payload - src.start;
  const chunk = prefixLen + hdrLen + mss;
  const l3 = lay.l3 - src.start;
  const l4 = lay.l4 - src.start;
  const same = dst.buffer === b.buffer;
  let end = at;
  for (let k = to - 1; k >= from; k--) {
    const c = at + (k - from) * chunk;
    const h = c + prefixLen;
    const pay = h + hdrLen;
    const s = lay.payload + k * mss;
    const len = Math.min(mss, lay.ipEnd - s);
    if (k === to - 1) end = pay + len;
    const moved = !same || dst.byteOffset + pay !== b.byteOffset + s;
    if (moved) copyBytes(b, s, dst, pay, len);
    const payloadSum = sum(dst, pay, pay + len);
    copyBytes(prefix, prefixAt, dst, c, prefixLen);
    if (!same || dst.byteOffset + h !== b.byteOffset + src.start) copyBytes(b, src.start, dst, h, hdrLen);
    fixSegment(dst, h + l3, h + l4, pay, pay + len, k, n, f, payloadSum, false);
  }
  return end;
}
