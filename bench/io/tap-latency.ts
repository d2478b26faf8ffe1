// Added latency of the event-loop poller at low load (performance.md §9 G3: ≤ 50 µs p50, ≤ 250 µs p99
// over the kernel path): UDP ping-pong between two namespaces through two TAPs (vnet headers) joined
// by a JS forwarder, versus the same ping-pong over a plain veth.
//   node bench/io/tap-latency.ts [--pings N]        (root; addon built)
import { parseArgs } from 'node:util';
import type { IoBackend } from '../../src/io/io-backend.ts';
import { loadNative, nativeUnavailable } from '../../src/io/native.ts';
import { Poller } from '../../src/io/poller.ts';
import { TapPort } from '../../src/io/tap.ts';
import type { Batch } from '../../src/packet/batch.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import {
  ip,
  netnsAdd,
  netnsDel,
  netnsPath,
  testbedUnavailable,
  uniqueName,
  vethPair,
} from '../../testbed/netns.ts';
import { percentile, pingPong } from '../../testbed/pingpong.ts';
import { machine } from '../lib/machine.ts';

const { values } = parseArgs({ options: { pings: { type: 'string' } } });
const N = Number(values.pings ?? 1000);
const why = testbedUnavailable() || (loadNative() ? '' : nativeUnavailable());
if (why) {
  console.error(`bench io latency: ${why}`);
  process.exit(2);
}

const tag = uniqueName('nvol');
const [A, B, C, D] = ['a', 'b', 'c', 'd'].map((x) => `${tag}${x}`) as [string, string, string, string];
const pool = new Pool(256, SUPER_SLOT);
const poller = new Poller();
const ports: TapPort[] = [];
try {
  for (const ns of [A, B, C, D]) netnsAdd(ns);
  const ta = new TapPort({ name: 'tap0', pool, netns: netnsPath(A) });
  const tb = new TapPort({ name: 'tap0', pool, netns: netnsPath(B) });
  ports.push(ta, tb);
  ip(A, 'addr', 'add', '10.66.0.1/24', 'dev', 'tap0');
  ip(B, 'addr', 'add', '10.66.0.2/24', 'dev', 'tap0');
  ip(A, 'link', 'set', 'tap0', 'up');
  ip(B, 'link', 'set', 'tap0', 'up');
  vethPair(C, 'v0', D, 'v0');
  ip(C, 'addr', 'add', '10.67.0.1/24', 'dev', 'v0');
  ip(D, 'addr', 'add', '10.67.0.2/24', 'dev', 'v0');
  ip(C, 'link', 'set', 'v0', 'up');
  ip(D, 'link', 'set', 'v0', 'up');
  const forward = (to: IoBackend) => (_from: IoBackend, batch: Batch) => {
    to.txBurst(batch);
    for (let i = 0; i < batch.count; i++) pool.free(batch.packets[i]!);
    batch.clear();
  };
  poller.add(ta, forward(tb));
  poller.add(tb, forward(ta));
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const nvo = await pingPong(B, A, '10.66.0.2', N);
  const cpu = process.cpuUsage(cpu0);
  const wall = Date.now() - t0;
  const veth = await pingPong(D, C, '10.67.0.2', N);
  const m = machine();
  console.log(`machine: ${m.cpu} × ${m.cores}, kernel ${m.kernel}, node ${m.node}; ${N} pings, 2 ms apart`);
  console.log('path                 p50 µs   p90 µs   p99 µs');
  for (const [name, xs] of [
    ['veth (kernel)', veth],
    ['tap-js-tap (nvo)', nvo],
  ] as const)
    console.log(
      `${name.padEnd(18)} ${[50, 90, 99].map((p) => percentile(xs, p).toFixed(0).padStart(8)).join(' ')}`,
    );
  console.log(
    `added: p50 ${(percentile(nvo, 50) - percentile(veth, 50)).toFixed(0)} µs, p99 ${(percentile(nvo, 99) - percentile(veth, 99)).toFixed(0)} µs; ` +
      `forwarder CPU ${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(1)} % of a core while idle-ish; ` +
      `wake-ups ${poller.wakeups} (${poller.emptyWakeups} empty) for ${ta.counters.get('rx-packets') + tb.counters.get('rx-packets')} frames`,
  );
} finally {
  poller.close();
  for (const p of ports) p.close();
  for (const ns of [A, B, C, D]) netnsDel(ns);
}
