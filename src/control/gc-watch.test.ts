// gc-watch counts the collections node:perf_hooks reports; `nvo stats` carries them (process.gc).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { clockMs } from '../datapath/clock.ts';
import { Switch } from '../datapath/switch.ts';
import { handle } from './control-server.ts';
import { gcStats, stopGcWatch, watchGc } from './gc-watch.ts';

test('collections are counted while watched, and reported by the stats request', async () => {
  watchGc();
  try {
    const before = gcStats();
    // ~200 MB of short-lived arrays: far more than a young generation, so scavenges must run.
    let keep = 0;
    for (let i = 0; i < 200_000; i++) keep += new Array(128).fill(i).length;
    assert.equal(keep, 200_000 * 128);
    await sleep(50); // perf_hooks delivers gc entries asynchronously
    const after = gcStats();
    assert.ok(after.collections > before.collections, JSON.stringify({ before, after }));
    assert.ok(after.ms >= before.ms);
    assert.ok(after.heapUsed > 0);
    const s = handle(new Switch({ name: 't' }), { cmd: 'stats' }) as { process: { gc: typeof after } };
    assert.ok(s.process.gc.collections >= after.collections);
  } finally {
    stopGcWatch();
  }
});

test("the switch's clock is whole milliseconds from a recent origin: a small integer", async () => {
  const a = clockMs();
  await sleep(20);
  const b = clockMs();
  assert.ok(Number.isInteger(a) && a >= 0 && a < 2 ** 31, String(a));
  assert.ok(b - a >= 15 && b - a < 5000, `${a} → ${b}`);
});
