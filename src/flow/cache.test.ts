// The cache hierarchy must be invisible: for random multi-table pipelines (goto_table, resubmit,
// set_field / load / move / write_metadata feeding later tables), random packets and random table changes
// between them, what EMC / megaflow answer equals a fresh translation through the tables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ActionProgram } from './action-program.ts';
import type { Action } from './actions.ts';
import {
  EMC_MIN_HIT_INV,
  EMC_SAMPLE,
  EMC_WINDOW,
  FlowCache,
  LEVEL_EMC,
  LEVEL_MEGAFLOW,
  LEVEL_UPCALL,
} from './cache.ts';
import { fieldByName, setField } from './fields.ts';
import { hashKey, KEY_WORDS, newKey } from './key.ts';
import { formatActions } from './ofctl-format.ts';
import { parseFlow } from './ofctl-parse.ts';
import { CHANGE_LOG, FlowTables } from './table.ts';
import { newTranslation, translate } from './xlate.ts';

const T = 3;
const matchPart = fc.oneof(
  fc.integer({ min: 1, max: 3 }).map((p) => `in_port=${p}`),
  fc.integer({ min: 0, max: 3 }).map((v) => `reg0=${v}`),
  fc.integer({ min: 0, max: 3 }).map((v) => `reg1=${v}/0x1`),
  fc.integer({ min: 0, max: 2 }).map((v) => `tun_id=${v}`),
  fc.constantFrom(
    'ip,nw_src=10.0.0.0/8',
    'ip,nw_src=10.0.0.1',
    'ip,nw_src=192.168.0.0/16',
    'tcp,tp_dst=80',
    'udp',
  ),
  fc.integer({ min: 0, max: 3 }).map((v) => `metadata=${v}/0x3`),
  fc.constantFrom('dl_dst=00:00:00:00:00:01', 'dl_dst=01:00:00:00:00:00/01:00:00:00:00:00'),
);
const action = (table: number) =>
  fc.oneof(
    fc.integer({ min: 1, max: 5 }).map((p) => `output:${p}`),
    fc.integer({ min: 0, max: 3 }).map((v) => `load:${v}->NXM_NX_REG0[]`),
    fc.integer({ min: 0, max: 3 }).map((v) => `set_field:${v}->reg1`),
    fc.constant('move:NXM_OF_ETH_DST[0..7]->NXM_NX_REG0[0..7]'),
    fc.integer({ min: 0, max: 2 }).map((v) => `set_field:${v}->tun_id`),
    fc.integer({ min: 1, max: 3 }).map((p) => `resubmit(${p},${Math.min(T - 1, table + 1)})`),
    fc.constant('CONTROLLER:64'),
  );
const flowArb = fc.integer({ min: 0, max: T - 1 }).chain((table) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: 5 }),
      fc.uniqueArray(matchPart, {
        maxLength: 3,
        selector: (s) => s.split('=')[0]!.replace(/^(ip|tcp|udp),/, ''),
      }),
      fc.array(action(table), { maxLength: 3 }),
      fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      fc.boolean(),
    )
    .map(([prio, m, acts, meta, goto]) => {
      const a = [...acts];
      if (meta !== undefined && table < T - 1) a.push(`write_metadata:${meta}/0x3`);
      if (goto && table < T - 1) a.push(`goto_table:${table + 1}`);
      // Several protocol shorthands in one match would override each other: keep the first.
      const seen = new Set<string>();
      const parts = m.filter((p) => {
        const proto = /^(ip|tcp|udp)\b/.exec(p)?.[1] ? 'proto' : p;
        if (seen.has(proto)) return false;
        seen.add(proto);
        return true;
      });
      return `table=${table},priority=${prio},${parts.join(',')}${parts.length ? ',' : ''}actions=${a.join(',') || 'drop'}`;
    }),
);

