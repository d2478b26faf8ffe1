// An AF_PACKET port with a MAC of nvo's own (AfPacketOptions.mac): the kernel must list it in the
// interface's unicast filter while the socket is open (PACKET_MR_UNICAST; `bridge fdb show` dumps
// that list, and a veth, which has no filter, turns promiscuous instead), drop it on close, and its
// IP stack must then leave frames sent to that MAC alone: /proc/net/snmp Ip InReceives (counted
// after the PACKET_OTHERHOST check in ip_rcv_core) stays put for them, while frames to the
// interface's own MAC are all taken in, routed and dropped by the host.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsPath, nsRun } from '../../testbed/netns.ts';
import { py, receive, skipReason, snmp, useVethBed } from './helpers.ts';

const skip = skipReason() || false;
const DEV_MAC = '02:00:00:99:00:01';
const OWN_MAC = '02:4e:56:4f:aa:01';
const macBytes = (s: string) => Uint8Array.from(s.split(':').map((x) => Number.parseInt(x, 16)));

describe('AF_PACKET port with its own MAC', { skip }, () => {
  const { H, P } = useVethBed(() => {
    // H is a raw-underlay host: no address of its own on ul0 (nvo would own it).
    ip(H, 'link', 'set', 'ul0', 'address', DEV_MAC);
    ip(H, 'link', 'set', 'ul0', 'up');
    ip(P, 'addr', 'add', '10.99.0.2/24', 'dev', 'ul0');
    ip(P, 'link', 'set', 'ul0', 'up');
  });

  const unicastList = () =>
    nsRun(H, '/usr/sbin/bridge', ['fdb', 'show', 'dev', 'ul0'])
      .split('\n')
      .filter((l) => l.includes('self permanent'))
      .map((l) => l.split(' ')[0]);
  const promiscuity = () => Number(/promiscuity (\d+)/.exec(ip(H, '-d', 'link', 'show', 'ul0'))![1]);

  /** Sends `n` 18-byte UDP datagrams from P to 10.99.0.1 through the neighbour entry `mac`. */
  const sendTo = (mac: string, n: number) => {
    ip(P, 'neigh', 'replace', '10.99.0.1', 'lladdr', mac, 'dev', 'ul0');
    py(
      P,
      `import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${n}): s.sendto(b'x'*18, ('10.99.0.1', 6000))`,
    );
  };
  const udpTo = (got: { bytes: Uint8Array }[], mac: string) =>
    got.filter(
      (g) =>
        g.bytes.length >= 42 &&
        g.bytes.subarray(0, 6).every((x, i) => x === macBytes(mac)[i]) &&
        g.bytes[23] === 17,
    ).length;

  it('is in the interface unicast list while open, frames to it skip the host IP stack, gone on close', async () => {
    assert.ok(!unicastList().includes(OWN_MAC));
    const before0 = promiscuity();
    const port = new AfPacketPort({
      ifname: 'ul0',
      pool: new Pool(256, SUPER_SLOT),
      netns: netnsPath(H),
      mac: macBytes(OWN_MAC),
    });
    try {
      assert.ok(unicastList().includes(OWN_MAC), `unicast list: ${unicastList().join(' ')}`);
      // veth has no unicast filter (no IFF_UNICAST_FLT): the kernel makes it promiscuous instead.
      assert.equal(promiscuity(), before0 + 1);

      const n = 200;
      let in0 = snmp(H, 'Ip', 'InReceives');
      sendTo(OWN_MAC, n);
      let got = await receive(port, (g) => udpTo(g, OWN_MAC) >= n, 3000);
      assert.equal(udpTo(got, OWN_MAC), n, 'the port read every frame sent to its own MAC');
      assert.equal(snmp(H, 'Ip', 'InReceives') - in0, 0, 'the host IP stack took none of them');

      // The control: the same frames to the interface's MAC reach the port and the host's IP stack.
      in0 = snmp(H, 'Ip', 'InReceives');
      sendTo(DEV_MAC, n);
      got = await receive(port, (g) => udpTo(g, DEV_MAC) >= n, 3000);
      assert.equal(udpTo(got, DEV_MAC), n);
      assert.equal(snmp(H, 'Ip', 'InReceives') - in0, n, 'the host IP stack took every one');
    } finally {
      port.close();
    }
    assert.ok(!unicastList().includes(OWN_MAC), 'closing the socket removed the address');
    assert.equal(promiscuity(), before0);
  });

  it('rejects a MAC that is not 6 bytes with a TypeError (checked before any socket is made)', () => {
    assert.throws(
      () =>
        new AfPacketPort({
          ifname: 'ul0',
          pool: new Pool(16, SUPER_SLOT),
          netns: netnsPath(H),
          mac: Uint8Array.of(2, 0, 0, 0, 0),
        }),
      TypeError,
    );
  });
});
