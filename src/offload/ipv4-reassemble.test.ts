import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ipv4Frame, load, noise, permutations } from '../../test/offload-frag/build.ts';
import { Batch } from '../packet/batch.ts';
import type { Packet } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { FRAGMENTED, fragment4, NEED_PMTU } from './ipv4-fragment.ts';
import { DONE, DROP, HELD, Ipv4Reassembler, PASS } from './ipv4-reassemble.ts';
import { ReassemblyMemory } from './reassembly-limits.ts';

const big = new Pool(4, SUPER_SLOT);
const small = new Pool(2048);

function frags(frame: Uint8Array, mtu: number, id = 0x1234): Packet[] {
  const p = load(big, frame);
  const out = new Batch(2048);
  const st = fragment4(p, mtu, id, small, out);
  big.free(p);
  assert.equal(st, FRAGMENTED);
  return out.packets.slice(0, out.count) as Packet[];
}

function bytesOf(ps: Packet[]): Uint8Array[] {
  const r = ps.map((p) => p.bytes());
  for (const p of ps) small.free(p);
  return r;
}

/** Feeds frames in `order`; returns the completed datagram bytes (or undefined) and the statuses. */
function feed(r: Ipv4Reassembler, frames: Uint8Array[], order: number[], now = 0) {
  let result: Uint8Array | undefined;
  const st: number[] = [];
  for (const k of order) {
    const p = load(small, frames[k]!);
    const s = r.process(p, now);
    small.free(p);
    st.push(s);
    if (s === DONE) {
      result = r.out!.bytes();
      r.release(r.out!);
    }
  }
  return { result, st };
}

