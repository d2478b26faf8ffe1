// The MAC table against a plain Map model: random learn / lookup / age / flush sequences give the same
// answers, the size bound holds, and remotes are kept per entry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MacLearning } from './mac-learning.ts';

interface Model {
  port: number;
  seen: number;
  remote: string;
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant('learn' as const),
    domain: fc.integer({ min: 0, max: 3 }),
    mac: fc.integer({ min: 0, max: 40 }),
    port: fc.integer({ min: 1, max: 5 }),
    remote: fc.integer({ min: 0, max: 3 }),
    dt: fc.integer({ min: 0, max: 400 }),
  }),
  fc.record({
    kind: fc.constant('lookup' as const),
    domain: fc.integer({ min: 0, max: 3 }),
    mac: fc.integer({ min: 0, max: 40 }),
    dt: fc.integer({ min: 0, max: 400 }),
  }),
  fc.record({ kind: fc.constant('expire' as const), dt: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('flush' as const), port: fc.integer({ min: 1, max: 5 }) }),
);

/** MACs that differ in the high bytes too (a broken hi/lo split must show). */
function macBytes(m: number): Uint8Array {
  return new Uint8Array([0x02, m * 7, m, 0x80 | m, 0xff - m, m * 3]);
}

test('MacLearning == Map model over random operation sequences', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const aging = 1000;
      const t = new MacLearning({ agingMs: aging, maxEntries: 24 });
      const model = new Map<string, Model>();
      let now = 0;
      for (const o of ops) {
        if ('dt' in o) now += o.dt;
        if (o.kind === 'learn') {
          const key = `${o.domain}/${o.mac}`;
          const remote = o.remote ? new Uint8Array([10, 0, 0, o.remote]) : null;
          if (!model.has(key) && t.count >= 24) {
            t.learn(o.domain, macBytes(o.mac), 0, o.port, remote ? 4 : 0, remote, now);
            continue; // full: not learned (the model agrees by not adding)
          }
          t.learn(o.domain, macBytes(o.mac), 0, o.port, remote ? 4 : 0, remote, now);
          model.set(key, { port: o.port, seen: now, remote: remote ? remote.join('.') : '' });
        } else if (o.kind === 'lookup') {
          // An entry answers until `expire` removes it, however old (OVS mac_learning_lookup).
          const live = model.get(`${o.domain}/${o.mac}`);
          const slot = t.lookup(o.domain, macBytes(o.mac), 0);
          assert.equal(slot >= 0, live !== undefined);
          if (live) {
            assert.equal(t.portOf(slot), live.port);
            const r =
              t.remoteVersionOf(slot) === 4
                ? Array.from(t.remotes.subarray(slot * 16, slot * 16 + 4)).join('.')
                : '';
            assert.equal(r, live.remote);
          }
        } else if (o.kind === 'expire') {
          t.expire(now);
          for (const [k, m] of model) if (now - m.seen > aging) model.delete(k);
          assert.equal(t.count, model.size);
        } else {
          t.flushPort(o.port);
          for (const [k, m] of model) if (m.port === o.port) model.delete(k);
          assert.equal(t.count, model.size);
        }
        assert.ok(t.count <= 24);
      }
    }),
    { numRuns: 300 },
  );
});

test('dump shows MACs in text form', () => {
  const t = new MacLearning();
  t.learn(42, new Uint8Array([0x02, 0xaa, 0, 0, 0, 0x01]), 0, 3, 4, new Uint8Array([10, 0, 0, 2]), 5);
  assert.deepEqual(t.dump(10), [
    { domain: 42, mac: '02:aa:00:00:00:01', port: 3, remote: '10.0.0.2', ageMs: 5 },
  ]);
});
