// Internet checksum throughput (GB/s) per implementation at 64, 1500, 9000 and 65535 bytes, starting at
// offset 34 (an L4 header behind Ethernet + IPv4: not 4-byte aligned, the usual case).
//   bytes       sumBytes: 16-bit big-endian words from bytes (the baseline)
//   plain       sumPlain: Uint32Array words, 4 accumulators, fold + swap
//   simd-inplace  sumInPlace on a buffer in a wasmSlab (no copy: what a Pool on a wasm slab gets)
//   simd-copy   sumCopied: copy into wasm scratch memory, then SIMD (a buffer from elsewhere)
//   sum         the dispatcher on an ordinary ArrayBuffer (plain below SIMD_COPY_MIN, else simd-copy)
//   sum-wasm    the dispatcher on a wasmSlab buffer (plain below SIMD_IN_PLACE_MIN, else simd-inplace)
import { sum, sumBytes, sumPlain } from '../../src/wire/checksum.ts';
import { SIMD_AVAILABLE, sumCopied, sumInPlace, wasmSlab } from '../../src/wire/checksum-wasm.ts';
import type { Bench } from '../lib/measure.ts';

export const SIZES = [64, 1500, 9000, 65535];
const OFFSET = 34;

export function checksumBenches(): Bench[] {
  const foreign = new Uint8Array(OFFSET + 65536 + 64);
  for (let i = 0; i < foreign.length; i++) foreign[i] = (i * 2654435761) >>> 24;
  const inWasm = SIMD_AVAILABLE ? new Uint8Array(wasmSlab(foreign.length)) : foreign;
  inWasm.set(foreign);
  const out: Bench[] = [];
  for (const size of SIZES) {
    const end = OFFSET + size;
    const mk = (
      variant: string,
      f: (b: Uint8Array, o: number, e: number) => number,
      b: Uint8Array,
    ): Bench => ({
      name: `checksum/${variant}/${size}`,
      bytes: size,
      run(n) {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += f(b, OFFSET, end);
        return acc;
      },
    });
    out.push(mk('bytes', (b, o, e) => sumBytes(b, o, e), foreign));
    out.push(mk('plain', (b, o, e) => sumPlain(b, o, e), foreign));
    if (SIMD_AVAILABLE) {
      out.push(mk('simd-inplace', sumInPlace, inWasm));
      out.push(mk('simd-copy', sumCopied, foreign));
    }
    out.push(mk('sum', (b, o, e) => sum(b, o, e), foreign));
    out.push(mk('sum-wasm', (b, o, e) => sum(b, o, e), inWasm));
  }
  return out;
}
