// The pure-Node fallback (node:dgram) against itself over loopback, driven by the Poller: the same
// contract as the native UDP port (addresses in tunnel metadata, gsoSize cuts datagrams on send).
// Needs neither root nor the addon.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Poller } from '../../src/io/poller.ts';
import { UdpDgramPort } from '../../src/io/udp-dgram.ts';
import { Batch } from '../../src/packet/batch.ts';
import { Pool } from '../../src/packet/pool.ts';

describe('UdpDgramPort (node:dgram fallback)', () => {
  it('sends a batch (cutting a gsoSize superframe) and receives it through the poller', async () => {
    const pool = new Pool(64);
    const a = await UdpDgramPort.open({ address: '127.0.0.1', port: 0, pool });
    const b = await UdpDgramPort.open({ address: '127.0.0.1', port: 0, pool, queueLimit: 16 });
    const poller = new Poller();
    const got: { len: number; first: number; srcPort: number; ver: number; src: string }[] = [];
    poller.add(b, (_port, batch) => {
      for (let i = 0; i < batch.count; i++) {
        const p = batch.packets[i]!;
        got.push({
          len: p.length,
          first: p.buf[p.start]!,
          srcPort: p.tunSrcPort,
          ver: p.tunIpVersion,
          src: p.tunSrc.subarray(0, 4).join('.'),
        });
        pool.free(p);
      }
      batch.clear();
    });
    try {
      const out = new Batch(4);
      for (const [len, gso, fill] of [
        [1000, 400, 1],
        [64, 0, 2],
      ] as const) {
        const p = pool.alloc()!;
        p.buf.fill(fill, p.start, p.start + len);
        p.end = p.start + len;
        p.gsoSize = gso;
        p.tunIpVersion = 4;
        p.tunDst.set([127, 0, 0, 1]);
        p.tunDstPort = b.port;
        out.push(p);
      }
      assert.equal(a.txBurst(out), 2);
      for (let i = 0; i < out.count; i++) pool.free(out.packets[i]!);
      for (let i = 0; i < 100 && got.length < 4; i++) await sleep(10);
      assert.deepEqual(
        got.map((g) => [g.len, g.first]),
        [
          [400, 1],
          [400, 1],
          [200, 1],
          [64, 2],
        ],
      );
      assert.ok(got.every((g) => g.srcPort === a.port && g.ver === 4 && g.src === '127.0.0.1'));
      assert.equal(b.counters.get('rx-packets'), 4);
      assert.equal(a.counters.get('tx-packets'), 2);
    } finally {
      poller.close();
      a.close();
      b.close();
    }
    assert.equal(pool.available, 64, 'every packet back in the pool');
  });

  it('drops beyond its queue limit and counts it (no unbounded buffering)', async () => {
    const pool = new Pool(64);
    const a = await UdpDgramPort.open({ address: '127.0.0.1', port: 0, pool });
    const b = await UdpDgramPort.open({ address: '127.0.0.1', port: 0, pool, queueLimit: 5 });
    try {
      const out = new Batch(1);
      const p = pool.alloc()!;
      p.end = p.start + 10;
      p.gsoSize = 1;
      p.tunIpVersion = 4;
      p.tunDst.set([127, 0, 0, 1]);
      p.tunDstPort = b.port;
      out.push(p);
      a.txBurst(out);
      pool.free(p);
      for (let i = 0; i < 100 && b.counters.get('rx-drop-queue-full') + 5 < 10; i++) await sleep(10);
      assert.equal(b.counters.get('rx-drop-queue-full'), 5);
    } finally {
      a.close();
      b.close();
    }
    assert.equal(pool.available, 64);
  });

  it('frame mode (a UDP guest): frames to and from the peer only, whole, no tunnel metadata', async () => {
    const pool = new Pool(16);
    const vm = await UdpDgramPort.open({ address: '127.0.0.1', port: 0, pool });
    const stranger = await UdpDgramPort.open({ address: '127.0.0.1', port: 0, pool });
    const g = await UdpDgramPort.open({
      address: '127.0.0.1',
      port: 0,
      pool,
      peer: { address: '127.0.0.1', port: vm.port },
    });
    try {
      assert.equal(g.kind, 'udp-frames');
      assert.equal(g.caps.l2, true);
      const send = (from: UdpDgramPort, len: number, gso: number) => {
        const out = new Batch(1);
        const p = pool.alloc()!;
        p.buf.fill(7, p.start, p.start + len);
        p.end = p.start + len;
        p.gsoSize = gso;
        p.tunIpVersion = 4;
        p.tunDst.set([127, 0, 0, 1]);
        p.tunDstPort = from === g ? 9 : g.port; // ignored in frame mode: the peer is fixed
        out.push(p);
        from.txBurst(out);
        pool.free(p);
      };
      send(vm, 100, 0);
      send(stranger, 100, 0);
      send(g, 1000, 400); // to the VM, whole: a frame is never cut by gsoSize
      const inG = new Batch(4);
      const inVm = new Batch(4);
      for (
        let i = 0;
        i < 100 && (g.counters.get('rx-packets') + g.counters.get('rx-drop-not-peer') < 2 || inVm.count < 1);
        i++
      ) {
        await sleep(10);
        g.rxBurst(inG);
        vm.rxBurst(inVm);
      }
      assert.equal(inG.count, 1);
      const f = inG.packets[0]!;
      assert.equal(f.length, 100);
      assert.equal(f.l2, f.start);
      assert.equal(f.tunIpVersion, 0, 'no tunnel metadata on a guest frame');
      assert.equal(g.counters.get('rx-drop-not-peer'), 1);
      assert.equal(inVm.count, 1);
      assert.equal(inVm.packets[0]!.length, 1000);
      for (const b of [inG, inVm]) for (let i = 0; i < b.count; i++) pool.free(b.packets[i]!);
    } finally {
      vm.close();
      stranger.close();
      g.close();
    }
    assert.equal(pool.available, 16);
  });

  it('ephemeral binds (port 0) never share a port: 1,000 sockets on 127.0.0.1 get 1,000 ports', async () => {
    // SO_REUSEADDR on both sockets would let the kernel's ephemeral pick hand out a port another one
    // holds (src/io/udp-socket.test.ts has the arithmetic): two ports would then get each other's frames.
    const pool = new Pool(1);
    const ports: UdpDgramPort[] = [];
    try {
      for (let i = 0; i < 1000; i++)
        ports.push(await UdpDgramPort.open({ address: '127.0.0.1', port: 0, pool, queueLimit: 1 }));
      assert.equal(new Set(ports.map((p) => p.port)).size, 1000);
    } finally {
      for (const p of ports) p.close();
    }
  });
});
