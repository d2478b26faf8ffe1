// IPv4 and IPv6 fragmentation against independent implementations (one scapy run and one tshark run
// for everything, to keep the suite fast):
//   scapy builds the originals (checksums its own) and cuts them with fragment() / fragment6()
//   (scapy/layers/inet.py, inet6.py): nvo must rebuild scapy's originals from scapy's fragments;
//   nvo cuts the same originals: tshark's reassembly (packet-ip.c, packet-ipv6.c + reassemble.c) must
//   rebuild them, with good IP and UDP checksums and no overlap/error flags.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FRAGMENTED, fragment4 } from '../../src/offload/ipv4-fragment.ts';
import { DONE, Ipv4Reassembler } from '../../src/offload/ipv4-reassemble.ts';
import { fragment6 } from '../../src/offload/ipv6-fragment.ts';
import { Ipv6Reassembler } from '../../src/offload/ipv6-reassemble.ts';
import { Batch } from '../../src/packet/batch.ts';
import type { Packet } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import {
  fields,
  haveScapy,
  needScapy,
  needTshark,
  scapy,
  tshark,
  tsharkMalformed,
} from '../harness/tools.ts';
import { load } from './build.ts';

const big = new Pool(2, SUPER_SLOT);
const small = new Pool(128);
const E = `Ether(src='02:00:00:00:00:0a',dst='02:00:00:00:00:0b')`;

// Line 0: IPv4 original with a copied (LSRR) and a non-copied (RR) option; lines 1: IPv6 original with
// HbH + Routing (unfragmentable) and Dest-opts (fragmentable); then "v4 <hex>" / "v6 <hex>" fragments.
const SCRIPT = `o4=${E}/IP(src='192.0.2.1',dst='192.0.2.2',id=0x4242,options=[IPOption_LSRR(routers=['192.0.2.9']),IPOption_RR(routers=['0.0.0.0'])])/UDP(sport=4000,dport=5000)/Raw(bytes(range(256))*16)
o4=Ether(bytes(o4))
body6=lambda fh: IPv6(src='2001:db8::1',dst='2001:db8::2')/IPv6ExtHdrHopByHop()/IPv6ExtHdrRouting(addresses=[],segleft=0)/fh/IPv6ExtHdrDestOpt()/UDP(sport=7,dport=9)/Raw(bytes(range(256))*20)
o6=Ether(bytes(${E}/IPv6(src='2001:db8::1',dst='2001:db8::2')/IPv6ExtHdrHopByHop()/IPv6ExtHdrRouting(addresses=[],segleft=0)/IPv6ExtHdrDestOpt()/UDP(sport=7,dport=9)/Raw(bytes(range(256))*20)))
print(bytes(o4).hex())
print(bytes(o6).hex())
for f in fragment(o4[IP], fragsize=600): print('v4', bytes(${E}/f).hex())
for f in fragment6(body6(IPv6ExtHdrFragment(id=0x1234)), 1280): print('v6', bytes(${E}/f).hex())`;

describe('ip fragments vs scapy and tshark', { skip: needScapy() }, () => {
  const lines = haveScapy() ? scapy(SCRIPT).trim().split('\n') : [];
  const o4 = haveScapy() ? fromHex(lines[0]!) : new Uint8Array();
  const o6 = haveScapy() ? fromHex(lines[1]!) : new Uint8Array();
  const f4 = lines.filter((l) => l.startsWith('v4 ')).map((l) => fromHex(l.slice(3)));
  const f6 = lines.filter((l) => l.startsWith('v6 ')).map((l) => fromHex(l.slice(3)));

  it('nvo reassembles scapy’s fragments (reverse order) into scapy’s originals', () => {
    assert.ok(f4.length >= 6 && f6.length >= 4, `${f4.length} / ${f6.length} fragments`);
    const r4 = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
    const r6 = new Ipv6Reassembler({ memoryBytes: SUPER_SLOT });
    for (const [r, frags, want] of [
      [r4, f4, o4],
      [r6, f6, o6],
    ] as const) {
      let got: Uint8Array | undefined;
      for (const f of [...frags].reverse()) {
        const p = load(small, f);
        if (r.process(p, 0) === DONE) {
          got = r.out!.bytes();
          r.release(r.out!);
        }
        small.free(p);
      }
      assert.ok(
        got !== undefined && hex(got) === hex(want),
        'reassembled datagram differs from the original',
      );
    }
  });

  it('tshark reassembles nvo’s fragments of the same originals', { skip: needTshark() }, () => {
    const cut = (orig: Uint8Array, v6: boolean): Uint8Array[] => {
      const p = load(big, orig);
      const out = new Batch(16);
      assert.equal(
        v6 ? fragment6(p, 1280, 0xcafe, small, out) : fragment4(p, 1500, 0x4242, small, out),
        FRAGMENTED,
      );
      big.free(p);
      return (out.packets.slice(0, out.count) as Packet[]).map((f) => {
        const b = f.bytes();
        small.free(f);
        return b;
      });
    };
    const a = cut(o4, false);
    const b = cut(o6, true);
    assert.equal(a.length, 3);
    const layers = tshark([...a, ...b], {
      prefs: [
        'ip.defragment:TRUE',
        'ipv6.defragment:TRUE',
        'ip.check_checksum:TRUE',
        'udp.check_checksum:TRUE',
      ],
    });
    for (const l of layers) assert.equal(tsharkMalformed(l), undefined);
    const last4 = layers[a.length - 1]!;
    assert.deepEqual(fields(last4, 'ip.fragment.count'), ['3']);
    assert.deepEqual(fields(last4, 'udp.length'), [String(8 + 4096)]);
    assert.deepEqual(fields(last4, 'udp.checksum.status'), ['1']);
    for (const l of layers.slice(0, a.length)) assert.deepEqual(fields(l, 'ip.checksum.status'), ['1']);
    const last6 = layers.at(-1)!;
    assert.deepEqual(fields(last6, 'ipv6.fragment.count'), [String(b.length)]);
    assert.deepEqual(fields(last6, 'udp.length'), [String(8 + 5120)]);
    assert.deepEqual(fields(last6, 'udp.checksum.status'), ['1']);
    for (const l of layers)
      assert.equal(fields(l, 'ip.fragment.overlap').length + fields(l, 'ipv6.fragment.overlap').length, 0);
  });
});