const F = (n: string) => fieldByName(n)!;
const keyArb = fc
  .record({
    inPort: fc.integer({ min: 1, max: 3 }),
    tun: fc.integer({ min: 0, max: 2 }),
    ip: fc.constantFrom(0x0a000001, 0x0a000002, 0xc0a80001, 0x01020304),
    proto: fc.constantFrom(6, 17, 1),
    port: fc.constantFrom(80, 443),
    dst: fc.constantFrom(1n, 0x010000000000n, 0x010000000005n),
    ip6: fc.boolean(),
  })
  .map((r) => {
    const k = newKey();
    setField(k, F('in_port'), BigInt(r.inPort));
    setField(k, F('tun_id'), BigInt(r.tun));
    setField(k, F('eth_dst'), r.dst);
    setField(k, F('eth_type'), r.ip6 ? 0x86ddn : 0x0800n);
    if (!r.ip6) setField(k, F('ip_src'), BigInt(r.ip));
    setField(k, F('nw_proto'), BigInt(r.proto));
    if (r.proto !== 1) setField(k, F('tp_dst'), BigInt(r.port));
    return k;
  });

const event = fc.oneof(
  { weight: 8, arbitrary: keyArb.map((k) => ({ kind: 'packet' as const, k })) },
  { weight: 1, arbitrary: flowArb.map((f) => ({ kind: 'add' as const, f })) },
  { weight: 1, arbitrary: flowArb.map((f) => ({ kind: 'del' as const, f })) },
  { weight: 1, arbitrary: flowArb.map((f) => ({ kind: 'mod' as const, f })) },
);

const text = (a: readonly Action[]) => formatActions(a);

