// Hostile-input checks shared by every header codec (used by the per-codec tests in src/wire):
//  - every truncation of a valid header gives a non-OK status and never throws;
//  - parse never throws on random bytes, and `format` never throws either;
//  - parse reads nothing outside [o, end): the same bytes with different junk before o and after end
//    give the same status and the same Repr (a read past `end` would see the junk change);
//  - whatever parse accepts, emit reproduces: parse → emit → parse gives the same Repr.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Codec } from '../../src/wire/codec.ts';
import { OK, statusName } from '../../src/wire/status.ts';

function parseIn<R>(codec: Codec<R>, bytes: Uint8Array, junk: number, pad: number) {
  const buf = new Uint8Array(pad + bytes.length + pad).fill(junk);
  buf.set(bytes, pad);
  const out = codec.newRepr();
  const st = codec.parse(buf, pad, pad + bytes.length, out);
  assert.equal(typeof codec.format(buf, pad, pad + bytes.length), 'string');
  return { st, out };
}

/** Parses `bytes` (exactly [o, end)) under two junk fillings and asserts both agree. */
export function parseIsolated<R>(codec: Codec<R>, bytes: Uint8Array): { st: number; out: R } {
  const a = parseIn(codec, bytes, 0x00, 5);
  const b = parseIn(codec, bytes, 0xff, 11);
  assert.equal(a.st, b.st, `${codec.name}: status depends on bytes outside [o, end)`);
  if (a.st === OK) assert.deepEqual(a.out, b.out, `${codec.name}: Repr depends on bytes outside [o, end)`);
  return a;
}

/** `valid` holds complete, parseable encodings (header plus whatever payload parse needs). */
export function truncations<R>(codec: Codec<R>, valid: Uint8Array[], minLen?: (r: R) => number): void {
  for (const v of valid) {
    const full = parseIsolated(codec, v);
    assert.equal(full.st, OK, `${codec.name}: sample does not parse: ${statusName(full.st)}`);
    const need = minLen ? minLen(full.out) : codec.headerLen(full.out);
    for (let n = 0; n < need; n++) {
      const { st } = parseIsolated(codec, v.subarray(0, n));
      assert.notEqual(st, OK, `${codec.name}: accepted a ${n}-byte truncation of a ${need}-byte header`);
    }
  }
}

/** Random byte strings (plus mutations of the valid samples): no throw, isolation, re-emit stability. */
export function hostileBytes<R>(codec: Codec<R>, valid: Uint8Array[], runs = 400): void {
  const mutated = fc
    .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.nat())
    .map(([v, edits, cut]) => {
      const c = v.slice(0, v.length === 0 ? 0 : cut % (v.length + 1));
      for (const [at, x] of edits) if (c.length) c[at % c.length] = x;
      return c;
    });
  const arb = fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated);
  fc.assert(
    fc.property(arb, (bytes) => {
      const { st, out } = parseIsolated(codec, bytes);
      if (st !== OK) return;
      const len = codec.headerLen(out);
      assert.ok(len <= bytes.length, `${codec.name}: accepted header (${len}) longer than input`);
      // Re-emit what was accepted (with the original trailing bytes) and parse again: same value.
      const again = bytes.slice();
      codec.emit(out, again, 0);
      const second = parseIsolated(codec, again);
      assert.equal(second.st, OK, `${codec.name}: re-emitted header rejected: ${statusName(second.st)}`);
      assert.deepEqual(second.out, out, `${codec.name}: parse → emit → parse changed the value`);
    }),
    { numRuns: runs },
  );
}
