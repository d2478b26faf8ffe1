// Internet checksum, RFC 1071 (computation) and RFC 1624 (incremental update).
//
// The sum is the 16-bit one's-complement sum of the data taken as big-endian 16-bit words; an odd
// trailing byte is padded with a zero low byte. Partial sums are kept unfolded in a JS number: adding
// 16-bit words to a double is exact up to 2^53, i.e. for any buffer we will ever see, so `fold` runs once.
//
//   sum(b, o, end, init)  → unfolded partial sum (chain calls: the result of one is `init` of the next;
//                           each chunk but the last must have even length)
//   fold(s)               → 16-bit one's-complement sum (end-around carries added back)
//   checksum(b, o, end)   → ~fold(sum): the value that goes on the wire
//
// Three implementations, one result (tested against a byte-by-byte reference and scapy/tshark):
//   sumBytes   big-endian 16-bit words from bytes; best below WORDS_MIN, where setup dominates.
//   sumPlain   32-bit native-order words read through a Uint32Array over the whole ArrayBuffer (one
//              view per buffer, cached: a pool's packets share one slab), summed into four float64
//              accumulators, then folded and byte-swapped (RFC 1071 §2(B): the one's-complement sum is
//              byte-order independent, and §2(C): 32-bit words fold to the same 16-bit sum).
//   SIMD       WebAssembly SIMD128 (checksum-wasm.ts): sumInPlace for bytes in a wasmSlab (a Pool cut
//              from one), sumCopied for bytes elsewhere (copied into wasm scratch memory first).
// `sum` picks by length and by where the bytes live; the thresholds come from bench/micro.
import { SIMD_AVAILABLE, sumCopied, sumInPlace } from './checksum-wasm.ts';

// Crossovers measured on the project VM (AMD EPYC, Node 24, bench/micro and bench/README.md):
//   bytes 64 B 21 ns | plain 39 ns | SIMD in place 18 ns | SIMD copy 39 ns
//   bytes 256 B 76 ns | plain 57 ns | SIMD in place 22 ns | SIMD copy 42 ns
//   bytes 1500 B 400 ns | plain 174 ns | SIMD in place 46 ns | SIMD copy 72 ns

/** At or above this many bytes `sum` uses SIMD on a buffer that lives in a wasmSlab (no copy). */
export const SIMD_IN_PLACE_MIN = 64;
/** At or above this many bytes `sum` copies a foreign buffer into wasm memory and uses SIMD. */
export const SIMD_COPY_MIN = 256;
/** Below this many bytes the byte loop beats the word loop's setup (~35 ns: view, alignment, folds). */
export const WORDS_MIN = 192;

export function sum(b: Uint8Array, o: number, end: number, init = 0): number {
  // A range outside the buffer is a caller bug, but it must not throw (a wasm memory access past the
  // end traps) or turn the sum into NaN (an out-of-range Uint32Array read): clamp to [0, b.length].
  if (end > b.length) end = b.length;
  if (o < 0) o = 0;
  const n = end - o;
  if (n <= 0) return init;
  if (n >= SIMD_IN_PLACE_MIN && SIMD_AVAILABLE) {
    const s = sumInPlace(b, o, end);
    if (s >= 0) return init + s;
    if (n >= SIMD_COPY_MIN) return init + sumCopied(b, o, end);
  }
  return n < WORDS_MIN ? sumBytes(b, o, end, init) : sumPlain(b, o, end, init);
}

/** Byte-pair loop: the straightforward form, and the fastest for short ranges. Like sumPlain and
 * sumSimd it trusts 0 ≤ o ≤ end ≤ b.length; only `sum` clamps. */