test('cached lookups (EMC, megaflow) == full translation, across table changes', () => {
  fc.assert(
    fc.property(
      fc.array(flowArb, { maxLength: 25, size: 'max' }),
      fc.array(event, { minLength: 1, maxLength: 120, size: 'max' }),
      fc.constantFrom(1, 2, 100),
      (flows, events, invProb) => {
        const tables = new FlowTables({ tables: T });
        for (const f of flows) tables.apply('add', parseFlow(f), 0);
        const cache = new FlowCache(tables, { emcEntries: 64, emcInsertInvProb: invProb, seed: 7 });
        const ref = newTranslation();
        const wc = new Uint32Array(KEY_WORDS);
        for (const ev of events) {
          if (ev.kind === 'add') tables.apply('add', parseFlow(ev.f), 0);
          else if (ev.kind === 'mod') tables.apply('modify', parseFlow(ev.f, {}, 'modify'), 0);
          else if (ev.kind === 'del') {
            const s = parseFlow(ev.f.replace(/,?actions=.*/, ''), {}, 'delete');
            tables.apply('delete', s, 0);
          } else {
            const mf = cache.lookup(ev.k, hashKey(ev.k), 100, 0);
            wc.fill(0);
            translate(tables, ev.k, wc, ref);
            assert.equal(text(mf.actions), text(ref.actions), `level ${cache.level}`);
            assert.deepEqual(mf.rules, ref.rules);
            // The compiled program too (cache.ts reuses one per rule action list).
            assert.deepEqual(mf.program, new ActionProgram(ref.actions));
          }
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('levels: first packet upcalls, then megaflow, then EMC; counters per level and per flow', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('priority=10,in_port=1,actions=output:2'), 0);
  tables.apply('add', parseFlow('priority=5,tcp,tp_dst=80,actions=output:3'), 0);
  const cache = new FlowCache(tables, { emcInsertInvProb: 1 });
  const k1 = newKey();
  setField(k1, F('in_port'), 1n);
  const h1 = hashKey(k1);
  const mf = cache.lookup(k1, h1, 60, 1);
  assert.equal(cache.level, LEVEL_UPCALL);
  assert.equal(text(mf.actions), 'output:2');
  // The megaflow only pins what was consulted: in_port (priority 10 hit prunes the tcp subtable).
  assert.deepEqual(
    [...mf.mask].flatMap((m, i) => (m ? [i] : [])),
    [F('in_port').word],
  );
  assert.equal(cache.lookup(k1, h1, 60, 2), mf);
  assert.equal(cache.level, LEVEL_EMC);
  // A different packet on the same in_port: megaflow hit (not in the EMC yet), then EMC.
  const k2 = k1.slice();
  setField(k2, F('eth_src'), 0x1234n);
  cache.lookup(k2, hashKey(k2), 60, 3);
  assert.equal(cache.level, LEVEL_MEGAFLOW);
  cache.lookup(k2, hashKey(k2), 60, 4);
  assert.equal(cache.level, LEVEL_EMC);
  assert.deepEqual([cache.upcalls, cache.megaflowHits, cache.emcHits], [1, 1, 2]);
  const e = tables.dump()[0]!;
  assert.deepEqual([e.packets, e.bytes, e.lastUsed], [4, 240, 4]);
  // A table change re-translates what it reaches: a flow that outranks the one k1 matched, on keys
  // the megaflow covers. A lower-priority flow, or one on other keys, reaches nothing.
  tables.apply('add', parseFlow('priority=1,in_port=1,actions=output:7'), 5);
  tables.apply('add', parseFlow('priority=30,in_port=2,actions=output:8'), 5);
  cache.lookup(k1, h1, 60, 6);
  assert.equal(cache.level, LEVEL_EMC);
  tables.apply('add', parseFlow('priority=20,in_port=1,actions=output:9'), 5);
  assert.equal(text(cache.lookup(k1, h1, 60, 6).actions), 'output:9');
  assert.equal(cache.level, LEVEL_UPCALL);
  assert.deepEqual([cache.flushes, cache.invalidated], [0, 1]);
  // Deleting the flow a megaflow matched removes that megaflow.
  tables.apply('delete_strict', parseFlow('priority=20,in_port=1', {}, 'delete'), 7);
  assert.equal(text(cache.lookup(k1, h1, 60, 8).actions), 'output:2');
  assert.equal(cache.level, LEVEL_UPCALL);
  assert.deepEqual([cache.flushes, cache.invalidated], [0, 2]);
});

test('megaflow limit: extra upcalls still answer, are counted, and are not installed', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('in_port=1,actions=output:2'), 0);
  tables.apply('add', parseFlow('priority=1,reg0=0,actions=output:3'), 0);
  const cache = new FlowCache(tables, { megaflowMax: 1, emcEntries: 0 });
  for (let p = 1; p <= 3; p++) {
    const k = newKey();
    setField(k, F('in_port'), BigInt(p));
    cache.lookup(k, hashKey(k), 1, 0);
  }
  assert.equal(cache.megaflowCount, 1);
  assert.equal(cache.megaflowFull, 2);
});

test('a value moved into a field that a later table matches becomes part of the megaflow', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('actions=move:NXM_OF_ETH_DST[0..7]->NXM_NX_REG0[0..7],goto_table:1'), 0);
  tables.apply('add', parseFlow('table=1,reg0=1,actions=output:1'), 0);
  tables.apply('add', parseFlow('table=1,reg0=5,actions=output:5'), 0);
  const cache = new FlowCache(tables, { emcEntries: 0 });
  const out: string[] = [];
  for (const dst of [1n, 5n, 1n, 5n]) {
    const k = newKey();
    setField(k, F('eth_dst'), dst);
    out.push(text(cache.lookup(k, hashKey(k), 1, 0).actions));
  }
  assert.deepEqual(out, [
    'move:NXM_OF_ETH_DST[0..7]->NXM_NX_REG0[0..7],output:1',
    'move:NXM_OF_ETH_DST[0..7]->NXM_NX_REG0[0..7],output:5',
    'move:NXM_OF_ETH_DST[0..7]->NXM_NX_REG0[0..7],output:1',
    'move:NXM_OF_ETH_DST[0..7]->NXM_NX_REG0[0..7],output:5',
  ]);
  assert.equal(cache.megaflowHits, 2);
});

