// AF_PACKET (PACKET_VNET_HDR, recvmmsg/sendmmsg) against a kernel VXLAN device as the independent peer.
//
//   ns H: ul0 (no IP; nvo's AF_PACKET port)  ══ veth ══  ul0 10.99.0.2 + vx0 VNI 42 :4789 10.98.0.2/24 :ns P
//
// P's kernel encapsulates what it sends to 10.98.0.1 towards 10.99.0.1 (static neighbours, so no ARP):
// we must read that VXLAN frame. We send a VXLAN-encapsulated ICMP echo request built by scapy; P's
// kernel decapsulates it, answers, and encapsulates the reply back to us: we must read the reply.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { Batch } from '../../src/packet/batch.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsDel, netnsPath } from '../../testbed/netns.ts';
import { fields, haveTshark, tshark } from '../harness/tools.ts';
import { haveScapyQuick, hostAndPeer, py, receive, scapyAsync, skipReason, vethBed } from './helpers.ts';

const skip =
  skipReason() || (!haveScapyQuick() && 'scapy missing') || (!haveTshark() && 'tshark missing') || false;
const H_MAC = '02:00:00:99:00:01';
const G_MAC = '02:00:00:98:00:01'; // the guest "behind" nvo, 10.98.0.1
const VX_MAC = '02:00:00:98:00:02'; // P's vx0
const P_MAC = '02:00:00:99:00:02'; // P's ul0

describe('AF_PACKET with vnet header against kernel VXLAN', { skip }, () => {
  const { H, P } = hostAndPeer();
  // The port keeps up to 64 slots as its rx reserve; the rest is for the frames we build.
  const pool = new Pool(128, SUPER_SLOT);
  let port: AfPacketPort;
  // 16 echo requests (seq 1..16), built by scapy while the namespaces are made (its import takes seconds).
  // flags=0x08 (I only): scapy's default also sets 0x04 (GPE's P bit), which Linux drops as reserved.
  const echo = skip
    ? Promise.resolve('')
    : scapyAsync(
        `f=lambda s: Ether(dst='${P_MAC}',src='${H_MAC}')/IP(src='10.99.0.1',dst='10.99.0.2')/UDP(sport=49999,dport=4789)/VXLAN(flags=0x08,vni=42)/` +
          `Ether(dst='${VX_MAC}',src='${G_MAC}')/IP(src='10.98.0.1',dst='10.98.0.2')/ICMP(type=8,id=0x4e56,seq=s)/Raw(b'nvo-echo'*8)\n` +
          'for s in range(1, 17): print(f(s).build().hex())',
      );
  echo.catch(() => {});

  before(() => {
    vethBed(H, P);
    ip(H, 'link', 'set', 'ul0', 'address', H_MAC);
    ip(H, 'link', 'set', 'ul0', 'up');
    ip(P, 'link', 'set', 'ul0', 'address', P_MAC);
    ip(P, 'addr', 'add', '10.99.0.2/24', 'dev', 'ul0');
    ip(P, 'link', 'set', 'ul0', 'up');
    ip(P, 'neigh', 'add', '10.99.0.1', 'lladdr', H_MAC, 'dev', 'ul0');
    ip(
      P,
      'link',
      'add',
      'vx0',
      'address',
      VX_MAC,
      'type',
      'vxlan',
      'id',
      '42',
      'dstport',
      '4789',
      'local',
      '10.99.0.2',
      'remote',
      '10.99.0.1',
      'dev',
      'ul0',
    );
    ip(P, 'addr', 'add', '10.98.0.2/24', 'dev', 'vx0');
    ip(P, 'link', 'set', 'vx0', 'up');
    ip(P, 'neigh', 'add', '10.98.0.1', 'lladdr', G_MAC, 'dev', 'vx0');
    port = new AfPacketPort({ ifname: 'ul0', pool, netns: netnsPath(H) });
  });

  after(() => {
    port?.close();
    netnsDel(H);
    netnsDel(P);
  });

  const isVxlan = (b: Uint8Array) => b[23] === 17 && ((b[36]! << 8) | b[37]!) === 4789;

  it('receives the kernel VXLAN encapsulation of a datagram sent to a guest address', async () => {
    py(
      P,
      "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'to-the-guest', ('10.98.0.1', 6000))",
    );
    const got = await receive(port, (g) => g.some((f) => isVxlan(f.bytes)));
    const f = got.find((x) => isVxlan(x.bytes));
    assert.ok(f, `no VXLAN frame among ${got.length}`);
    // (The outer UDP checksum may still be partial here, NEEDS_CSUM in the vnet header: not checked.)
    const l = tshark([f.bytes])[0]!;
    assert.deepEqual(fields(l, 'ip.src'), ['10.99.0.2', '10.98.0.2']);
    assert.deepEqual(fields(l, 'ip.dst'), ['10.99.0.1', '10.98.0.1']);
    assert.deepEqual(fields(l, 'vxlan.vni'), ['42']);
    assert.deepEqual(fields(l, 'eth.dst'), [H_MAC, G_MAC]);
    assert.equal(fields(l, 'udp.dstport').at(-1), '6000');
    assert.equal(Buffer.from(f.bytes.subarray(f.bytes.length - 12)).toString(), 'to-the-guest');
  });

  it('sends 16 VXLAN-encapsulated echo requests in one burst; the kernel decapsulates and answers each', async () => {
    const frames = (await echo)
      .trim()
      .split('\n')
      .map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
    assert.equal(frames.length, 16);
    const b = new Batch(16);
    for (const f of frames) {
      const p = pool.allocCopy(f)!;
      b.push(p);
    }
    assert.equal(port.txBurst(b), 16, 'one sendmmsg takes all 16');
    for (let i = 0; i < b.count; i++) pool.free(b.packets[i]!);
    assert.equal(port.counters.get('tx-packets'), 16);
    const isReply = (x: { bytes: Uint8Array }) =>
      isVxlan(x.bytes) && x.bytes[50 + 23] === 1 && x.bytes[50 + 34] === 0;
    const got = await receive(port, (g) => g.filter(isReply).length >= 16);
    const replies = got.filter(isReply);
    assert.equal(
      replies.length,
      16,
      `${replies.length} encapsulated echo replies among ${got.length} frames`,
    );
    const layers = tshark(replies.map((r) => r.bytes));
    for (const l of layers) {
      assert.deepEqual(fields(l, 'vxlan.vni'), ['42']);
      assert.deepEqual(fields(l, 'ip.dst'), ['10.99.0.1', '10.98.0.1']);
      assert.deepEqual(fields(l, 'icmp.type'), ['0']);
      assert.deepEqual(fields(l, 'icmp.ident'), [String(0x4e56)]);
    }
    assert.deepEqual(
      layers.map((l) => Number(fields(l, 'icmp.seq')[0])),
      Array.from({ length: 16 }, (_, i) => i + 1),
      'every request answered, in order',
    );
    assert.ok(Buffer.from(replies[0]!.bytes).includes(Buffer.from('nvo-echonvo-echo')), 'echo data returned');
  });
});