export function sumBytes(b: Uint8Array, o: number, end: number, init = 0): number {
  let s = init;
  let i = o;
  const even = end - ((end - o) & 1);
  for (; i + 8 <= even; i += 8) {
    s += ((b[i]! << 8) | b[i + 1]!) + ((b[i + 2]! << 8) | b[i + 3]!);
    s += ((b[i + 4]! << 8) | b[i + 5]!) + ((b[i + 6]! << 8) | b[i + 7]!);
  }
  for (; i < even; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (even !== end) s += b[end - 1]! << 8;
  return s;
}

// True on little-endian hosts (x86-64, arm64): a Uint32Array word then holds its first byte lowest.
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let viewBuffer: ArrayBufferLike | null = null;
let view32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function words(buf: ArrayBufferLike): Uint32Array {
  if (buf !== viewBuffer) {
    viewBuffer = buf;
    view32 = new Uint32Array(buf, 0, buf.byteLength >>> 2);
  }
  return view32;
}

/**
 * Four float64 accumulators of u32 words: each add is exact while an accumulator stays below 2^53, so
 * WORDS_PER_ROUND = 2^20 words (4 MiB) per round bounds each by 2^18 × 2^32 = 2^50; rounds fold.
 */
const WORDS_PER_ROUND = 1 << 20;

export function sumPlain(b: Uint8Array, o: number, end: number, init = 0): number {
  if (end - o < 8) return sumBytes(b, o, end, init);
  let s = init;
  // Lead bytes up to a 4-byte-aligned address, paired big-endian from o: even distance → high byte.
  const abs = b.byteOffset + o;
  const lead = -abs & 3;
  let i = o;
  for (; i < o + lead; i++) s += (i - o) & 1 ? b[i]! : b[i]! << 8;
  const w = words(b.buffer);
  let k = (b.byteOffset + i) >>> 2;
  const kEnd = k + ((end - i) >>> 2);
  let le = 0;
  while (k < kEnd) {
    const stop = Math.min(kEnd, k + WORDS_PER_ROUND);
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    // Eight words (32 B) per step, two per accumulator: measured ~1.4× faster than four per step.
    for (; k + 8 <= stop; k += 8) {
      a0 += w[k]! + w[k + 4]!;
      a1 += w[k + 1]! + w[k + 5]!;
      a2 += w[k + 2]! + w[k + 6]!;
      a3 += w[k + 3]! + w[k + 7]!;
    }
    for (; k < stop; k++) a0 += w[k]!;
    le += fold(a0 + a1 + a2 + a3);
  }
  // `le` is the sum of 16-bit words in host order starting at the aligned address. On a little-endian
  // host the first byte of each word is its LOW byte; it is a HIGH byte of the big-endian pairing from o
  // when the aligned start is an even distance from o. So: swap iff (lead even) == little-endian.
  le = fold(le);
  s += ((lead & 1) === 0) === LITTLE ? ((le & 0xff) << 8) | (le >>> 8) : le;
  i = kEnd * 4 - b.byteOffset;
  for (; i < end; i++) s += (i - o) & 1 ? b[i]! : b[i]! << 8;
  return s;
}

export function fold(s: number): number {
  // s is a non-negative integer below 2^53. Split off the high 32 bits with a power-of-two division
  // (exact) instead of `%`, which on doubles is a slow libcall (fmod): hi < 2^21, lo < 2^32, and the
  // four 16-bit pieces sum to < 2^18. Two end-around folds then bring any value below 2^18 into
  // [0, 0xffff]: 0x3ffff → 0x3 + 0xffff = 0x10002 → 0x1 + 0x0002 = 0x3.
  if (s > 0xffffffff) {
    const hi = Math.floor(s / 0x100000000);
    const lo = s - hi * 0x100000000;
    s = (lo >>> 16) + (lo & 0xffff) + (hi >>> 16) + (hi & 0xffff);
  }
  s = (s >>> 16) + (s & 0xffff);
  return (s >>> 16) + (s & 0xffff);
}

export function checksum(b: Uint8Array, o: number, end: number, init = 0): number {
  return ~fold(sum(b, o, end, init)) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (RFC 768 / RFC 793): src, dst, zero, protocol, L4 length. */
export function pseudoSum4(b: Uint8Array, src: number, dst: number, proto: number, l4len: number): number {
  return sum(b, src, src + 4) + sum(b, dst, dst + 4) + proto + l4len;
}

/** Sum of the IPv6 pseudo-header (RFC 8200 §8.1): src, dst, upper-layer length (32-bit), next header. */
export function pseudoSum6(b: Uint8Array, src: number, dst: number, proto: number, l4len: number): number {
  return sum(b, src, src + 16) + sum(b, dst, dst + 16) + (l4len >>> 16) + (l4len & 0xffff) + proto;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from m to m'.
 * Eqn. 3 (not eqn. 2) is the one that never yields 0x0000 from a non-zero checksum except where a full
 * recompute would too, so incremental == full recompute (tested by property).
 */
export function update16(hc: number, m: number, m2: number): number {
  return ~fold((~hc & 0xffff) + (~m & 0xffff) + m2) & 0xffff;
}

/** A 32-bit field (an IPv4 address) changing from m to m2: two 16-bit updates folded into one. */
export function update32(hc: number, m: number, m2: number): number {
  const s = (~hc & 0xffff) + (~(m >>> 16) & 0xffff) + (~m & 0xffff) + (m2 >>> 16) + (m2 & 0xffff);
  return ~fold(s) & 0xffff;
}

/** UDP: a computed checksum of 0 is sent as 0xffff (RFC 768), since 0 means "no checksum". */
export function udpWire(c: number): number {
  return c === 0 ? 0xffff : c;
}
