import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import * as gro from '../offload/gro-reasons.ts';
import * as gso from '../offload/gso-reasons.ts';
import { Counters } from './counters.ts';

describe('Counters', () => {
  test('a fixed name list gets indices 0, 1, 2… in order (what exported index constants rely on)', () => {
    const c = new Counters(['a', 'b', 'c']);
    assert.deepEqual([c.id('a'), c.id('b'), c.id('c')], [0, 1, 2]);
    assert.deepEqual(c.names, ['a', 'b', 'c']);
    c.v[1]! += 5;
    assert.equal(c.get('b'), 5);
    assert.equal(c.name(1), 'b');
    assert.equal(c.name(99), 'counter-99');
  });

  test('the offload engines index their lists with constants that name the right counter', () => {
    const g = new Counters(gso.GSO_COUNTER_NAMES);
    assert.equal(g.name(gso.GSO_IN), 'gso-in-superframes');
    assert.equal(g.name(gso.DROP_BAD_TUNNEL), 'gso-drop-bad-tunnel');
    assert.equal(g.names.length, gso.DROP_BAD_TUNNEL + 1);
    const r = new Counters(gro.GRO_COUNTER_NAMES);
    assert.equal(r.names.length, gro.GRO_COUNTER_NAMES.length);
  });

  test('a name listed twice throws (it would shift every later index)', () => {
    assert.throws(() => new Counters(['x', 'y', 'x']), /counter x listed twice/);
  });

  test('growing past the initial array keeps ids and values', () => {
    const c = new Counters(['first']);
    c.v[0] = 7;
    const before = c.v;
    const ids: number[] = [];
    for (let i = 0; i < 100; i++) ids.push(c.id(`n${i}`));
    assert.notEqual(c.v, before, 'v was replaced when it grew');
    assert.ok(c.v.length >= 101);
    assert.deepEqual(
      ids,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.equal(c.get('first'), 7);
    assert.equal(c.id('first'), 0);
  });

  test('snapshot: non-zero by default, all on request, into an existing record', () => {
    const c = new Counters(['zero', 'one']);
    c.add('one');
    c.add('late', 3);
    assert.deepEqual(c.snapshot(), { one: 1, late: 3 });
    assert.deepEqual(c.snapshot(true), { zero: 0, one: 1, late: 3 });
    const other = new Counters(['other']);
    other.add('other', 2);
    assert.deepEqual(c.snapshot(false, other.snapshot()), { other: 2, one: 1, late: 3 });
    c.reset();
    assert.deepEqual(c.snapshot(), {});
    assert.equal(c.get('never-defined'), 0);
  });

  test('agrees with a Map of name → count over random add / id+v / reset sequences', () => {
    const name = fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `c-${i}`));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), name, n: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('v' as const), name, n: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('reset' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const c = new Counters();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'reset') {
            c.reset();
            for (const k of model.keys()) model.set(k, 0);
          } else {
            if (o.kind === 'add') c.add(o.name, o.n);
            else c.v[c.id(o.name)]! += o.n;
            model.set(o.name, (model.get(o.name) ?? 0) + o.n);
          }
        }
        assert.deepEqual(c.names, [...model.keys()]);
        assert.deepEqual(c.snapshot(true), Object.fromEntries(model));
        for (const [k, n] of model) assert.equal(c.get(k), n);
      }),
      { seed: 0x6e766f, numRuns: 300 },
    );
  });
});
