// IPv4 fragmentation against independent implementations: tshark's reassembly (Wireshark
// packet-ip.c + reassemble.c) must rebuild what nvo cut, and nvo must rebuild what scapy's
// fragment() cut (scapy/layers/inet.py).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FRAGMENTED, fragment4 } from '../../src/offload/ipv4-fragment.ts';
import { DONE, Ipv4Reassembler } from '../../src/offload/ipv4-reassemble.ts';
import { Batch } from '../../src/packet/batch.ts';
import type { Packet } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import { fields, haveScapy, haveTshark, scapy, tshark, tsharkMalformed } from '../harness/tools.ts';
import { load } from './build.ts';

const big = new Pool(4, SUPER_SLOT);
const small = new Pool(256);

describe('ipv4 fragments vs tshark / scapy', () => {
  it('tshark reassembles nvo fragments (with copied options) into the original UDP datagram', {
    skip: !haveTshark() || !haveScapy(),
  }, () => {
    // The original comes from scapy, UDP checksum included, so tshark can check the reassembled payload.
    const orig = fromHex(
      scapy(`p=Ether(src='02:00:00:00:00:0a',dst='02:00:00:00:00:0b')/IP(src='192.0.2.1',dst='192.0.2.2',id=0x4242,options=[IPOption_LSRR(routers=['192.0.2.9']),IPOption_RR(routers=['0.0.0.0'])])/UDP(sport=4000,dport=5000)/Raw(bytes(range(256))*16)
print(bytes(p).hex())`).trim(),
    );
    const p = load(big, orig);
    const out = new Batch(64);
    assert.equal(fragment4(p, 1500, 0x4242, small, out), FRAGMENTED);
    big.free(p);
    const frames = (out.packets.slice(0, out.count) as Packet[]).map((f) => {
      const b = f.bytes();
      small.free(f);
      return b;
    });
    assert.equal(frames.length, 3);
    const layers = tshark(frames, {
      prefs: ['ip.defragment:TRUE', 'ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'],
    });
    for (const l of layers) assert.equal(tsharkMalformed(l), undefined);
    const last = layers.at(-1)!;
    assert.deepEqual(fields(last, 'ip.fragment.count'), ['3']);
    assert.deepEqual(fields(last, 'udp.length'), [String(8 + 4096)]);
    assert.deepEqual(fields(last, 'udp.checksum.status'), ['1']);
    assert.equal(fields(last, 'ip.fragment.overlap').length, 0);
    for (const l of layers) assert.deepEqual(fields(l, 'ip.checksum.status'), ['1']);
  });

  it('nvo reassembles scapy fragment() output, in reverse order, into scapy’s original', {
    skip: !haveScapy(),
  }, () => {
    const outp =
      scapy(`p=Ether(src='02:00:00:00:00:0a',dst='02:00:00:00:00:0b')/IP(src='10.1.0.1',dst='10.1.0.2',id=77)/UDP(sport=1,dport=2)/Raw(bytes(range(256))*20)
p=Ether(bytes(p))
print(bytes(p).hex())
for f in fragment(p[IP], fragsize=600):
  print(bytes(Ether(src='02:00:00:00:00:0a',dst='02:00:00:00:00:0b')/f).hex())`)
        .trim()
        .split('\n');
    const orig = fromHex(outp[0]!);
    const frags = outp.slice(1).map(fromHex);
    assert.ok(frags.length >= 8);
    const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    let got: Uint8Array | undefined;
    for (const f of frags.reverse()) {
      const p = load(small, f);
      if (r.process(p, 0) === DONE) {
        got = r.out!.bytes();
        r.release(r.out!);
      }
      small.free(p);
    }
    assert.ok(got !== undefined && hex(got) === hex(orig), 'reassembled datagram differs from the original');
  });
});
