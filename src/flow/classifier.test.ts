// The tuple-space classifier against a linear scan (the reference: highest priority, then oldest), and
// its wildcard tracking: every key that agrees with the looked-up key on the returned `wc` bits must get
// the same answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Classifier, type Rule } from './classifier.ts';
import { fieldByName } from './fields.ts';
import { KEY_WORDS, newKey } from './key.ts';
import { Match } from './match.ts';

const F = (n: string) => fieldByName(n)!;
// Small value domains so rules overlap and keys hit them often (some words above 2^31: JS bit operators
// return signed 32-bit results, a classic bug source).
const FIELDS: [string, number[], bigint[]][] = [
  ['in_port', [1, 2, 3], []],
  ['eth_type', [0x0800, 0x86dd], []],
  ['nw_proto', [6, 17], []],
  ['tp_dst', [80, 81, 443], [0xfff0n, 0xffffn, 0x1n]],
  ['ip_src', [0xc0a80001, 0xc0a80002, 0x0a000101], [0xffffff00n, 0xffffffffn, 0xff000000n]],
  ['reg0', [0, 1, 5], [1n, 4n, 0xffffffffn]],
  ['tun_id', [0, 100, 101], [0xffffffffffffffffn, 0xfffffffffffffffen]],
];

const ruleArb = fc.record({
  priority: fc.integer({ min: 0, max: 6 }),
  fields: fc.array(fc.tuple(fc.integer({ min: 0, max: FIELDS.length - 1 }), fc.nat(), fc.nat()), {
    maxLength: 4,
  }),
});
const keyArb = fc.array(fc.nat(), { minLength: FIELDS.length, maxLength: FIELDS.length });

interface R extends Rule {
  id: number;
}

function makeRule(r: { priority: number; fields: [number, number, number][] }, id: number): R {
  const m = new Match();
  for (const [fi, vi, mi] of r.fields) {
    const [name, vals, masks] = FIELDS[fi]!;
    const fl = F(name);
    const v = BigInt(vals[vi % vals.length]!);
    if (masks.length && mi % 3 !== 0) m.set(fl, v, masks[mi % masks.length]!);
    else m.set(fl, v);
  }
  return { match: m, priority: r.priority, seq: 0, id };
}

function makeKey(k: number[]): Uint32Array {
  const key = newKey();
  FIELDS.forEach(([name, vals], i) => {
    const fl = F(name);
    const w = fl.word + fl.nwords - 1;
    key[w] = vals[k[i]! % vals.length]! >>> 0;
  });
  // tun_id is 2 words; put a random high word sometimes.
  if (k[0]! % 5 === 0) key[F('tun_id').word] = 7;
  return key;
}

function linear(rules: R[], k: Uint32Array): R | null {
  let best: R | null = null;
  for (const r of rules) {
    if (!r.match.matches(k)) continue;
    if (!best || r.priority > best.priority || (r.priority === best.priority && r.seq < best.seq)) best = r;
  }
  return best;
}

test('classifier == linear scan, through inserts and removes', () => {
  fc.assert(
    fc.property(
      fc.array(ruleArb, { maxLength: 40, size: 'max' }),
      fc.array(keyArb, { minLength: 1, maxLength: 30, size: 'max' }),
      fc.array(fc.nat(), { maxLength: 15 }),
      (rs, ks, removals) => {
        const c = new Classifier<R>();
        const live: R[] = [];
        rs.forEach((r, i) => {
          const rule = makeRule(r, i);
          c.insert(rule);
          live.push(rule);
        });
        for (const x of removals) {
          if (!live.length) break;
          const [r] = live.splice(x % live.length, 1);
          assert.equal(c.remove(r!), true);
        }
        assert.equal(c.size, live.length);
        for (const k of ks) {
          const key = makeKey(k);
          assert.equal(c.lookup(key, null)?.id ?? -1, linear(live, key)?.id ?? -1);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('wildcards: keys that agree on the consulted bits get the same rule', () => {
  fc.assert(
    fc.property(fc.array(ruleArb, { maxLength: 30, size: 'max' }), keyArb, keyArb, (rs, k1, k2) => {
      const c = new Classifier<R>();
      rs.forEach((r, i) => {
        c.insert(makeRule(r, i));
      });
      const a = makeKey(k1);
      const wc = new Uint32Array(KEY_WORDS);
      const ra = c.lookup(a, wc);
      // b = a on the wc bits, the other key elsewhere.
      const other = makeKey(k2);
      const b = new Uint32Array(KEY_WORDS);
      for (let i = 0; i < KEY_WORDS; i++) b[i] = ((a[i]! & wc[i]!) | (other[i]! & ~wc[i]!)) >>> 0;
      assert.equal(c.lookup(b, null)?.id ?? -1, ra?.id ?? -1);
    }),
    { numRuns: 500 },
  );
});

test('priority pruning: a high-priority exact hit skips lower subtables entirely', () => {
  const c = new Classifier<R>();
  const hi = makeRule({ priority: 100, fields: [[0, 0, 0]] }, 1); // in_port=1
  c.insert(hi);
  for (let i = 0; i < 20; i++) c.insert(makeRule({ priority: 1, fields: [[3, i, i + 1]] }, 10 + i));
  const k = makeKey([0, 0, 0, 0, 0, 0, 0]);
  const wc = new Uint32Array(KEY_WORDS);
  assert.equal(c.lookup(k, wc)?.id, 1);
  // Only in_port was consulted: the tp_dst subtables were pruned, so tp_dst stays wildcarded.
  assert.equal(wc[F('in_port').word], 0xffffffff);
  assert.equal(wc[F('tp_dst').word], 0);
});

test('findExact and equal-priority ties (older wins)', () => {
  const c = new Classifier<R>();
  const a = makeRule({ priority: 5, fields: [[0, 0, 0]] }, 1);
  const b = makeRule({ priority: 5, fields: [[1, 0, 0]] }, 2);
  c.insert(a);
  c.insert(b);
  const k = makeKey([0, 0, 0, 0, 0, 0, 0]); // in_port=1, eth_type=0x0800: matches both
  assert.equal(c.lookup(k, null)?.id, 1);
  assert.equal(c.findExact(b.match, 5), b);
  assert.equal(c.findExact(b.match, 4), null);
  assert.equal(c.remove(a), true);
  assert.equal(c.remove(a), false);
  assert.equal(c.lookup(k, null)?.id, 2);
});
