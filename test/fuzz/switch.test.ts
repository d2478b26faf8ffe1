// The whole receive path of the switch under hostile input: valid frames of every encapsulation, taken
// off a real (in-memory) underlay and mutated (bit flips, length lies, truncation, insertion), plus
// mutated guest frames, go through Switch.receive on the underlay and guest ports. Invariants: nothing
// throws; every packet ends freed (no pool slot leaks, reassembly memory given back after the
// timeout); every packet that went nowhere is counted under a drop reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryPair, runUntilIdle } from '../../src/io/memory-hosts.ts';
import { Batch } from '../../src/packet/batch.ts';
import { mutate, rng } from './mutate.ts';

const RUNS = Number(process.env.NVO_FUZZ_SWITCH_RUNS ?? 20_000);
const SEED = Number(process.env.NVO_FUZZ_SEED ?? 0x5eed);

/** A guest frame: Ethernet/IPv4/UDP or TCP with a payload of `n` bytes (checksums left 0). */
function guestFrame(n: number, tcp: boolean, df: boolean): Uint8Array {
  const hl = tcp ? 20 : 8;
  const f = new Uint8Array(14 + 20 + hl + n);
  f.set([2, 0xbb, 0, 0, 0, 2, 2, 0xaa, 0, 0, 0, 1, 8, 0]);
  const ip = 14;
  f[ip] = 0x45;
  f[ip + 2] = (20 + hl + n) >> 8;
  f[ip + 3] = (20 + hl + n) & 255;
  f[ip + 6] = df ? 0x40 : 0;
  f[ip + 8] = 64;
  f[ip + 9] = tcp ? 6 : 17;
  f.set([192, 168, 1, 1, 192, 168, 1, 2], ip + 12);
  if (tcp) f[ip + 20 + 12] = 0x50;
  else {
    f[ip + 20 + 4] = (8 + n) >> 8;
    f[ip + 20 + 5] = (8 + n) & 255;
  }
  return f;
}

for (const encap of ['vxlan', 'vxlan-gpe', 'vxlan-soe', 'geneve', 'gre', 'nvgre', 'stt']) {
  test(`switch receive path survives ${RUNS} hostile frames (${encap})`, () => {
    const r = rng(SEED ^ encap.length);
    const [a, b] = memoryPair({ encap, vni: 42 });
    // Real wire frames to mutate: what A sends for a few guest frames (flooded, so no learning needed).
    const seeds: Uint8Array[] = [];
    a.underlay.keepSent = 64;
    const batch = new Batch(64);
    for (const [n, tcp, df] of [
      [18, false, false],
      [1200, true, false],
      [1472, false, false],
      [1472, false, true],
    ] as const) {
      const f = guestFrame(n, tcp, df);
      const p = a.guest.pool.allocCopy(f)!;
      batch.count = 0;
      batch.push(p);
      a.guest.txBurst(batch);
      a.guest.pool.free(p);
      seeds.push(f);
    }
    runUntilIdle([a], 0);
    seeds.push(...a.underlay.sent);
    assert.ok(a.underlay.sent.length >= 4, `${encap}: A put frames on the wire`);
    const sw = b.sw;
    const pool = b.underlay.pool;
    const before = pool.available;
    const swPool = sw.pool.available;
    const swSuper = sw.superPool.available;
    let delivered = 0;
    for (let i = 0; i < RUNS; i++) {
      const src = seeds[r.int(seeds.length)]!;
      const f = mutate(r, src);
      if (f.length > pool.slotSize - pool.headroom) continue;
      const p = pool.allocCopy(f)!;
      batch.count = 0;
      batch.push(p);
      // Underlay or guest port, at a clock that moves so reassembly timeouts happen.
      sw.receive(r.int(4) === 0 ? 1 : 100, batch, i * 5);
      sw.flush();
      const got = new Batch(256);
      b.guest.drain(got);
      delivered += got.count;
      for (let j = 0; j < got.count; j++) b.guest.pool.free(got.packets[j]!);
      b.underlay.rx.clear();
    }
    // Let every reassembly time out (IPv6 waits 60 s), then nothing may be held anywhere.
    sw.tick(RUNS * 5 + 120_000);
    assert.equal(pool.available, before, 'underlay pool: every slot back');
    assert.equal(sw.pool.available, swPool, 'switch pool: every slot back');
    assert.equal(sw.superPool.available, swSuper, 'switch super pool: every slot back');
    assert.equal(sw.reasmMemory.bytesInUse, 0, 'reassembly memory released');
    const c = sw.counters.snapshot();
    const drops = Object.entries(c)
      .filter(([k]) => k.startsWith('drop'))
      .reduce((s, [, v]) => s + v, 0);
    assert.ok(drops > 0 && delivered > 0, `${encap}: drops ${drops}, delivered ${delivered}`);
  });
}
