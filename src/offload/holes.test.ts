import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ADDED, DUPLICATE, FULL, OVERLAP, RangeSet } from './holes.ts';

/** Naive reference: one flag per byte. */
function naiveAnswer(have: Uint8Array, s: number, e: number): number {
  let any = false;
  let all = true;
  for (let i = s; i < e; i++) {
    if (have[i]) any = true;
    else all = false;
  }
  if (!any) return ADDED;
  if (!all) return OVERLAP;
  // Inside received data: a duplicate only when all of it lies in ONE merged run, which is the
  // same thing as "all bytes present" for contiguous bytes.
  return DUPLICATE;
}

describe('holes: RangeSet', () => {
  it('merges touching ranges and completes on [0, total)', () => {
    const r = new RangeSet(4);
    assert.equal(r.add(16, 24), ADDED);
    assert.equal(r.add(0, 8), ADDED);
    assert.equal(r.count, 2);
    assert.equal(r.complete(24), false);
    assert.equal(r.add(8, 16), ADDED); // fills the gap: one range
    assert.equal(r.count, 1);
    assert.equal(r.complete(24), true);
    assert.equal(r.add(4, 12), DUPLICATE);
    assert.equal(r.add(20, 30), OVERLAP);
  });

  it('reports FULL when a new disjoint range does not fit', () => {
    const r = new RangeSet(2);
    r.add(0, 1);
    r.add(2, 3);
    assert.equal(r.add(4, 5), FULL);
    assert.equal(r.add(1, 2), ADDED); // merging needs no new slot
    assert.equal(r.count, 1);
  });

  it('agrees with a per-byte reference on random sequences (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 40 })), {
          maxLength: 60,
        }),
        (adds) => {
          const r = new RangeSet(64);
          const have = new Uint8Array(256);
          for (const [s, len] of adds) {
            const want = naiveAnswer(have, s, s + len);
            const got = r.add(s, s + len);
            assert.equal(got, want, `add(${s}, ${s + len})`);
            if (got === ADDED) have.fill(1, s, s + len);
          }
          // Same coverage, ranges sorted, disjoint and never touching.
          let bytes = 0;
          for (let i = 0; i < r.count; i++) {
            assert.ok(r.start(i) < r.end(i));
            if (i > 0) assert.ok(r.end(i - 1) < r.start(i));
            for (let x = r.start(i); x < r.end(i); x++) assert.equal(have[x], 1);
            bytes += r.end(i) - r.start(i);
          }
          assert.equal(
            bytes,
            have.reduce((a, x) => a + x, 0),
          );
          assert.equal(r.bytes(), bytes);
        },
      ),
      { numRuns: 300 },
    );
  });
});