describe('ipv4 fragment → reassemble', () => {
  it('is the identity for every arrival order of a 5-fragment datagram (exhaustive), with a duplicate', () => {
    const frame = ipv4Frame({ payload: noise(200, 7) });
    const fs = bytesOf(frags(frame, 68)); // 48 + 48 + 48 + 48 + 8
    assert.equal(fs.length, 5);
    const r = new Ipv4Reassembler({ memoryBytes: 2 * SUPER_SLOT });
    for (const perm of permutations(5)) {
      const order = [...perm.slice(0, 2), perm[0]!, ...perm.slice(2)]; // duplicate of the first
      const { result, st } = feed(r, fs, order);
      assert.deepEqual(result, frame, `order ${order}`);
      assert.equal(st.filter((s) => s === DONE).length, 1);
      assert.equal(st[2], DROP); // the duplicate
    }
    assert.equal(r.counters.get('drop-ipv4-frag-duplicate'), 120);
    assert.equal(r.counters.get('out-ipv4-reasm'), 120);
    assert.equal(r.inProgress, 0);
  });

  it('is the identity over sizes × MTUs × random orders with duplicates (property)', () => {
    const r = new Ipv4Reassembler({ memoryBytes: 2 * SUPER_SLOT, maxPieces: 2048 });
    // One reassembler for all runs (each costs 16 MiB of range store), so a run starts 60 s after the
    // last: a duplicate that arrived after the last run's completion opened a new entry, and a later
    // run whose id collides (seed & 0xffff) would join it — as a real datagram would within 30 s.
    let now = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65515 }),
        fc.integer({ min: 68, max: 9000 }),
        fc.integer(),
        fc.integer({ min: 0, max: 3 }),
        (size, mtu, seed, dups) => {
          now += 60_000;
          const frame = ipv4Frame({ payload: noise(size, seed), id: seed & 0xffff });
          if (size + 20 <= mtu) return;
          const fs = bytesOf(frags(frame, mtu, seed & 0xffff));
          for (const f of fs) assert.ok(f.length - 14 <= mtu);
          const order = fs.map((_, i) => i);
          const rnd = noise(order.length * 4 + dups, seed ^ 0x5a5a);
          for (let i = order.length - 1; i > 0; i--) {
            const j = rnd[i]! % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          for (let d = 0; d < dups; d++) order.splice(rnd[d]! % order.length, 0, rnd[d + 1]! % fs.length);
          const { result } = feed(r, fs, order, now);
          assert.deepEqual(result, frame);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('is the identity when fragments and reassembly buffers share one slab (the copyWithin path)', () => {
    const slab = new ArrayBuffer(64 * 2048 + 3 * SUPER_SLOT);
    const frags = new Pool(64, 2048, undefined, slab, 0);
    const origin = new Pool(1, SUPER_SLOT, undefined, slab, 64 * 2048);
    const memory = new ReassemblyMemory(2 * SUPER_SLOT, slab, 64 * 2048 + SUPER_SLOT);
    const r = new Ipv4Reassembler({}, memory);
    const frame = ipv4Frame({ payload: noise(30000, 11), id: 0x0b0b });
    const p = load(origin, frame);
    const out = new Batch(64);
    assert.equal(fragment4(p, 1500, 0x0b0b, frags, out), FRAGMENTED);
    let got: Uint8Array | undefined;
    for (let i = out.count - 1; i >= 0; i--) {
      const q = out.packets[i]!;
      if (r.process(q, 0) === DONE) {
        got = r.out!.bytes();
        r.release(r.out!);
      }
      frags.free(q);
    }
    assert.deepEqual(got, frame);
  });

  it('honours DF: no fragments, NEED_PMTU for the caller', () => {
    const p = load(big, ipv4Frame({ payload: noise(2000, 1), df: true }));
    const out = new Batch();
    assert.equal(fragment4(p, 1500, 1, small, out), NEED_PMTU);
    assert.equal(out.count, 0);
    big.free(p);
  });

  it('copies only copied-bit options into later fragments (RFC 791 §3.1)', () => {
    // LSRR (131, copied) len 7 + pointer 4 + one address, RR (7, not copied) len 7, pad EOL, EOL.
    const opts = [131, 7, 4, 192, 0, 2, 9, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0];
    while (opts.length % 4) opts.push(0);
    const frame = ipv4Frame({ payload: noise(300, 3), options: opts });
    const fs = bytesOf(frags(frame, 128));
    const ihl = (f: Uint8Array) => (f[14]! & 15) * 4;
    assert.equal(ihl(fs[0]!), 20 + opts.length);
    assert.deepEqual([...fs[0]!.subarray(34, 34 + opts.length)], opts);
    for (const f of fs.slice(1)) {
      assert.equal(ihl(f), 28); // 7 bytes of LSRR + 1 EOL
      assert.deepEqual([...f.subarray(34, 42)], [131, 7, 4, 192, 0, 2, 9, 0]);
      assert.equal((f.length - 14 - 28) % 8 === 0 || f === fs.at(-1), true);
    }
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    const { result } = feed(
      r,
      fs,
      fs.map((_, i) => fs.length - 1 - i),
    );
    assert.deepEqual(result, frame);
  });

  it('passes non-fragments through untouched', () => {
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    const p = load(small, ipv4Frame({ payload: noise(100, 1) }));
    assert.equal(r.process(p, 0), PASS);
    small.free(p);
  });
});

describe('ipv4 reassembly: hostile input', () => {
  const mk = (offset: number, len: number, mf: boolean, seed = 1, id = 7) =>
    ipv4Frame({ payload: noise(len, seed + offset), offset, mf, id });

  it('drops the whole datagram on a partial overlap and poisons the key until the timeout (RFC 5722)', () => {
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT, timeoutMs: 1000 });
    const a = mk(0, 64, true);
    const b = mk(32, 64, true); // overlaps [32, 64)
    const c = mk(96, 16, false);
    assert.deepEqual(feed(r, [a, b, c], [0, 1, 2]).st, [HELD, DROP, DROP]);
    assert.equal(r.counters.get('drop-ipv4-frag-overlap'), 1);
    assert.equal(r.counters.get('drop-ipv4-frag-poisoned'), 1);
    assert.equal(r.table.memory.bytesInUse, 0); // data freed at once, only the key is kept
    // After the timeout the key is free again and a clean datagram completes.
    const clean = [mk(0, 64, true, 9), mk(64, 16, false, 9)];
    assert.equal(feed(r, clean, [0, 1], 1000).st[1], DONE);
  });

  it('kills the datagram on a teardrop: a later fragment inside the first with other bytes', () => {
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    const first = mk(0, 48, true, 1);
    const inside = ipv4Frame({ payload: noise(8, 99), offset: 16, mf: true, id: 7 });
    assert.deepEqual(feed(r, [first, inside], [0, 1]).st, [HELD, DROP]);
    assert.equal(r.counters.get('drop-ipv4-frag-overlap'), 1);
    // Classic teardrop: the inner piece is the last fragment, ending before data already held.
    const r2 = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    const tear = ipv4Frame({ payload: noise(4, 99), offset: 24, mf: false, id: 7 });
    assert.deepEqual(feed(r2, [first, tear, mk(48, 8, false)], [0, 1, 2]).st, [HELD, DROP, DROP]);
    assert.equal(r2.counters.get('drop-ipv4-frag-bad-tail'), 1);
    assert.equal(r2.counters.get('drop-ipv4-frag-poisoned'), 1);
  });

  it('rejects data beyond the last fragment and a second, different last fragment', () => {
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    assert.deepEqual(feed(r, [mk(16, 16, false), mk(32, 8, true)], [0, 1]).st, [HELD, DROP]);
    const r2 = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    assert.deepEqual(feed(r2, [mk(64, 16, false), mk(32, 8, false)], [0, 1]).st, [HELD, DROP]);
    assert.equal(r.counters.get('drop-ipv4-frag-bad-tail') + r2.counters.get('drop-ipv4-frag-bad-tail'), 2);
  });

  it('drops fragments that would make a datagram over 65,535 bytes (ping of death)', () => {
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    const pod = ipv4Frame({ payload: noise(1480, 1), offset: 65528 - 8 * 0, mf: false, id: 9 });
    assert.deepEqual(feed(r, [mk(0, 1480, true, 1, 9), pod], [0, 1]).st, [HELD, DROP]);
    assert.equal(r.counters.get('drop-ipv4-frag-oversize'), 1);
  });

  it('drops non-final fragments that are not a multiple of 8, empty ones and bad checksums', () => {
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    const bad = mk(0, 20, true);
    const cs = mk(0, 16, true);
    cs[24] ^= 0xff;
    assert.deepEqual(feed(r, [bad, mk(8, 0, true), cs], [0, 1, 2]).st, [DROP, DROP, DROP]);
    assert.deepEqual(
      ['drop-ipv4-frag-bad-length', 'drop-ipv4-frag-empty', 'drop-ipv4-frag-bad-checksum'].map((n) =>
        r.counters.get(n),
      ),
      [1, 1, 1],
    );
  });

  it('keeps memory under the cap in a flood of never-completing datagrams; eviction and timeout counted', () => {
    const memory = new ReassemblyMemory(8 * SUPER_SLOT);
    const r = new Ipv4Reassembler({ maxEntries: 64, timeoutMs: 30_000 }, memory);
    let peak = 0;
    for (let i = 0; i < 5000; i++) {
      const f = ipv4Frame({
        payload: noise(64, i),
        offset: 8 * (i % 50),
        mf: true,
        id: i & 0xffff,
        src: [10, 0, (i >> 8) & 255, i & 255],
      });
      const p = load(small, f);
      r.process(p, i);
      small.free(p);
      peak = Math.max(peak, memory.bytesInUse);
    }
    assert.ok(peak <= 8 * SUPER_SLOT);
    assert.ok(r.table.counters.get('drop-ipv4-reasm-evicted') >= 5000 - 8);
    // A legitimate datagram still gets through during the flood.
    const good = [mk(0, 64, true, 5, 0xbeef), mk(64, 8, false, 5, 0xbeef)];
    assert.equal(feed(r, good, [0, 1], 5000).st[1], DONE);
    r.tick(5000 + 30_000);
    assert.equal(r.inProgress, 0);
    assert.ok(r.table.counters.get('drop-ipv4-reasm-timeout') >= 1);
    assert.equal(memory.bytesInUse, 0);
  });

  it('combines ECN as Linux does: CE among ECT → CE; Not-ECT mixed with ECT → drop (RFC 3168 §5.3)', () => {
    const f = (offset: number, mf: boolean, tos: number, id: number) =>
      ipv4Frame({ payload: noise(16, offset), offset, mf, id, tos });
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    const ce = feed(r, [f(0, true, 2, 1), f(16, false, 3, 1)], [0, 1]);
    assert.equal(ce.st[1], DONE);
    assert.equal(ce.result![15]! & 3, 3);
    assert.ok(ipv4.verifyChecksum(ce.result!, 14), 'header checksum recomputed after setting CE');
    assert.equal(ce.result![15]! >> 2, 0);
    const mix = feed(r, [f(0, true, 0, 2), f(16, false, 2, 2)], [0, 1]);
    assert.deepEqual(mix.st, [HELD, DROP]);
    assert.equal(r.counters.get('drop-ipv4-reasm-ecn-mix'), 1);
    const same = feed(r, [f(0, true, 1, 3), f(16, false, 1, 3)], [1, 0]);
    assert.equal(same.result![15]! & 3, 1);
  });

  it('drops a datagram with more fragments than maxPieces', () => {
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT, maxPieces: 4 });
    const fs = [0, 16, 32, 48, 64].map((o) => mk(o, 8, true)); // disjoint, never merging
    assert.deepEqual(feed(r, fs, [0, 1, 2, 3, 4]).st, [HELD, HELD, HELD, HELD, DROP]);
    assert.equal(r.counters.get('drop-ipv4-frag-too-many'), 1);
  });
});