test('upcalls through one rule share its compiled actions, until a modify gives the rule new ones', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('priority=10,ip,actions=output:2'), 0);
  const cache = new FlowCache(tables, { emcEntries: 0 });
  const key = (src: number) => {
    const k = newKey();
    setField(k, F('eth_type'), 0x0800n);
    setField(k, F('ip_src'), BigInt(src));
    return k;
  };
  const a = cache.lookup(key(1), 0, 60, 0);
  cache.flush();
  const b = cache.lookup(key(2), 0, 60, 0);
  assert.notEqual(a, b);
  assert.equal(a.program, b.program, 'one program for both megaflows');
  tables.apply('modify', parseFlow('priority=10,ip,actions=output:3', {}, 'modify'), 0);
  const c = cache.lookup(key(3), 0, 60, 0);
  assert.equal(c.program.ops[0]!.port, 3);
});

test('EMC insertion: 1 in emcInsertInvProb of megaflow hits, as a binomial draw', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('priority=10,in_port=1,actions=output:2'), 0);
  for (const n of [2, 10, 100]) {
    const cache = new FlowCache(tables, { emcEntries: 8192, emcInsertInvProb: n, seed: 11 });
    const k = newKey();
    setField(k, F('in_port'), 1n);
    const lookups = 200_000;
    // Distinct keys under one megaflow (eth_src differs): every lookup after the first misses the EMC.
    for (let i = 0; i < lookups; i++) {
      setField(k, F('eth_src'), BigInt(i));
      cache.lookup(k, hashKey(k), 60, 1);
    }
    const expect = (lookups - 1) / n;
    // 5 standard deviations of Binomial(lookups, 1/n).
    const sd = Math.sqrt(((lookups - 1) * (n - 1)) / n / n);
    assert.ok(
      Math.abs(cache.emcInserts - expect) < 5 * sd,
      `1/${n}: ${cache.emcInserts} inserts, expected ${expect}`,
    );
  }
});

test('EMC generation wrap (23 bits): every slot is emptied, no entry of an old generation answers', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('priority=10,in_port=1,actions=output:2'), 0);
  const cache = new FlowCache(tables, { emcInsertInvProb: 1 });
  const k = newKey();
  setField(k, F('in_port'), 1n);
  const h = hashKey(k);
  cache['emcGeneration'] = 0x7fffff;
  cache.lookup(k, h, 60, 1); // upcall, inserted with generation 0x7fffff
  cache.lookup(k, h, 60, 2);
  assert.equal(cache.level, LEVEL_EMC);
  cache.flush(); // wraps to 1
  assert.equal(cache['emcGeneration'], 1);
  cache.lookup(k, h, 60, 3);
  assert.equal(cache.level, LEVEL_UPCALL);
  cache.lookup(k, h, 60, 4);
  assert.equal(cache.level, LEVEL_EMC);
  // That entry (generation 1) would match again once the generation wraps back to 1 (8M flushes on):
  // the wrap clears it, so the lookup after it is an upcall, not a hit on a flushed megaflow.
  cache['emcGeneration'] = 0x7fffff;
  cache.flush();
  assert.equal(cache['emcGeneration'], 1);
  cache.lookup(k, h, 60, 5);
  assert.equal(cache.level, LEVEL_UPCALL);
});

