// Internet checksum (RFC 1071) over WebAssembly SIMD128, for long buffers.
//
// The module is assembled here, byte by byte, by the small builder below (no external toolchain): it
// is ~450 bytes, compiled once at import time. It imports its memory, so one compiled module serves any
// number of memories: the scratch memory used to copy a foreign buffer in, and every packet slab made
// with `wasmSlab` (a Pool can cut its slots from one, and then checksums read packet bytes in place).
//
//   sum(p: i32, len: i32) -> i32   16-bit one's-complement sum (folded, not inverted) of the bytes
//                                  [p, p+len) taken as LITTLE-endian 16-bit words, an odd last byte
//                                  as the low byte of a word. The caller swaps the result to get the
//                                  big-endian (network order) sum: RFC 1071 §2(B) byte-order
//                                  independence, swap(sum_le(x)) == sum_be(x).
//
// Inner loop (64 B per iteration, two accumulators): i32x4.extadd_pairwise_i16x8_u adds adjacent u16
// lanes into four u32 lanes, each at most 2 × 0xffff = 0x1fffe. A lane gets two such adds per
// iteration, so BLOCK = 4096 iterations (256 KiB) bound a lane by 4096 × 2 × 0x1fffe = 1,073,725,440
// < 2^32; after each block the lanes are widened to i64x2 and added to the 64-bit accumulator, which
// cannot overflow for any 32-bit length (2^32 bytes / 2 × 0xffff < 2^63). Loads are unaligned
// (v128.load with alignment hint 0): fine on x86-64 and arm64, and a packet starts anywhere.
//
//   (func $sum (param $p i32) (param $len i32) (result i32)
//     (local $n i32) (local $a v128) (local $b v128) (local $acc v128) (local $s i64)
//     while len >= 64:  n = min(len >> 6, BLOCK); len -= n << 6; a = b = 0
//                       do n times: a += pairwise_u(load p); b += pairwise_u(load p+16)
//                                   a += pairwise_u(load p+32); b += pairwise_u(load p+48); p += 64
//                       acc += extend_low_u(a) + extend_high_u(a) + extend_low_u(b) + extend_high_u(b)
//     a = 0; while len >= 16: a += pairwise_u(load p); p += 16; len -= 16
//     acc += extend_low_u(a) + extend_high_u(a)
//     while len >= 2: s += i64.load16_u p; p += 2; len -= 2
//     if len: s += i64.load8_u p
//     s += acc[0] + acc[1]; while s >> 16: s = (s & 0xffff) + (s >> 16)
//     return (i32) s)
import { Buffer } from 'node:buffer';

const BLOCK = 4096;

// ---- a tiny assembler: LEB128 and section framing (WebAssembly core spec §5) ----
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n = Math.floor(n / 128);
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

// Opcodes (core spec §5.4; SIMD: 0xfd prefix + LEB128 sub-opcode, spec §5.4.8).
const I32 = 0x7f;
const I64 = 0x7e;
const V128 = 0x7b;
const VOID = 0x40;
const BLOCK_ = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const SELECT = 0x1b;
const GET = 0x20;
const SET = 0x21;
const TEE = 0x22;
const I64_LOAD8_U = 0x31;
const I64_LOAD16_U = 0x33;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I32_LT_U = 0x49;
const I32_GT_U = 0x4b;
const I64_EQZ = 0x50;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_SHL = 0x74;
const I32_SHR_U = 0x76;
const I64_ADD = 0x7c;
const I64_AND = 0x83;
const I64_SHR_U = 0x88;
const I32_WRAP_I64 = 0xa7;
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const V128_LOAD = (offset: number): number[] => [...simd(0x00), 0, ...uleb(offset)];
const V128_ZERO = [...simd(0x0c), ...new Array<number>(16).fill(0)];
const I64X2_EXTRACT_LANE = (lane: number): number[] => [...simd(0x1d), lane];
const I32X4_EXTADD_PAIRWISE_I16X8_U = simd(0x7f);
const I32X4_ADD = simd(0xae);
const I64X2_EXTEND_LOW_I32X4_U = simd(0xc9);
const I64X2_EXTEND_HIGH_I32X4_U = simd(0xca);
const I64X2_ADD = simd(0xce);

// Locals: 0 p, 1 len (params); 2 n (i32); 3 a, 4 b, 5 acc (v128); 6 s (i64).
const P = 0;
const LEN = 1;
const N = 2;
const A = 3;
const B = 4;
const ACC = 5;
const S = 6;

