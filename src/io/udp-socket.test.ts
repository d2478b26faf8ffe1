// UdpSocketPort over IPv6 loopback (no root needed, the addon is): the kernel is the peer on both
// ends. A UDP_SEGMENT send reaches a UDP_GRO socket as one read carrying gso_size (loopback keeps the
// GSO packet whole), and a socket without GRO sees the individual datagrams.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Batch } from '../packet/batch.ts';
import { GSO_UDP_L4, SUPERFRAME } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { loadNative, nativeUnavailable } from './native.ts';
import { UdpSocketPort } from './udp-socket.ts';

const skip = loadNative() ? false : nativeUnavailable();

async function recvAll(port: UdpSocketPort, bytes: number) {
  const got: {
    len: number;
    gsoSize: number;
    gsoType: number;
    flags: number;
    src: Uint8Array;
    srcPort: number;
    ver: number;
    data: Uint8Array;
  }[] = [];
  const b = new Batch(64);
  let total = 0;
  for (let i = 0; i < 200 && total < bytes; i++) {
    const n = port.rxBurst(b);
    for (let k = 0; k < n; k++) {
      const p = b.packets[k]!;
      got.push({
        len: p.length,
        gsoSize: p.gsoSize,
        gsoType: p.gsoType,
        flags: p.flags,
        src: p.tunSrc.slice(),
        srcPort: p.tunSrcPort,
        ver: p.tunIpVersion,
        data: p.bytes(),
      });
      total += p.length;
      port.pool.free(p);
    }
    b.clear();
    if (n === 0) await sleep(5);
  }
  return got;
}

function send(tx: UdpSocketPort, pool: Pool, to: UdpSocketPort, len: number, gso: number): void {
  const b = new Batch(1);
  const p = pool.alloc()!;
  for (let i = 0; i < len; i++) p.buf[p.start + i] = (i * 7) & 0xff;
  p.end = p.start + len;
  p.gsoSize = gso;
  p.tunIpVersion = 6;
  p.tunDst.fill(0);
  p.tunDst[15] = 1;
  p.tunDstPort = to.port;
  b.push(p);
  assert.equal(tx.txBurst(b), 1);
  pool.free(p);
}