test('EMC bypass: a thrashing EMC is probed 1 in EMC_SAMPLE; probing resumes when the flows narrow', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('priority=10,in_port=1,actions=output:2'), 0);
  const k = newKey();
  setField(k, F('in_port'), 1n);
  const distinct = (cache: FlowCache, n: number, from: number) => {
    for (let i = 0; i < n; i++) {
      setField(k, F('eth_src'), BigInt(from + i));
      assert.equal(text(cache.lookup(k, hashKey(k), 60, 1).actions), 'output:2');
    }
  };
  const cache = new FlowCache(tables, { emcInsertInvProb: 100, seed: 5 });
  // One window of distinct keys: no hits, so the verdict is bypass.
  distinct(cache, EMC_WINDOW, 0);
  assert.equal(cache.emcBypass, true);
  assert.equal(cache.emcBypasses, 1);
  const before = cache.emcSkipped;
  distinct(cache, 1600, 1e6);
  // 1600 classifications, 1 in 16 probed: 1500 skipped.
  assert.equal(cache.emcSkipped - before, 1600 - 1600 / EMC_SAMPLE);
  // Four flows from now on: the sampled probes hit (each flow reaches the EMC after ~100 misses), and
  // once a window of them is at least 1/EMC_MIN_HIT_INV hits, every packet probes again.
  const four = Array.from({ length: 4 }, (_, i) => {
    const q = k.slice();
    setField(q, F('eth_src'), BigInt(7e6 + i));
    return q;
  });
  let n = 0;
  while (cache.emcBypass && n < EMC_WINDOW * EMC_SAMPLE * 3) {
    const q = four[n++ % 4]!;
    cache.lookup(q, hashKey(q), 60, 2);
  }
  assert.equal(cache.emcBypass, false, `still bypassed after ${n} lookups`);
  const q = four[0]!;
  cache.lookup(q, hashKey(q), 60, 3);
  assert.equal(cache.level, LEVEL_EMC);
  // The bar: a window with exactly 1 hit in EMC_MIN_HIT_INV keeps the EMC, one hit fewer bypasses it.
  // Every EMC_MIN_HIT_INV-th lookup repeats the key before it (inserted, as emcInsertInvProb is 1).
  for (const missing of [0, 1]) {
    const c = new FlowCache(tables, { emcInsertInvProb: 1 });
    for (let i = 0; i < EMC_WINDOW; i++) {
      const repeat = i % EMC_MIN_HIT_INV === EMC_MIN_HIT_INV - 1 && i >= missing * EMC_MIN_HIT_INV;
      if (!repeat) setField(k, F('eth_src'), BigInt(3e6 + i));
      c.lookup(k, hashKey(k), 60, 1);
    }
    assert.equal(c.emcHits, EMC_WINDOW / EMC_MIN_HIT_INV - missing);
    assert.equal(c.emcBypass, missing === 1);
  }
  // emcAutoBypass: false never bypasses.
  const fixed = new FlowCache(tables, { emcInsertInvProb: 100, emcAutoBypass: false });
  distinct(fixed, EMC_WINDOW * 2, 0);
  assert.deepEqual([fixed.emcBypass, fixed.emcSkipped, fixed.emcBypasses], [false, 0, 0]);
});

