// Payload copy (+ checksum) for the segmenters, the coalescer, fragmentation and reassembly.
//
// Measured on this machine (Node 24, 1448-byte payload, same run, loaded box): `set(subarray)` ≈ 150 ns,
// wire/checksum.ts `sum` (u32 / WASM SIMD) ≈ 220 ns, while a JS 32-bit word copy loop across two slabs
// took 850–1300 ns and a fused copy + sum loop 1300–2100 ns. So the copy is a memmove and the sum is the
// shared one. Within one slab it is copyWithin; across slabs Buffer.prototype.copy applied to the plain
// Uint8Arrays (Node's C++ copy: no view is made), which measured 69 ns against set(subarray)'s 76 ns and
// its ~100-byte view per call (copyWithin in one slab: 46 ns; Node 24.21, 1448 B, 2·10⁶ copies).
import { Buffer } from 'node:buffer';
import { sum } from '../wire/checksum.ts';

const bufferCopy = Buffer.prototype.copy;

// A whole-buffer byte view per ArrayBuffer, for copyWithin inside one slab (made once per slab); a
// one-entry cache answers the usual case (one slab copied within, packet after packet).
const whole = new WeakMap<ArrayBufferLike, Uint8Array>();
let lastBuffer: ArrayBufferLike | null = null;
let lastWhole: Uint8Array | null = null;
function wholeBytes(b: Uint8Array): Uint8Array {
  const ab = b.buffer;
  if (ab === lastBuffer) return lastWhole!;
  let v = whole.get(ab);
  if (v === undefined) {
    v = new Uint8Array(ab);
    whole.set(ab, v);
  }
  lastBuffer = ab;
  lastWhole = v;
  return v;
}

/** Copies src[s, s+n) to dst[d, d+n) (overlap-safe within one buffer). */
export function copyBytes(src: Uint8Array, s: number, dst: Uint8Array, d: number, n: number): void {
  if (n < 64) {
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
  } else if (src.buffer === dst.buffer) {
    wholeBytes(dst).copyWithin(dst.byteOffset + d, src.byteOffset + s, src.byteOffset + s + n);
  } else {
    bufferCopy.call(src, dst, d, s, s + n);
  }
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
