// copyBytes against the obvious reference (copy out, then in): across two buffers, within one buffer
// overlapping either way (a memmove from 64 bytes up), and moving left at any length; copySum's sum
// against wire/checksum.ts over the copied bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sum } from '../wire/checksum.ts';
import { copyBytes, copySum } from './csum-fast.ts';

/** Two views of one 8 KiB buffer at different offsets, and a view of another buffer. */
function views(seed: number) {
  const ab = new ArrayBuffer(8192);
  const all = new Uint8Array(ab);
  for (let i = 0; i < all.length; i++) all[i] = (i * 31 + seed) & 0xff;
  const other = new Uint8Array(new ArrayBuffer(4096)).fill(0xee);
  return { ab, all, a: new Uint8Array(ab, 128, 4000), b: new Uint8Array(ab, 640, 4000), other };
}

test('copyBytes equals copy-out-then-in: across buffers, overlapping in one from 64 bytes, leftward always', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 1500 }),
      fc.integer({ min: 0, max: 1500 }),
      fc.integer({ min: 0, max: 2400 }),
      fc.constantFrom('same-view', 'two-views', 'two-buffers'),
      (seed, s, d, n, kind) => {
        const v = views(seed);
        const src = v.a;
        const dst = kind === 'same-view' ? v.a : kind === 'two-views' ? v.b : v.other;
        const srcAt = src.byteOffset + s;
        const dstAt = dst.byteOffset + d;
        // The contract: below 64 bytes, a move within one buffer must not go right onto its own source.
        const sameBuffer = kind !== 'two-buffers';
        if (sameBuffer && n < 64 && dstAt > srcAt && dstAt < srcAt + n) return;
        const want = new Uint8Array(dst.buffer.slice(0));
        want.set(src.slice(s, s + n), dst.byteOffset + d);
        copyBytes(src, s, dst, d, n);
        assert.deepEqual(new Uint8Array(dst.buffer), want);
      },
    ),
    { numRuns: 3000 },
  );
});

test('copySum returns the sum of the bytes it copied, paired from d', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.integer({ min: 0, max: 7 }),
      (bytes, d) => {
        const src = new Uint8Array(4000);
        src.set(bytes, 5);
        const dst = new Uint8Array(4000);
        const got = copySum(src, 5, dst, d, bytes.length);
        assert.deepEqual(dst.subarray(d, d + bytes.length), bytes);
        assert.equal(got, sum(dst, d, d + bytes.length));
      },
    ),
    { numRuns: 500 },
  );
});
