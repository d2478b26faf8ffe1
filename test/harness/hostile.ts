// Hostile-input checks shared by the wire codec tests: a guarded buffer that throws on any read outside
// [lo, hi) (so "never reads outside [o, end)" is tested, not assumed), every-prefix truncation, and
// random-bytes fuzzing. Throwing from the guard is how a test sees the bad read; codecs themselves
// must never throw.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Codec } from '../../src/wire/codec.ts';
import { OK, statusName } from '../../src/wire/status.ts';

/** A view of `b` whose numeric reads outside [lo, hi) throw RangeError; writes are refused. */
export function guarded(b: Uint8Array, lo: number, hi: number): Uint8Array {
  return new Proxy(b, {
    get(t, k) {
      if (typeof k === 'string' && /^-?\d+$/.test(k)) {
        const i = Number(k);
        if (i < lo || i >= hi) throw new RangeError(`read at ${i} outside [${lo}, ${hi})`);
        return t[i];
      }
      const v = Reflect.get(t, k, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
    set() {
      throw new Error('parse wrote into its input');
    },
  });
}

/**
 * Parses every prefix of `bytes` (placed at offset 5 of a larger buffer, guarded to the prefix).
 * Prefixes shorter than `mustFailBelow` must return a non-OK status; none may throw or read outside.
 * Returns the statuses by prefix length.
 */
export function truncations<R>(codec: Codec<R>, bytes: Uint8Array, mustFailBelow: number): number[] {
  const at = 5;
  const buf = new Uint8Array(at + bytes.length + 8).fill(0x5a);
  buf.set(bytes, at);
  const out = codec.newRepr();
  const seen: number[] = [];
  for (let n = 0; n <= bytes.length; n++) {
    const g = guarded(buf, at, at + n);
    const st = codec.parse(g, at, at + n, out);
    seen.push(st);
    if (n < mustFailBelow)
      assert.notEqual(st, OK, `${codec.name}: a ${n}-byte prefix parsed OK (${statusName(st)})`);
    assert.equal(typeof codec.format(g, at, at + n), 'string');
  }
  return seen;
}

/** Random bytes (optionally starting from seeds with random mutations): parse and format never throw
 * and never read outside [o, end). */
export function fuzz<R>(codec: Codec<R>, seeds: Uint8Array[] = [], numRuns = 300): void {
  const out = codec.newRepr();
  const run = (bytes: Uint8Array) => {
    const at = 3;
    const buf = new Uint8Array(at + bytes.length + 4);
    buf.set(bytes, at);
    const g = guarded(buf, at, at + bytes.length);
    codec.parse(g, at, at + bytes.length, out);
    codec.format(g, at, at + bytes.length);
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 128 }), run), { numRuns });
  if (seeds.length)
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        (seed, flips, cut) => {
          const b = seed.slice(0, seed.length - (cut % 4 === 0 ? cut % seed.length : 0));
          for (const [i, v] of flips) if (b.length) b[i % b.length] = v;
          run(b);
        },
      ),
      { numRuns },
    );
}