test('invalidate(tags): removes exactly the megaflows carrying a tag, pushes their stats, empties the EMC', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('priority=0,actions=NORMAL'), 0);
  const pushed: number[] = [];
  // A NORMAL hook that tags each translation with its in_port and eth_src's low word (consulting both)
  // and keeps a side-state entry whose push is recorded.
  const cache = new FlowCache(tables, {
    emcInsertInvProb: 1,
    normal: (k, wc, out) => {
      wc[F('in_port').word] = 0xffffffff;
      wc[F('eth_src').word + 1] = 0xffffffff;
      out.actions.push({ kind: 'output', port: 1, portName: '', maxLen: 0, trunc: false });
      out.tags.push(100 + k[F('in_port').word]!, 200 + k[F('eth_src').word + 1]!);
      const src = k[F('eth_src').word + 1]!;
      out.xc.push({ push: (used) => pushed.push(src * 1000 + used) });
    },
  });
  const keyOf = (port: number, src: number) => {
    const k = newKey();
    setField(k, F('in_port'), BigInt(port));
    setField(k, F('eth_src'), BigInt(src));
    return k;
  };
  const keys = [keyOf(1, 1), keyOf(1, 2), keyOf(2, 3), keyOf(3, 4)];
  for (const k of keys) cache.lookup(k, hashKey(k), 60, 7);
  cache.lookup(keys[0]!, hashKey(keys[0]!), 60, 8); // a hit after install: stats to push
  assert.equal(cache.megaflowCount, 4);
  const epoch = cache.epoch;
  cache.invalidate([101, 204, 999], 3); // in_port 1 (two megaflows), eth_src 4 (one), an unknown tag
  assert.equal(cache.megaflowCount, 1);
  assert.deepEqual([cache.invalidated, cache.invalidations, cache.flushes], [3, 1, 0]);
  assert.ok(cache.epoch > epoch);
  // Each removed megaflow pushed its last use (eth_src × 1000 + time); the kept one (eth_src 3) did not.
  assert.deepEqual(pushed.sort(), [1008, 2007, 4007]);
  const left = [...cache.dumpMegaflows()];
  assert.equal(left.length, 1);
  assert.equal(left[0]!.tags.filter((t) => t < 1000).join(), '102,203');
  // The kept one still answers from the megaflow cache (the EMC was emptied); the others upcall again.
  cache.lookup(keys[2]!, hashKey(keys[2]!), 60, 9);
  assert.equal(cache.level, LEVEL_MEGAFLOW);
  cache.lookup(keys[0]!, hashKey(keys[0]!), 60, 9);
  assert.equal(cache.level, LEVEL_UPCALL);
  // A megaflow removed through one tag is skipped when its other tag is invalidated later.
  cache.invalidate([201], 1);
  assert.equal(cache.invalidated, 4, 'keys[0] re-installed, removed again by its eth_src tag');
  cache.invalidate([101], 1);
  assert.equal(cache.invalidated, 4);
  assert.equal(cache.megaflowCount, 1);
  // A MAC that flaps: the same flow removed through one tag and installed again, 1000 times. The index
  // holds each installed megaflow once per tag, however often it came and went.
  for (let i = 0; i < 1000; i++) {
    cache.lookup(keys[1]!, hashKey(keys[1]!), 60, 10 + i);
    cache.invalidate([101], 1);
  }
  cache.lookup(keys[1]!, hashKey(keys[1]!), 60, 2000);
  assert.equal(cache.megaflowCount, 2);
  // Two megaflows, three tags each: the NORMAL flow entry's and the two the hook added.
  assert.equal(cache.taggedEntries, 6);
});

test('table changes past the change log flush; an unrelated delete or modify keeps every megaflow', () => {
  const tables = new FlowTables();
  tables.apply('add', parseFlow('priority=10,in_port=1,actions=output:2'), 0);
  tables.apply('add', parseFlow('priority=10,in_port=3,actions=output:4'), 0);
  const cache = new FlowCache(tables, { emcInsertInvProb: 1 });
  const k = newKey();
  setField(k, F('in_port'), 1n);
  const h = hashKey(k);
  cache.lookup(k, h, 60, 1);
  cache.lookup(k, h, 60, 2);
  assert.equal(cache.level, LEVEL_EMC);
  tables.apply('modify_strict', parseFlow('priority=10,in_port=3,actions=output:5', {}, 'modify'), 3);
  tables.apply('delete_strict', parseFlow('priority=10,in_port=3', {}, 'delete'), 3);
  cache.lookup(k, h, 60, 4);
  assert.equal(cache.level, LEVEL_EMC, 'no megaflow used the changed entry: EMC kept');
  assert.deepEqual([cache.flushes, cache.invalidated], [0, 0]);
  for (let i = 0; i <= CHANGE_LOG; i++)
    tables.apply('add', parseFlow(`priority=1,tcp,tp_dst=${i},actions=drop`), 5);
  cache.lookup(k, h, 60, 6);
  assert.equal(cache.flushes, 1);
  assert.equal(cache.level, LEVEL_UPCALL);
});
