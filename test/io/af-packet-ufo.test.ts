// VXLAN-SOE's big datagram handed to the kernel whole (UFO: VIRTIO_NET_HDR_GSO_UDP on an AF_PACKET
// vnet_hdr port) must reach the wire as exactly the fragments nvo's own fragment4() makes: the kernel's
// software GSO (udp4_ufo_fragment + inet_gso_segment) is the oracle. Same IP ID, same 1480-byte
// fragment payloads and offsets, same outer UDP checksum (the kernel computes it over the whole
// datagram, as SoeTransmitter does with udpCsum on), same IPv4 header checksums: byte for byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { FRAGMENTED, IN_PLACE, SoeTransmitter } from '../../src/offload/soe-tx.ts';
import { Batch } from '../../src/packet/batch.ts';
import { GSO_TCPV4, GSO_UDP, type Packet, SUPERFRAME } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsPath } from '../../testbed/netns.ts';
import { guestTcp, load } from '../offload-frag/build.ts';
import { receive, skipReason, useVethBed } from './helpers.ts';

const skip = skipReason() || false;

describe('VXLAN-SOE over UFO: the kernel fragments as nvo does', { skip }, () => {
  const { H, P } = useVethBed(() => {
    ip(H, 'link', 'set', 'ul0', 'up');
    ip(P, 'link', 'set', 'ul0', 'up');
  });

  it('one UFO send = fragment4() output, byte for byte', async () => {
    const big = new Pool(4, SUPER_SLOT);
    const small = new Pool(128);
    const superframe = (): Packet => {
      const p = load(big, guestTcp(30000));
      p.flags |= SUPERFRAME;
      p.gsoType = GSO_TCPV4;
      p.gsoSize = 1448;
      return p;
    };
    const tx = new SoeTransmitter({ vni: 42 }, small);
    // nvo's fragments: the expected wire.
    const mine = new Batch(64);
    tx.ipId = 0x4242;
    const q = superframe();
    assert.equal(tx.send(q, 1500, mine), FRAGMENTED);
    big.free(q);
    const want = (mine.packets.slice(0, mine.count) as Packet[]).map((x) => x.bytes());
    assert.equal(want.length, 21, '30,054 bytes of UDP datagram in 1480-byte pieces');
    // The same datagram as one UFO superframe through a real vnet_hdr port.
    const out = new Batch(4);
    tx.ipId = 0x4242;
    const p = superframe();
    assert.equal(tx.send(p, 1500, out, true), IN_PLACE);
    assert.equal(p.gsoType, GSO_UDP);
    assert.equal(p.gsoSize, 1480);
    const sender = new AfPacketPort({ ifname: 'ul0', pool: new Pool(8, SUPER_SLOT), netns: netnsPath(H) });
    const wire = new AfPacketPort({
      ifname: 'ul0',
      pool: new Pool(128, SUPER_SLOT),
      netns: netnsPath(P),
      vnetHdr: false,
    });
    try {
      assert.equal(sender.txBurst(out), 1, 'the kernel took the UFO frame');
      const isOurs = (g: { bytes: Uint8Array }) => g.bytes[23] === 17 && g.bytes[18] === 0x42;
      const got = (await receive(wire, (g) => g.filter(isOurs).length >= want.length, 3000)).filter(isOurs);
      assert.equal(got.length, want.length, 'as many fragments as nvo makes');
      for (let i = 0; i < want.length; i++)
        assert.deepEqual(Buffer.from(got[i]!.bytes), Buffer.from(want[i]!), `fragment ${i}`);
    } finally {
      sender.close();
      wire.close();
    }
  });
});