const get = (l: number): number[] => [GET, l];
const set = (l: number): number[] => [SET, l];
const i32c = (v: number): number[] => [I32_CONST, ...sleb(v)];
const i64c = (v: number): number[] => [I64_CONST, ...sleb(v)];
/** acc_l += extadd_pairwise(load(p + offset)) */
const addVec = (l: number, offset: number): number[] => [
  ...get(l),
  ...get(P),
  ...V128_LOAD(offset),
  ...I32X4_EXTADD_PAIRWISE_I16X8_U,
  ...I32X4_ADD,
  ...set(l),
];
/** acc += widen_u(l) (both halves) */
const widenInto = (l: number): number[] => [
  ...get(ACC),
  ...get(l),
  ...I64X2_EXTEND_LOW_I32X4_U,
  ...I64X2_ADD,
  ...get(l),
  ...I64X2_EXTEND_HIGH_I32X4_U,
  ...I64X2_ADD,
  ...set(ACC),
];
const advance = (bytes: number): number[] => [
  ...get(P),
  ...i32c(bytes),
  I32_ADD,
  ...set(P),
  ...get(LEN),
  ...i32c(bytes),
  I32_SUB,
  ...set(LEN),
];
/** block { loop { if len < min: break; body; continue } } */
const whileAtLeast = (min: number, body: number[]): number[] => [
  BLOCK_,
  VOID,
  LOOP,
  VOID,
  ...get(LEN),
  ...i32c(min),
  I32_LT_U,
  BR_IF,
  1,
  ...body,
  BR,
  0,
  END,
  END,
];

const code: number[] = [
  // 64-byte blocks: n = min(len >> 6, BLOCK); len -= n << 6; a = b = 0; n iterations; widen into acc.
  ...whileAtLeast(64, [
    ...i32c(BLOCK),
    ...get(LEN),
    ...i32c(6),
    I32_SHR_U,
    TEE,
    N,
    ...get(N),
    ...i32c(BLOCK),
    I32_GT_U,
    SELECT,
    ...set(N),
    ...get(LEN),
    ...get(N),
    ...i32c(6),
    I32_SHL,
    I32_SUB,
    ...set(LEN),
    ...V128_ZERO,
    ...set(A),
    ...V128_ZERO,
    ...set(B),
    LOOP,
    VOID,
    ...addVec(A, 0),
    ...addVec(B, 16),
    ...addVec(A, 32),
    ...addVec(B, 48),
    ...get(P),
    ...i32c(64),
    I32_ADD,
    ...set(P),
    ...get(N),
    ...i32c(1),
    I32_SUB,
    TEE,
    N,
    BR_IF,
    0,
    END,
    ...widenInto(A),
    ...widenInto(B),
  ]),
  // Up to three 16-byte vectors (a is free again; at most 3 adds per lane).
  ...V128_ZERO,
  ...set(A),
  ...whileAtLeast(16, [...addVec(A, 0), ...advance(16)]),
  ...widenInto(A),
  // Up to seven 16-bit words, then the odd byte as a low byte.
  ...whileAtLeast(2, [...get(S), ...get(P), I64_LOAD16_U, 0, 0, I64_ADD, ...set(S), ...advance(2)]),
  ...get(LEN),
  IF,
  VOID,
  ...get(S),
  ...get(P),
  I64_LOAD8_U,
  0,
  0,
  I64_ADD,
  ...set(S),
  END,
  // s += acc lanes; fold end-around carries until s fits in 16 bits.
  ...get(S),
  ...get(ACC),
  ...I64X2_EXTRACT_LANE(0),
  I64_ADD,
  ...get(ACC),
  ...I64X2_EXTRACT_LANE(1),
  I64_ADD,
  ...set(S),
  BLOCK_,
  VOID,
  LOOP,
  VOID,
  ...get(S),
  ...i64c(16),
  I64_SHR_U,
  I64_EQZ,
  BR_IF,
  1,
  ...get(S),
  ...i64c(0xffff),
  I64_AND,
  ...get(S),
  ...i64c(16),
  I64_SHR_U,
  I64_ADD,
  ...set(S),
  BR,
  0,
  END,
  END,
  ...get(S),
  I32_WRAP_I64,
  END,
];

const locals = vec([
  [...uleb(1), I32],
  [...uleb(3), V128],
  [...uleb(1), I64],
]);
const body = [...locals, ...code];

/** The module's bytes (exported for inspection / `wasm-objdump` if one is at hand). */
export const WASM_BYTES: Uint8Array = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d, // "\0asm"
  0x01,
  0x00,
  0x00,
  0x00, // version 1
  ...section(1, vec([[0x60, ...vec([[I32], [I32]]), ...vec([[I32]])]])), // type 0: (i32 i32) -> i32
  ...section(2, vec([[...str('env'), ...str('mem'), 0x02, 0x00, 0x00]])), // import memory, min 0
  ...section(3, vec([[0]])), // function 0 has type 0
  ...section(7, vec([[...str('sum'), 0x00, 0]])), // export "sum" = function 0
  ...section(10, vec([[...uleb(body.length), ...body]])),
]);

