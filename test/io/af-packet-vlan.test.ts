// AF_PACKET and 802.1Q: the kernel takes the tag out of every frame it receives (skb_vlan_untag in
// __netif_receive_skb_core, before any packet socket sees it) and reports it only in PACKET_AUXDATA.
// The port must hand nvo the frame as the wire carried it, tag included; tshark is the oracle.
//
//   ns H: ul0 (AF_PACKET port)  ══ veth, MTU 9000 ══  ul0 :ns P (a raw socket writes tagged frames)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { NEEDS_CSUM } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsPath } from '../../testbed/netns.ts';
import { fields, haveTshark, tshark } from '../harness/tools.ts';
import { py, receive, skipReason, useVethBed } from './helpers.ts';

const skip = skipReason() || (!haveTshark() && 'tshark missing') || false;
const H_MAC = '020000990001';
const P_MAC = '020000990002';

/** Python that writes tagged IPv4/UDP frames (VLAN `vid`, 10.77.0.2:5000 → 10.77.0.1:6001) on P's ul0. */
function sendTagged(vid: number, payloads: string[], vnet = false): string {
  return (
    'import socket,struct\n' +
    "def ip(n):\n  h=struct.pack('!BBHHHBBH4s4s',0x45,0,28+n,0,0x4000,64,17,0,bytes([10,77,0,2]),bytes([10,77,0,1]))\n" +
    "  c=sum(struct.unpack('!10H',h)); c=(c&0xffff)+(c>>16); c=(c&0xffff)+(c>>16)\n" +
    "  return h[:10]+struct.pack('!H',~c&0xffff)+h[12:]\n" +
    `def f(p): return bytes.fromhex('${H_MAC}${P_MAC}8100${vid.toString(16).padStart(4, '0')}0800')+ip(len(p))+struct.pack('!HHHH',5000,6001,8+len(p),0)+p\n` +
    "s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('ul0',0))\n" +
    // PACKET_VNET_HDR (15): NEEDS_CSUM, csum_start 38 (after the tag and the IPv4 header), offset 6.
    (vnet ? "s.setsockopt(263, 15, 1)\nv=struct.pack('<BBHHHH',1,0,0,0,38,6)\n" : "v=b''\n") +
    payloads.map((p) => `s.send(v+f(${p}))`).join('\n')
  );
}

describe('AF_PACKET keeps 802.1Q tags', { skip }, () => {
  const { H, P } = useVethBed(() => {
    ip(H, 'link', 'set', 'ul0', 'up');
    ip(P, 'link', 'set', 'ul0', 'up');
  }, 9000);

  it('reads tagged frames (58 B and 5046 B) with their tag where the wire had it', async () => {
    const port = new AfPacketPort({ ifname: 'ul0', pool: new Pool(256, SUPER_SLOT), netns: netnsPath(H) });
    try {
      py(P, sendTagged(7, ["b'tagged-small'", "b'T'*5000"]));
      const got = await receive(port, (g) => g.length >= 2);
      assert.equal(got.length, 2);
      const layers = tshark(got.map((g) => g.bytes));
      for (const [i, l] of layers.entries()) {
        assert.deepEqual(fields(l, 'vlan.id'), ['7'], `frame ${i}`);
        assert.deepEqual(fields(l, 'ip.dst'), ['10.77.0.1']);
        assert.deepEqual(fields(l, 'udp.dstport'), ['6001']);
        // A partial checksum's offsets count from the frame start, tag included.
        if ((got[i]!.flags & NEEDS_CSUM) !== 0) assert.equal(got[i]!.csumStart, 14 + 4 + 20);
      }
      assert.equal(Buffer.from(got[0]!.bytes.subarray(46)).toString(), 'tagged-small');
      assert.equal(got[1]!.bytes.length, 14 + 4 + 28 + 5000);
      assert.ok(Buffer.from(got[1]!.bytes.subarray(46)).equals(Buffer.alloc(5000, 0x54)));
      assert.equal(port.counters.get('rx-drop-truncated'), 0);
    } finally {
      port.close();
    }
  });

  it('moves a partial checksum offset with the tag it puts back (csum_start 34 → 38)', async () => {
    const port = new AfPacketPort({ ifname: 'ul0', pool: new Pool(256, SUPER_SLOT), netns: netnsPath(H) });
    try {
      py(P, sendTagged(5, ["b'partial'"], true));
      const got = await receive(port, (g) => g.length >= 1);
      assert.equal(got.length, 1);
      assert.deepEqual(fields(tshark([got[0]!.bytes])[0]!, 'vlan.id'), ['5']);
      assert.ok((got[0]!.flags & NEEDS_CSUM) !== 0, 'the partial checksum crossed the veth');
      assert.deepEqual([got[0]!.csumStart, got[0]!.csumOffset], [38, 6]);
    } finally {
      port.close();
    }
  });

  it('counts a tagged frame whose tag no longer fits the slot as truncated, and reads the next', async () => {
    // 2048-B slots less the headroom: 1792 B of room. The kernel delivers a tagged 1794-B frame as
    // 1790 B, which fits, but not with its 4 tag bytes back; a tagged 1792-B frame fits exactly.
    const port = new AfPacketPort({ ifname: 'ul0', pool: new Pool(256, 2048), netns: netnsPath(H) });
    try {
      const room = port.pool.slotSize - port.pool.headroom;
      const fits = room - 46; // UDP payload of a tagged frame (14 + 4 + 20 + 8 + payload) of `room` bytes
      py(P, sendTagged(9, [`b'a'*${fits + 2}`, `b'b'*${fits}`]));
      const got = await receive(port, (g) => g.length >= 1, 1500);
      assert.equal(got.length, 1);
      assert.equal(got[0]!.bytes.length, room);
      assert.deepEqual(fields(tshark([got[0]!.bytes])[0]!, 'vlan.id'), ['9']);
      assert.equal(port.counters.get('rx-drop-truncated'), 1);
    } finally {
      port.close();
    }
  });
});