describe('UdpSocketPort on loopback', { skip }, () => {
  it('UDP_SEGMENT → UDP_GRO: one read of 3000 bytes with gso_size 1000 and the sender address', async () => {
    const pool = new Pool(16, SUPER_SLOT);
    const rx = new UdpSocketPort({ address: '::1', port: 0, pool, gro: true });
    const tx = new UdpSocketPort({ address: '::1', port: 0, pool, gro: false });
    try {
      send(tx, pool, rx, 3000, 1000);
      const got = await recvAll(rx, 3000);
      assert.deepEqual(
        got.map((g) => [g.len, g.gsoSize, g.gsoType, g.flags & SUPERFRAME]),
        [[3000, 1000, GSO_UDP_L4, SUPERFRAME]],
      );
      assert.equal(got[0]!.ver, 6);
      assert.equal(got[0]!.srcPort, tx.port);
      assert.deepEqual([...got[0]!.src], [...Array(15).fill(0), 1]);
      assert.equal(rx.counters.get('rx-superframes'), 1);
    } finally {
      rx.close();
      tx.close();
    }
  });

  it('without UDP_GRO the receiver sees each gsoSize datagram', async () => {
    const pool = new Pool(16, SUPER_SLOT);
    const rx = new UdpSocketPort({ address: '::1', port: 0, pool, gro: false });
    const tx = new UdpSocketPort({ address: '::1', port: 0, pool, gro: false });
    try {
      send(tx, pool, rx, 2500, 1000);
      const got = await recvAll(rx, 2500);
      assert.deepEqual(
        got.map((g) => [g.len, g.gsoSize]),
        [
          [1000, 0],
          [1000, 0],
          [500, 0],
        ],
      );
      const all = new Uint8Array(got.flatMap((g) => [...g.data]));
      assert.ok(all.every((v, i) => v === ((i * 7) & 0xff)));
    } finally {
      rx.close();
      tx.close();
    }
    assert.equal(pool.available, 16);
  });

  it('sends packets of six pools, interleaved, each from its own slab (more pools than cached views)', async () => {
    // The port keeps one whole-slab view per pool for the addon (4 of them, most recent first): a
    // wrong view would send another pool's bytes at that offset, or fail the frame with EFAULT.
    const pools = Array.from({ length: 6 }, () => new Pool(8, 2048));
    const rxPool = new Pool(64, 2048);
    const rx = new UdpSocketPort({ address: '::1', port: 0, pool: rxPool, gro: false });
    const tx = new UdpSocketPort({ address: '::1', port: 0, pool: rxPool, gro: false });
    const order = [0, 1, 2, 3, 4, 5, 0, 5, 1, 4, 2, 3, 3, 0];
    try {
      const b = new Batch(1);
      for (const [k, i] of order.entries()) {
        const p = pools[i]!.alloc()!;
        p.buf.fill(0xee);
        p.buf.set([i, k], p.start);
        p.end = p.start + 2;
        p.tunIpVersion = 6;
        p.tunDst.fill(0);
        p.tunDst[15] = 1;
        p.tunDstPort = rx.port;
        b.clear();
        b.push(p);
        assert.equal(tx.txBurst(b), 1);
        pools[i]!.free(p);
      }
      const got = await recvAll(rx, order.length * 2);
      assert.deepEqual(
        got.map((g) => [...g.data]),
        order.map((i, k) => [i, k]),
      );
      assert.equal(tx.counters.get('tx-packets'), order.length);
    } finally {
      rx.close();
      tx.close();
    }
  });

  it('a dual-stack :: socket reaches and reports IPv4 peers as IPv4 (not ::ffff:a.b.c.d)', async () => {
    const pool = new Pool(16, SUPER_SLOT);
    const six = new UdpSocketPort({ address: '::', port: 0, pool, gro: false });
    const four = new UdpSocketPort({ address: '127.0.0.1', port: 0, pool, gro: false });
    try {
      const b = new Batch(1);
      const p = pool.alloc()!;
      p.buf.set([1, 2, 3], p.start);
      p.end = p.start + 3;
      p.tunIpVersion = 4;
      p.tunDst.set([127, 0, 0, 1]);
      p.tunDstPort = four.port;
      b.push(p);
      assert.equal(six.txBurst(b), 1);
      pool.free(p);
      assert.equal(six.counters.get('tx-packets'), 1, JSON.stringify(six.counters.snapshot()));
      const at4 = await recvAll(four, 3);
      assert.deepEqual([...at4[0]!.data], [1, 2, 3]);
      assert.equal(at4[0]!.srcPort, six.port);
      // And back: the reply from 127.0.0.1 shows up on the IPv6 socket as an IPv4 peer.
      const r = pool.alloc()!;
      r.buf.set([4, 5], r.start);
      r.end = r.start + 2;
      r.tunIpVersion = 4;
      r.tunDst.set([127, 0, 0, 1]);
      r.tunDstPort = six.port;
      b.clear();
      b.push(r);
      assert.equal(four.txBurst(b), 1);
      pool.free(r);
      const at6 = await recvAll(six, 2);
      assert.equal(at6[0]!.ver, 4);
      assert.deepEqual([...at6[0]!.src], [127, 0, 0, 1, ...Array(12).fill(0)]);
      assert.equal(at6[0]!.srcPort, four.port);
    } finally {
      six.close();
      four.close();
    }
  });

  it('ephemeral binds (port 0) never share a port: 1,000 sockets on 127.0.0.1 get 1,000 ports', () => {
    // With SO_REUSEADDR on both, the kernel's ephemeral pick treats a port another such socket holds
    // as free (udp_lib_lport_inuse), so 1,000 random picks from 28,232 ports would repeat one about
    // 1000²/(2·28232) ≈ 18 times (birthday bound; 1,023 repeats in 8,000 binds measured here).
    const native = loadNative()!;
    const fds: number[] = [];
    const ports = new Set<number>();
    try {
      for (let i = 0; i < 1000; i++) {
        const s = native.udpOpen(4, new Uint8Array([127, 0, 0, 1]), 0, false, null, 0);
        fds.push(s.fd);
        ports.add(s.port);
      }
    } finally {
      for (const fd of fds) native.close(fd);
    }
    assert.equal(ports.size, 1000);
  });
});