type SumFn = (p: number, len: number) => number;

// The few WebAssembly JS-API members used here (the global is in lib.dom's types, which we don't load).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let module: object | null = null;
try {
  if (WA) module = new WA.Module(WASM_BYTES);
} catch {
  // No SIMD128 in this engine: callers fall back to the plain JS path (SIMD_AVAILABLE false).
}

/** True when the engine compiled the SIMD module. */
export const SIMD_AVAILABLE = module !== null;

function instantiate(mem: WasmMemory): SumFn {
  const inst = new WA!.Instance(module!, { env: { mem } });
  return inst.exports['sum'] as SumFn;
}

const bufferCopy = Buffer.prototype.copy;

// Memories we made, by their ArrayBuffer. A memory never grows after creation (growing would detach
// the buffer under every view a Pool handed out), so the ArrayBuffer identity is stable.
const byBuffer = new WeakMap<ArrayBufferLike, SumFn>();
let lastBuffer: ArrayBufferLike | null = null;
let lastFn: SumFn | null = null;

const PAGE = 65536;

/**
 * A fixed-size ArrayBuffer backed by a WebAssembly memory (rounded up to 64 KiB pages), for slabs whose
 * bytes the SIMD checksum should read in place. Throws if SIMD is unavailable (callers check
 * SIMD_AVAILABLE, or catch and use a plain ArrayBuffer).
 */
export function wasmSlab(bytes: number): ArrayBuffer {
  if (!module) throw new Error('WebAssembly SIMD128 is not available');
  const pages = Math.max(1, Math.ceil(bytes / PAGE));
  const mem = new WA!.Memory({ initial: pages, maximum: pages });
  byBuffer.set(mem.buffer, instantiate(mem));
  return mem.buffer;
}

/** True when `b` lives in a memory made by wasmSlab (the SIMD sum then reads it without a copy). */
export function inWasm(b: Uint8Array): boolean {
  return byBuffer.has(b.buffer);
}

// Scratch memory for buffers that live elsewhere: copied in CHUNK bytes at a time (even, so the word
// pairing of each chunk continues the previous one).
const CHUNK = PAGE;
let scratchFn: SumFn | null = null;
let scratch: Uint8Array | null = null;
if (module) {
  const buf = wasmSlab(CHUNK);
  scratch = new Uint8Array(buf);
  scratchFn = byBuffer.get(buf)!;
}

const swap16 = (x: number): number => ((x & 0xff) << 8) | (x >>> 8);

// Last buffer seen, and whether it was one of ours: packets of one pool share one slab, so this
// single-entry cache answers almost every call without the WeakMap.
let lastForeign: ArrayBufferLike | null = null;

/**
 * Big-endian (network order) 16-bit one's-complement sum of b[o, end), folded to [0, 0xffff], read in
 * place when `b` lives in a wasmSlab; -1 when it does not (the caller picks another path).
 */
export function sumInPlace(b: Uint8Array, o: number, end: number): number {
  const buf = b.buffer;
  if (buf !== lastBuffer) {
    if (buf === lastForeign) return -1;
    const fn = byBuffer.get(buf);
    if (!fn) {
      lastForeign = buf;
      return -1;
    }
    lastBuffer = buf;
    lastFn = fn;
  }
  return swap16(lastFn!(b.byteOffset + o, end - o));
}

/** As sumInPlace, falling back to the copy path for buffers outside wasm memory. Requires SIMD. */
export function sumSimd(b: Uint8Array, o: number, end: number): number {
  const s = sumInPlace(b, o, end);
  return s >= 0 ? s : sumCopied(b, o, end);
}

/**
 * The copy path: 64 KiB chunks into scratch wasm memory. Costs ~40 ns more than in place (measured:
 * bench/micro); the copy is Buffer.prototype.copy applied to the plain Uint8Arrays (Node's C++ copy),
 * which makes no subarray view, so nothing is allocated.
 */
export function sumCopied(b: Uint8Array, o: number, end: number): number {
  const sc = scratch!;
  const fn = scratchFn!;
  let s = 0;
  for (let i = o; i < end; i += CHUNK) {
    const e = Math.min(end, i + CHUNK);
    bufferCopy.call(b, sc, 0, i, e);
    s += fn(0, e - i);
  }
  // s is a sum of ≤ 0xffff per 64 KiB chunk: exact in a double; fold its carries once.
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return swap16(s);
}
