// Runs (Switch.admit / closeRun: the packets of a burst that share a megaflow get their output resolved
// once) never change an answer: a switch fed random bursts sends exactly the frames, in the same order,
// and counts exactly what a twin sends and counts when fed the same packets one at a time (a burst of
// one closes its run at once, which is packet-by-packet processing) and made to hash and probe the EMC
// for every packet (no answer taken from the previous packet's equal key) and to probe the megaflow
// subtables on every EMC miss (no answer from the last megaflow hit). Bursts mix flows that form runs
// (NORMAL resolved to a guest or to a VTEP, output:N to a guest, a flow-based tunnel output) with
// packets that break them: floods, rewrites, two outputs, truncated frames, new sources (learning
// flushes the caches mid-burst), packets from VTEPs, ARP for nvo's address, and ticks between bursts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromVtep, udpFrame, VTEPS, vtepSwitch } from '../../test/harness/vtep-switch.ts';
import { Batch } from '../packet/batch.ts';
import { Pool } from '../packet/pool.ts';
import type { Switch } from './switch.ts';

const FLOWS = [
  'priority=0,actions=NORMAL',
  'priority=10,udp,tp_src=7,actions=output:3',
  'priority=10,udp,tp_src=8,actions=set_field:10.0.0.3->tun_dst,set_field:42->tun_id,output:10',
  'priority=10,udp,tp_src=9,actions=output:10',
  'priority=10,udp,tp_src=6,actions=output:2,output:3',
  'priority=10,udp,tp_src=5,actions=mod_nw_tos:16,output:1',
];

// EMC inserts 1 in 3: bursts see EMC hits, megaflow hits and upcalls. A bypass verdict every 16 probes
// (FlowCache EMC_WINDOW) puts the EMC in and out of bypass within a test.
const build = (out: string[]): Switch =>
  vtepSwitch(out, { emcInsertInvProb: 3, emcWindow: 16, macAgingMs: 400 }, FLOWS);

const MACS = [1, 2, 3, 4, 5].map((i) => [2, 0xaa, 0, 0, 0, i]);
const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** ARP request for nvo's underlay address 10.0.0.1 from VTEP .2 (answered; teaches the neighbour). */
function arpRequest(): Uint8Array {
  const f = new Uint8Array(42);
  f.set(BROADCAST, 0);
  f.set([2, 0, 0, 0, 2, 2, 8, 6, 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 2, 2, 10, 0, 0, 2], 6);
  f.set([0, 0, 0, 0, 0, 0, 10, 0, 0, 1], 32);
  return f;
}

// One packet of a burst: src / dst index MACS (dst 5 = broadcast), sport picks a flow (1..2 NORMAL,
// 5..9 the rules above), kind: 0 plain, 1 truncated to 30 bytes, 2 ARP (underlay bursts only).
interface Pkt {
  src: number;
  dst: number;
  sport: number;
  len: number;
  kind: number;
}
interface Burst {
  /** 1..3 a guest port, 10/11 from VTEP .2/.3 over the underlay. */
  from: number;
  pkts: Pkt[];
  tick: boolean;
  dt: number;
}

// Runs need repeats: flows drawn from a few, mostly NORMAL between two MACs.
const pkt: fc.Arbitrary<Pkt> = fc.record({
  src: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.integer({ min: 0, max: 4 })),
  dst: fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, fc.integer({ min: 0, max: 5 })),
  sport: fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, fc.constantFrom(1, 2, 5, 6, 7, 8, 9)),
  len: fc.constantFrom(64, 64, 64, 200, 1480),
  kind: fc.oneof({ weight: 20, arbitrary: fc.constant(0) }, fc.constantFrom(1, 2)),
});
const burst: fc.Arbitrary<Burst> = fc.record({
  from: fc.constantFrom(1, 1, 2, 3, 10, 11),
  pkts: fc.array(pkt, { minLength: 1, maxLength: 40 }),
  tick: fc.boolean(),
  dt: fc.integer({ min: 0, max: 300 }),
});

