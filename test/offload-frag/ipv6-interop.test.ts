// IPv6 fragmentation against scapy (fragment6, scapy/layers/inet6.py) and tshark (packet-ipv6.c
// reassembly).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FRAGMENTED, fragment6 } from '../../src/offload/ipv6-fragment.ts';
import { DONE, Ipv6Reassembler } from '../../src/offload/ipv6-reassemble.ts';
import { Batch } from '../../src/packet/batch.ts';
import type { Packet } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import { fields, haveScapy, haveTshark, scapy, tshark, tsharkMalformed } from '../harness/tools.ts';
import { load } from './build.ts';

const big = new Pool(2, SUPER_SLOT);
const small = new Pool(64);
const HEAD = `p=Ether(src='02:00:00:00:00:0a',dst='02:00:00:00:00:0b')/IPv6(src='2001:db8::1',dst='2001:db8::2')/IPv6ExtHdrHopByHop()/IPv6ExtHdrRouting(addresses=[], segleft=0)/IPv6ExtHdrDestOpt()/UDP(sport=7,dport=9)/Raw(bytes(range(256))*20)
p=Ether(bytes(p))`;

describe('ipv6 fragments vs scapy / tshark', () => {
  it('nvo reassembles scapy fragment6() output (reverse order) into the original', {
    skip: !haveScapy(),
  }, () => {
    const lines = scapy(`${HEAD}
print(bytes(p).hex())
q=IPv6(src='2001:db8::1',dst='2001:db8::2')/IPv6ExtHdrHopByHop()/IPv6ExtHdrRouting(addresses=[], segleft=0)/IPv6ExtHdrFragment(id=0x1234)/IPv6ExtHdrDestOpt()/UDP(sport=7,dport=9)/Raw(bytes(range(256))*20)
for f in fragment6(q, 1280):
  print(bytes(Ether(src='02:00:00:00:00:0a',dst='02:00:00:00:00:0b')/f).hex())`)
      .trim()
      .split('\n');
    const orig = fromHex(lines[0]!);
    const frags = lines.slice(1).map(fromHex);
    assert.ok(frags.length >= 4, `got ${frags.length} fragments`);
    const r = new Ipv6Reassembler({ memoryBytes: SUPER_SLOT });
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

  it('tshark reassembles nvo fragments into the original UDP datagram', {
    skip: !haveScapy() || !haveTshark(),
  }, () => {
    const orig = fromHex(scapy(`${HEAD}\nprint(bytes(p).hex())`).trim());
    const p = load(big, orig);
    const out = new Batch(16);
    assert.equal(fragment6(p, 1280, 0xcafe, small, out), FRAGMENTED);
    big.free(p);
    const frames = (out.packets.slice(0, out.count) as Packet[]).map((f) => {
      const b = f.bytes();
      small.free(f);
      return b;
    });
    const layers = tshark(frames, { prefs: ['ipv6.defragment:TRUE', 'udp.check_checksum:TRUE'] });
    for (const l of layers) assert.equal(tsharkMalformed(l), undefined);
    const last = layers.at(-1)!;
    assert.deepEqual(fields(last, 'ipv6.fragment.count'), [String(frames.length)]);
    assert.deepEqual(fields(last, 'udp.length'), [String(8 + 5120)]);
    assert.deepEqual(fields(last, 'udp.checksum.status'), ['1']);
  });
});
