// UDP transmit packing (src/io/udp-tx-pack.ts) on a real AF_PACKET port: a batch of small datagrams of
// one flow leaves as one UDP GSO superframe, and the Linux kernel must cut it back into exactly those
// datagrams. The kernel on the far end of the veth is the oracle: its UDP socket must receive every
// payload, in order, and count no checksum error (it verifies the IPv4 header checksum and the UDP
// checksum the GSO engine wrote per datagram). A datagram that breaks the run (another source port)
// goes out on its own between two packed runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { Batch } from '../../src/packet/batch.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsPath, nsRunAsync } from '../../testbed/netns.ts';
import { fold16, skipReason, sleep, snmp, sum16, useVethBed } from './helpers.ts';

const skip = skipReason() || false;
const H_MAC = [2, 0, 0, 0x99, 0, 1];
const P_MAC = [2, 0, 0, 0x99, 0, 2];

/** Ethernet/IPv4/UDP 10.99.0.1:sport → 10.99.0.2:dport, UDP checksum 0 (VXLAN's default), `data`. */
function frame(sport: number, dport: number, id: number, data: Uint8Array): Uint8Array {
  const f = new Uint8Array(42 + data.length);
  f.set(P_MAC, 0);
  f.set(H_MAC, 6);
  f.set([0x08, 0x00, 0x45, 0, (28 + data.length) >> 8, (28 + data.length) & 0xff, id >> 8, id & 0xff], 12);
  f.set([0x40, 0, 64, 17, 0, 0, 10, 99, 0, 1, 10, 99, 0, 2], 20);
  const c = ~fold16(sum16(f, 14, 34)) & 0xffff;
  f[24] = c >> 8;
  f[25] = c & 0xff;
  f.set(
    [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, (8 + data.length) >> 8, (8 + data.length) & 0xff],
    34,
  );
  f.set(data, 42);
  return f;
}

describe('UDP transmit packing against the kernel', { skip }, () => {
  const { H, P } = useVethBed(() => {
    ip(H, 'link', 'set', 'ul0', 'address', H_MAC.map((x) => x.toString(16).padStart(2, '0')).join(':'));
    ip(P, 'link', 'set', 'ul0', 'address', P_MAC.map((x) => x.toString(16).padStart(2, '0')).join(':'));
    ip(H, 'link', 'set', 'ul0', 'up');
    ip(P, 'addr', 'add', '10.99.0.2/24', 'dev', 'ul0');
    ip(P, 'link', 'set', 'ul0', 'up');
  });

  it('30 datagrams, a stranger, 20 more: two packed superframes and one plain frame, all received intact', async () => {
    const pool = new Pool(128, SUPER_SLOT);
    const port = new AfPacketPort({ ifname: 'ul0', pool, netns: netnsPath(H), packUdp: true });
    // P's kernel receives everything on one socket (:6000, so the wire order is kept) and prints each
    // datagram's source port and payload; the stranger comes from port 4001, the runs from 4000.
    const sink = nsRunAsync(
      P,
      '/usr/bin/python3',
      [
        '-c',
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('10.99.0.2',6000))\n" +
          's.settimeout(1.5)\nout=[]\ntry:\n while True:\n  d,a=s.recvfrom(2048)\n  out.append(str(a[1])+":"+d.hex())\n' +
          'except socket.timeout: pass\nprint(" ".join(out))',
      ],
      20_000,
    );
    await sleep(400);
    const csum0 = snmp(P, 'Udp', 'InCsumErrors');
    const payload = (k: number) => Uint8Array.from({ length: 18 }, (_, i) => (k * 31 + i) & 0xff);
    const sent: string[] = [];
    const b = new Batch(64);
    try {
      for (let k = 0; k < 51; k++) {
        const stranger = k === 30;
        const data = payload(k);
        b.push(pool.allocCopy(frame(stranger ? 4001 : 4000, 6000, 100 + k, data))!);
        sent.push(`${stranger ? 4001 : 4000}:${Buffer.from(data).toString('hex')}`);
      }
      assert.equal(port.txBurst(b), 51);
      for (let i = 0; i < b.count; i++) pool.free(b.packets[i]!);
      b.clear();
      const got = (await sink).trim().split(' ');
      assert.deepEqual(got, sent);
      assert.equal(snmp(P, 'Udp', 'InCsumErrors') - csum0, 0);
      assert.equal(port.counters.get('tx-udp-packed'), 2);
      assert.equal(port.counters.get('tx-packets'), 51);
    } finally {
      port.close();
    }
  });
});
