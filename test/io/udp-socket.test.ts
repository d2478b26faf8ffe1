// UDP sockets with UDP_SEGMENT (send) and UDP_GRO (receive) against kernel sockets in namespaces.
//
//   ns S: s0 10.55.0.1/24  ══ veth ══  r0 10.55.0.2/24 :ns R
//
// The sender's veth has GSO/TSO/UDP segmentation off (the kernel segments in software, like a NIC) and
// the receiver's has GRO on (like a NIC's GRO), as performance.md §10 recommends for a real wire.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UdpSocketPort } from '../../src/io/udp-socket.ts';
import { Batch } from '../../src/packet/batch.ts';
import { GSO_UDP_L4 } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import {
  ip,
  netnsAdd,
  netnsDel,
  netnsPath,
  nsRun,
  nsSpawn,
  setOffloads,
  uniqueName,
  vethPair,
} from '../../testbed/netns.ts';
import { py, receive, skipReason, sleep } from './helpers.ts';

const skip = skipReason() || false;

/** Deterministic payload bytes: (seed + 31·i) mod 251 (a prime, so no short period). */
function payload(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed + 31 * i) % 251;
  return b;
}

describe('UDP GSO/GRO sockets against kernel sockets', { skip }, () => {
  const tag = uniqueName();
  const S = `${tag}s`;
  const R = `${tag}r`;
  const pool = new Pool(64, SUPER_SLOT);

  before(() => {
    netnsAdd(S);
    netnsAdd(R);
    vethPair(S, 's0', R, 'r0');
    ip(S, 'addr', 'add', '10.55.0.1/24', 'dev', 's0');
    ip(R, 'addr', 'add', '10.55.0.2/24', 'dev', 'r0');
    ip(S, 'link', 'set', 's0', 'up');
    ip(R, 'link', 'set', 'r0', 'up');
    setOffloads(S, 's0', { tso: 'off', gso: 'off', 'tx-udp-segmentation': 'off' });
    setOffloads(R, 'r0', { gro: 'on' });
  });

  after(() => {
    netnsDel(S);
    netnsDel(R);
  });

  it('UDP_SEGMENT: one sendmmsg of three buffers arrives as gsoSize datagrams at a plain kernel socket', async () => {
    const tx = new UdpSocketPort({ address: '10.55.0.1', port: 0, pool, gro: false, netns: netnsPath(S) });
    const code = [
      'import socket, sys',
      's=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      "s.bind(('10.55.0.2', 7000))",
      's.settimeout(1.5)',
      'try:',
      '  while True:',
      '    d=s.recv(65535); print(d.hex()); sys.stdout.flush()',
      'except socket.timeout: pass',
    ].join('\n');
    const child = nsSpawn(R, '/usr/bin/python3', ['-c', code]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((res) => child.on('exit', res));
    try {
      for (let i = 0; i < 200 && !nsRun(R, '/usr/bin/ss', ['-Hlun', 'sport = :7000']).trim(); i++)
        await sleep(20);
      const sends = [
        { data: payload(10000, 1), gso: 1400 },
        { data: payload(100, 2), gso: 0 },
        { data: payload(3000, 3), gso: 1000 },
      ];
      const b = new Batch(8);
      for (const s of sends) {
        const p = pool.alloc()!;
        p.buf.set(s.data, p.start);
        p.end = p.start + s.data.length;
        p.tunIpVersion = 4;
        p.tunDst.set([10, 55, 0, 2]);
        p.tunDstPort = 7000;
        p.gsoSize = s.gso;
        b.push(p);
      }
      assert.equal(tx.txBurst(b), 3, 'all three consumed by one call');
      for (let i = 0; i < b.count; i++) pool.free(b.packets[i]!);
      await exited;
      const got = out.trim().split('\n').filter(Boolean);
      const want: string[] = [];
      for (const s of sends) {
        const seg = s.gso || s.data.length;
        for (let o = 0; o < s.data.length; o += seg)
          want.push(Buffer.from(s.data.subarray(o, o + seg)).toString('hex'));
      }
      assert.deepEqual(
        got.map((h) => h.length / 2),
        [1400, 1400, 1400, 1400, 1400, 1400, 1400, 200, 100, 1000, 1000, 1000],
      );
      assert.deepEqual(got, want);
      assert.equal(tx.counters.get('tx-packets'), 3);
    } finally {
      tx.close();
      if (child.exitCode === null) child.kill();
    }
  });

  it('UDP_GRO: datagrams cut by the kernel on the wire come back merged with the gso_size cmsg', async () => {
    const rx = new UdpSocketPort({ address: '10.55.0.2', port: 7001, pool, gro: true, netns: netnsPath(R) });
    try {
      // A kernel sender with UDP_SEGMENT 1400 (SOL_UDP 17, UDP_SEGMENT 103): 20 datagrams on the wire.
      py(
        S,
        [
          'import socket',
          's=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
          's.setsockopt(17, 103, 1400)',
          "s.sendto(bytes((1 + 31*i) % 251 for i in range(28000)), ('10.55.0.2', 7001))",
        ].join('\n'),
      );
      let total = 0;
      const got = await receive(rx, (g) => {
        total = g.reduce((n, f) => n + f.bytes.length, 0);
        return total >= 28000;
      });
      assert.equal(total, 28000);
      const joined = Buffer.concat(got.map((f) => Buffer.from(f.bytes)));
      assert.ok(joined.equals(Buffer.from(payload(28000, 1))), 'bytes in order and intact');
      const merged = got.filter((f) => f.bytes.length > 1400);
      assert.ok(
        merged.length > 0,
        `GRO merged nothing: reads of ${got.map((f) => f.bytes.length).join(',')}`,
      );
      for (const f of merged) {
        assert.equal(f.gsoType, GSO_UDP_L4);
        assert.equal(f.gsoSize, 1400);
        assert.equal(
          f.bytes.length % 1400 === 0 || f === got.at(-1),
          true,
          'only the last read may end short',
        );
      }
      assert.equal(got[0]!.tunSrcPort > 0, true);
      assert.ok(got.length < 20, `fewer reads (${got.length}) than datagrams (20)`);
    } finally {
      rx.close();
    }
  });
});