function frameOf(b: Burst, p: Pkt): Uint8Array {
  if (p.kind === 2 && b.from >= 10) return arpRequest();
  const f = udpFrame(p.dst === 5 ? BROADCAST : MACS[p.dst]!, MACS[p.src]!, p.sport, p.len);
  const g = b.from >= 10 ? fromVtep(VTEPS[b.from - 10]!, f) : f;
  return p.kind === 1 ? g.slice(0, 30) : g;
}

/** Everything a switch counts that a run could get wrong. */
function state(sw: Switch): unknown {
  const c = sw.cache;
  return {
    counters: sw.counters.snapshot(true),
    ports: [...sw.ports.values()].map((p) => [
      p.name,
      p.rxPackets,
      p.rxBytes,
      p.txPackets,
      p.txBytes,
      p.txDrops,
    ]),
    cache: [
      c.emcHits,
      c.megaflowHits,
      c.upcalls,
      c.emcInserts,
      c.megaflowInstalls,
      c.flushes,
      c.megaflowCount,
      c.emcSkipped,
      c.emcBypasses,
    ],
    rules: sw.tables.dump().map((e) => [e.priority, e.packets, e.bytes, e.lastUsed]),
    megaflows: [...c.dumpMegaflows()].map((m) => [m.hits, m.used]),
    // Subtable ranking (hits per subtable, in probe order).
    subtables: c['subtables'].map((st) => st.hits),
    macs: [sw.macs.learned, sw.macs.aged, sw.macs.generation, sw.macs.count],
    // When each MAC was last seen: hits refresh it through their megaflow's stats, pushed on tick and
    // before a flush, so a run credited late would show here.
    seen: (sw.macs['seen'] as Float64Array).reduce((a, t, i) => a + t * (i + 1), 0),
    ipId: sw.ipId,
  };
}

test('a burst run in runs == the same packets one at a time (frames, order, every counter)', () => {
  let runs = 0;
  let bypassed = 0;
  fc.assert(
    fc.property(fc.array(burst, { minLength: 5, maxLength: 30 }), (bursts) => {
      const outRuns: string[] = [];
      const outOne: string[] = [];
      const swRuns = build(outRuns);
      const swOne = build(outOne);
      const pool = new Pool(64, 2048);
      const batch = new Batch(64);
      let now = 1;
      for (const b of bursts) {
        now += b.dt;
        const port = b.from >= 10 ? 100 : b.from;
        const frames = b.pkts.map((p) => frameOf(b, p));
        if (b.tick) {
          swRuns.tick(now);
          swOne.tick(now);
        }
        const hitsBefore = swRuns.cache.emcHits + swRuns.cache.megaflowHits;
        batch.count = 0;
        for (const f of frames) batch.push(pool.allocCopy(f)!);
        swRuns.receive(port, batch, now);
        swRuns.flush();
        for (const f of frames) {
          batch.count = 0;
          batch.push(pool.allocCopy(f)!);
          // No answer from the previous packet's key either: each packet hashes and probes the EMC.
          swOne['snap'].valid = false;
          // Nor from the last megaflow hit: every megaflow lookup probes the subtables.
          swOne.cache['lastHit'] = null;
          swOne.receive(port, batch, now);
        }
        swOne.flush();
        assert.deepEqual(outRuns, outOne);
        assert.deepEqual(state(swRuns), state(swOne));
        if (swRuns.cache.emcHits + swRuns.cache.megaflowHits - hitsBefore > 1) runs++;
        if (swRuns.cache.emcBypass) bypassed++;
        outRuns.length = 0;
        outOne.length = 0;
      }
    }),
    { numRuns: 60, endOnFailure: true },
  );
  // Cache hits within a burst are what runs are made of: the comparison exercised them.
  assert.ok(runs > 200, `${runs} bursts with hits`);
  assert.ok(bypassed > 20, `${bypassed} bursts with the EMC bypassed`);
});
