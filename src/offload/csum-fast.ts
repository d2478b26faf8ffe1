// Payload copy (+ checksum) for the segmenters, the coalescer, fragmentation and reassembly.
//
// Measured on this machine (Node 24, 1448-byte payload, same run, loaded box): `set(subarray)` ≈ 150 ns,
// wire/checksum.ts `sum` (u32 / WASM SIMD) ≈ 220 ns, while a JS 32-bit word copy loop across two slabs
// took 850–1300 ns and a fused copy + sum loop 1300–2100 ns. So the copy is a memmove and the sum is the
// shared one: Buffer.prototype.copy applied to the plain Uint8Arrays (Node's C++ memmove: no view is
// made), which measured 69 ns against set(subarray)'s 76 ns and its ~100-byte view per call (Node 24.21,
// 1448 B, 2·10⁶ copies); copyBytes says why not copyWithin within one slab.
import { Buffer } from 'node:buffer';
import { sum } from '../wire/checksum.ts';

const bufferCopy = Buffer.prototype.copy;

/**
 * Copies src[s, s+n) to dst[d, d+n), overlap-safe within one buffer (Node's copy is a memmove).
 * Under 64 bytes a byte loop (as fast at that size, and no call); longer, Buffer#copy on the plain
 * views. Not copyWithin on a whole-slab view: telling one slab from two reads `.buffer` twice, and
 * V8's buffer getter is a C++ builtin call, ~12 % of the USO sender's user time in a perf profile;
 * Buffer#copy for every copy measured 82-88 ns against 94-97 ns in one slab and 89-97 against
 * 111-123 ns across two (1,348 B, 4 MiB of slots, Node 24.21).
 */
export function copyBytes(src: Uint8Array, s: number, dst: Uint8Array, d: number, n: number): void {
  if (n < 64) {
    // Forward: callers moving within one buffer move data towards its start (uso-coalesce.ts) or,
    // moving it right, only by runs of 64 bytes or more (uso-pack.ts chunks).
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
  } else bufferCopy.call(src, dst, d, s, s + n);
}

/**
 * Copies src[s, s+n) to dst[d, d+n) and, when wantSum, returns the RFC 1071 partial sum of the copied
 * bytes paired from d (fold-compatible with `sum(dst, d, d + n)`); 0 otherwise.
 */
export function copySum(
  src: Uint8Array,
  s: number,
  dst: Uint8Array,
  d: number,
  n: number,
  wantSum = true,
): number {
  copyBytes(src, s, dst, d, n);
  return wantSum ? sum(dst, d, d + n) : 0;
}
