// Hostile input across the reassemblers: mutated fragments and segments never make them throw, never
// hold more memory than the cap or more entries than maxEntries; one memory shared by IPv4 and STT
// reassembly evicts the globally oldest datagram; every drop lands in a named counter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FRAGMENTED, fragment4 } from '../../src/offload/ipv4-fragment.ts';
import { DONE, Ipv4Reassembler } from '../../src/offload/ipv4-reassemble.ts';
import { Ipv6Reassembler } from '../../src/offload/ipv6-reassemble.ts';
import { ReassemblyMemory } from '../../src/offload/reassembly-limits.ts';
import { SttReassembler } from '../../src/offload/stt-reassemble.ts';
import { SttSegmenter } from '../../src/offload/stt-segment.ts';
import { Batch } from '../../src/packet/batch.ts';
import type { Packet } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { extHeader, fragHeader, ipv4Frame, ipv6Frame, load, noise } from './build.ts';

const big = new Pool(2, SUPER_SLOT);
const small = new Pool(512, 4096);

function cut4(size: number, id: number): Uint8Array[] {
  const p = load(big, ipv4Frame({ payload: noise(size, id), id }));
  const out = new Batch(128);
  assert.equal(fragment4(p, 576, id, small, out), FRAGMENTED);
  big.free(p);
  return (out.packets.slice(0, out.count) as Packet[]).map((q) => {
    const b = q.bytes();
    small.free(q);
    return b;
  });
}

function sttSegs(len: number): Uint8Array[] {
  const p = big.alloc()!;
  p.end = p.start + len;
  p.buf.set(noise(len, len), p.start);
  const out = new Batch(128);
  new SttSegmenter().segment(p, 1500, small, out);
  big.free(p);
  return (out.packets.slice(0, out.count) as Packet[]).map((q) => {
    const b = q.bytes();
    small.free(q);
    return b;
  });
}

/** Flip bytes / truncate / extend: the usual damage. */
function mutate(f: Uint8Array, ops: [number, number, number][]): Uint8Array {
  let g = f.slice();
  for (const [kind, at, v] of ops) {
    if (kind === 0) g[at % g.length] = v;
    else if (kind === 1) g = g.slice(0, Math.max(1, g.length - (at % 64)));
    else {
      const h = new Uint8Array(g.length + (at % 16));
      h.set(g);
      g = h;
    }
  }
  return g;
}

const opsArb = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 255 })),
  {
    maxLength: 6,
  },
);

describe('reassembly under hostile input', () => {
  it('never throws and stays within its caps on mutated IPv4 / IPv6 fragments and STT segments', () => {
    const memory = new ReassemblyMemory(4 * SUPER_SLOT);
    const cfg = { maxEntries: 16, maxPieces: 32, timeoutMs: 50 };
    const r4 = new Ipv4Reassembler(cfg, memory);
    const r6 = new Ipv6Reassembler(cfg, memory);
    const rs = new SttReassembler(cfg, memory);
    const v4 = cut4(3000, 5);
    const v6 = [0, 8, 16].map((o) =>
      ipv6Frame({ nh: 44, payload: Uint8Array.from([...fragHeader(17, o, o < 16, 3), ...extHeader(17, 0)]) }),
    );
    const st = sttSegs(5000);
    const all = [...v4, ...v6, ...st];
    let now = 0;
    fc.assert(
      fc.property(fc.nat({ max: all.length - 1 }), opsArb, (k, ops) => {
        const p = load(small, mutate(all[k]!, ops));
        for (const r of [r4, r6, rs]) {
          const res = r.process(p, now++);
          if (res === DONE) r.release(r.out!);
        }
        small.free(p);
        assert.ok(memory.bytesInUse <= 4 * SUPER_SLOT);
        for (const r of [r4, r6, rs]) assert.ok(r.inProgress <= 16);
      }),
      { numRuns: 1500 },
    );
    // Everything expires; every buffer comes back.
    for (const r of [r4, r6, rs]) r.tick(now + 1000);
    assert.equal(memory.bytesInUse, 0);
    const names = Object.keys({ ...r4.snapshot(), ...r6.snapshot(), ...rs.snapshot() });
    assert.ok(names.length > 5, `drop reasons seen: ${names}`);
  });

  it('one memory for IPv4 and STT: a flood of one evicts the oldest datagram of the other', () => {
    const memory = new ReassemblyMemory(2 * SUPER_SLOT);
    const r4 = new Ipv4Reassembler({}, memory);
    const rs = new SttReassembler({}, memory);
    const fr = cut4(3000, 9);
    const held = load(small, fr[0]!);
    r4.process(held, 0);
    small.free(held);
    assert.equal(r4.inProgress, 1);
    const seg = sttSegs(60000);
    for (let t = 1; t <= 2; t++) {
      const g = seg[0]!.slice();
      g[45] = t; // a new frame id (ACK), checksum ignored: the port vouched
      const p = load(small, g);
      p.flags |= 2;
      rs.process(p, t);
      small.free(p);
    }
    // Two buffers: the STT frames at t=1 and t=2 pushed out the IPv4 datagram from t=0.
    assert.equal(r4.table.counters.get('drop-ipv4-reasm-evicted'), 1);
    assert.equal(rs.inProgress, 2);
    assert.ok(memory.bytesInUse <= 2 * SUPER_SLOT);
  });
});
