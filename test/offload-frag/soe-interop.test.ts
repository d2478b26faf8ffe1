// VXLAN-SOE on the wire, read by tshark (no SOE dissector: S shows as the GBP "G" flag and the MSS
// bytes as GBP/reserved fields, reference/encapsulations.md §12): tshark must reassemble nvo's outer
// IPv4 fragments into one UDP datagram with a good checksum, find VXLAN VNI 42 in it, and decode the
// 30,000-byte inner TCP segment with a good checksum.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FRAGMENTED, SoeTransmitter } from '../../src/offload/soe-tx.ts';
import { Batch } from '../../src/packet/batch.ts';
import { GSO_TCPV4, type Packet, SUPERFRAME } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { fields, needTshark, tshark, tsharkMalformed } from '../harness/tools.ts';
import { guestTcp, load } from './build.ts';

describe('vxlan-soe vs tshark', { skip: needTshark() }, () => {
  it('tshark reassembles the outer datagram and decodes VXLAN + the whole inner TCP segment', () => {
    const big = new Pool(1, SUPER_SLOT);
    const small = new Pool(64);
    const p = load(big, guestTcp(30000));
    p.flags |= SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    p.gsoSize = 1448;
    const out = new Batch(64);
    assert.equal(new SoeTransmitter({ vni: 42 }, small).send(p, 1500, out), FRAGMENTED);
    const frames = (out.packets.slice(0, out.count) as Packet[]).map((q) => q.bytes());
    const layers = tshark(frames, {
      prefs: [
        'ip.defragment:TRUE',
        'udp.check_checksum:TRUE',
        'tcp.check_checksum:TRUE',
        'ip.check_checksum:TRUE',
      ],
    });
    for (const l of layers) assert.equal(tsharkMalformed(l), undefined);
    const last = layers.at(-1)!;
    assert.deepEqual(fields(last, 'ip.fragment.count'), [String(frames.length)]);
    assert.deepEqual(fields(last, 'udp.checksum.status'), ['1']);
    assert.deepEqual(fields(last, 'vxlan.vni'), ['42']);
    assert.deepEqual(fields(last, 'vxlan.flag_g'), ['1']); // the S bit, seen as GBP's G
    assert.deepEqual(fields(last, 'tcp.len'), ['30000']);
    assert.deepEqual(fields(last, 'tcp.checksum.status'), ['1']);
    assert.deepEqual(fields(last, 'ip.src'), ['192.0.2.1', '10.0.0.1']);
  });
});
