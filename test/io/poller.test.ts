// The event-loop poller end to end: two TAPs (vnet headers on) in two namespaces joined only by a JS
// forwarder woken by uv_poll. A kernel UDP ping-pong (ARP included) must get through, and the added
// latency is reported beside a plain veth between two namespaces (performance.md §9 G3).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IoBackend } from '../../src/io/io-backend.ts';
import { Poller } from '../../src/io/poller.ts';
import { TapPort } from '../../src/io/tap.ts';
import type { Batch } from '../../src/packet/batch.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import {
  ip,
  netnsAdd,
  netnsDel,
  netnsPath,
  nsRun,
  nsSpawn,
  uniqueName,
  vethPair,
} from '../../testbed/netns.ts';
import { percentile as pct, pingPong } from '../../testbed/pingpong.ts';
import { skipReason, sleep } from './helpers.ts';

const skip = skipReason() || false;

describe('Poller: TAP ↔ JS ↔ TAP', { skip }, () => {
  const tag = uniqueName();
  const A = `${tag}a`;
  const B = `${tag}b`;
  const C = `${tag}c`;
  const D = `${tag}d`;
  const pool = new Pool(256, SUPER_SLOT);
  const poller = new Poller();
  let ta: TapPort;
  let tb: TapPort;

  before(() => {
    for (const ns of [A, B, C, D]) netnsAdd(ns);
    ta = new TapPort({ name: 'tap0', pool, netns: netnsPath(A) });
    tb = new TapPort({ name: 'tap0', pool, netns: netnsPath(B) });
    ip(A, 'addr', 'add', '10.66.0.1/24', 'dev', 'tap0');
    ip(B, 'addr', 'add', '10.66.0.2/24', 'dev', 'tap0');
    ip(A, 'link', 'set', 'tap0', 'up');
    ip(B, 'link', 'set', 'tap0', 'up');
    // The reference: the same ping-pong over a plain veth.
    vethPair(C, 'v0', D, 'v0');
    ip(C, 'addr', 'add', '10.67.0.1/24', 'dev', 'v0');
    ip(D, 'addr', 'add', '10.67.0.2/24', 'dev', 'v0');
    ip(C, 'link', 'set', 'v0', 'up');
    ip(D, 'link', 'set', 'v0', 'up');
    const forward = (to: IoBackend) => (_from: IoBackend, batch: Batch) => {
      const sent = to.txBurst(batch);
      // Unsent ones (tx queue full) are dropped here; the test counts on none being dropped.
      for (let i = 0; i < batch.count; i++) pool.free(batch.packets[i]!);
      if (sent < batch.count) dropped += batch.count - sent;
      batch.clear();
    };
    poller.add(ta, forward(tb));
    poller.add(tb, forward(ta));
  });
  let dropped = 0;

  after(() => {
    poller.close();
    ta?.close();
    tb?.close();
    for (const ns of [A, B, C, D]) netnsDel(ns);
  });

  it('forwards a UDP ping-pong (with ARP) and flushes every burst: latency stays low', async (t) => {
    const n = 100;
    const rtt = await pingPong(B, A, '10.66.0.2', n);
    assert.equal(rtt.length, n, 'every ping answered');
    assert.equal(dropped, 0);
    assert.ok(ta.counters.get('rx-packets') >= n + 1 && tb.counters.get('rx-packets') >= n + 1);
    const base = await pingPong(D, C, '10.67.0.2', n);
    const added50 = pct(rtt, 50) - pct(base, 50);
    const added99 = pct(rtt, 99) - pct(base, 99);
    t.diagnostic(
      `UDP RTT p50/p99 µs: through nvo TAP pair ${pct(rtt, 50).toFixed(0)}/${pct(rtt, 99).toFixed(0)}, ` +
        `veth ${pct(base, 50).toFixed(0)}/${pct(base, 99).toFixed(0)}; added ${added50.toFixed(0)}/${added99.toFixed(0)}; ` +
        `wakeups ${poller.wakeups}, empty ${poller.emptyWakeups}`,
    );
    // Generous bound for a loaded 2-vCPU CI machine; the goal (G3) is 50 µs p50, checked by the bench.
    assert.ok(added50 < 2000, `added p50 latency ${added50} µs: is the batch flushed on idle?`);
    // Idle → no busy loop: the forwarder woke about once per packet, not thousands of times.
    assert.ok(poller.wakeups < 20 * (n + 10), `wakeups ${poller.wakeups}`);
  });

  it('carries TCP superframes end to end (TSO from the kernel, vnet GSO metadata forwarded, checksums left partial)', async () => {
    const before = ta.counters.get('rx-superframes');
    const n = 4 << 20;
    const srv = nsSpawn(B, '/usr/bin/python3', [
      '-c',
      [
        'import socket, hashlib',
        's=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
        "s.bind(('10.66.0.2', 7700)); s.listen(1); s.settimeout(20)",
        'c,_=s.accept(); h=hashlib.sha256(); t=0',
        'while True:',
        '  d=c.recv(1<<20)',
        '  if not d: break',
        '  h.update(d); t+=len(d)',
        'print(t, h.hexdigest())',
      ].join('\n'),
    ]);
    let out = '';
    srv.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const done = new Promise((res) => srv.on('exit', res));
    for (let i = 0; i < 200 && !nsRun(B, '/usr/bin/ss', ['-Hltn', 'sport = :7700']).trim(); i++)
      await sleep(20);
    const sent = await new Promise<string>((res, rej) => {
      const c = nsSpawn(A, '/usr/bin/python3', [
        '-c',
        [
          'import socket, hashlib',
          `data=bytes((i*13)&255 for i in range(${n}))`,
          "s=socket.create_connection(('10.66.0.2', 7700)); s.sendall(data); s.close()",
          'print(len(data), hashlib.sha256(data).hexdigest())',
        ].join('\n'),
      ]);
      let o = '';
      c.stdout!.on('data', (d: Buffer) => {
        o += d.toString();
      });
      c.on('exit', (code) => (code === 0 ? res(o) : rej(new Error(`tcp client exited ${code}`))));
    });
    await done;
    assert.equal(out.trim(), sent.trim(), 'the receiver got every byte, in order');
    const supers = ta.counters.get('rx-superframes') - before;
    assert.ok(supers > 0, 'the kernel handed the TAP TSO superframes');
    assert.ok(tb.counters.get('tx-superframes') >= supers, 'and they were written on as superframes');
    assert.equal(dropped, 0);
  });
});
