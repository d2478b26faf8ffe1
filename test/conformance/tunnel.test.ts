// The shared tunnel conformance suite (VPP's template_bd.py idea): the same scenarios run for every
// encapsulation, over an in-memory underlay between two in-process switches.
//   - ARP, ICMP echo and TCP frames (built by scapy) cross the tunnel unchanged, both ways, after
//     flooding (head-end replication) and learning
//   - what goes on the wire is dissected by tshark as that encapsulation, with the right VNI/key and no
//     malformed-packet warning
//   - a wrong VNI and bad tunnel flags are dropped, with named counters
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Host, memoryPair, runUntilIdle } from '../../src/io/memory-hosts.ts';
import { Batch } from '../../src/packet/batch.ts';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import { fields, haveScapy, haveTshark, scapy, tshark, tsharkMalformed } from '../harness/tools.ts';

const A_MAC = '02:aa:00:00:00:01';
const B_MAC = '02:bb:00:00:00:02';

const frames = (() => {
  if (!haveScapy()) return null;
  const out = scapy(`
A='${A_MAC}'; B='${B_MAC}'
fs = [
  Ether(src=A, dst='ff:ff:ff:ff:ff:ff')/ARP(op=1, hwsrc=A, psrc='192.168.1.1', pdst='192.168.1.2'),
  Ether(src=B, dst=A)/ARP(op=2, hwsrc=B, psrc='192.168.1.2', hwdst=A, pdst='192.168.1.1'),
  Ether(src=A, dst=B)/IP(src='192.168.1.1', dst='192.168.1.2')/ICMP(type=8, id=7, seq=1)/Raw(b'x'*56),
  Ether(src=B, dst=A)/IP(src='192.168.1.2', dst='192.168.1.1')/ICMP(type=0, id=7, seq=1)/Raw(b'x'*56),
  Ether(src=A, dst=B)/IP(src='192.168.1.1', dst='192.168.1.2')/TCP(sport=40000, dport=5201, flags='PA', seq=1000, ack=1)/Raw(bytes(range(256))*5),
  Ether(src=A, dst=B)/IP(src='192.168.1.1', dst='192.168.1.2', flags='DF')/UDP(sport=7, dport=9)/Raw(b'z'*1472),
  Ether(src=A, dst=B)/IP(src='192.168.1.1', dst='192.168.1.2')/UDP(sport=7, dport=9)/Raw(b'z'*1472),
]
for f in fs: print(bytes(f).hex())
`);
  return out.trim().split('\n').map(fromHex);
})();

const ENCAPS: { encap: string; vniField: string; tsharkArgs?: { decodeAs?: string[] } }[] = [
  { encap: 'vxlan', vniField: 'vxlan.vni' },
  { encap: 'vxlan-gpe', vniField: 'vxlan.vni' },
  { encap: 'geneve', vniField: 'geneve.vni' },
  { encap: 'gre', vniField: 'gre.key' },
  { encap: 'nvgre', vniField: 'gre.key' },
  { encap: 'stt', vniField: 'stt.context_id' },
  { encap: 'vxlan-soe', vniField: 'vxlan.vni' },
];

function send(h: Host, frame: Uint8Array): void {
  const b = new Batch(1);
  const p = h.guest.pool.allocCopy(frame)!;
  b.push(p);
  h.guest.txBurst(b);
  h.guest.pool.free(p);
}

function received(h: Host): Uint8Array[] {
  const b = new Batch(512);
  h.guest.drain(b);
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.count; i++) {
    out.push(b.packets[i]!.bytes());
    h.guest.pool.free(b.packets[i]!);
  }
  return out;
}

for (const { encap } of ENCAPS) {
  describe(`tunnel conformance: ${encap}`, {
    skip: frames ? false : 'scapy (python3-scapy) is not installed',
  }, () => {
    test('ARP, ICMP and TCP cross both ways unchanged; flood then learn', () => {
      const [a, b] = memoryPair({ encap, vni: 42 });
      const [arpReq, arpRep, echo, reply, tcp] = frames!;
      send(a, arpReq!);
      runUntilIdle([a, b], 1000);
      assert.deepEqual(
        received(b).map((f) => hex(f)),
        [hex(arpReq!)],
        'broadcast ARP flooded to B',
      );
      assert.equal(a.sw.counters.get('normal-flood'), 1);
      send(b, arpRep!);
      runUntilIdle([a, b], 1001);
      assert.deepEqual(
        received(a).map((f) => hex(f)),
        [hex(arpRep!)],
        'ARP reply reached A',
      );
      assert.equal(b.sw.counters.get('normal-forward'), 1, 'B learned A behind the tunnel from the request');
      send(a, echo!);
      send(a, tcp!);
      runUntilIdle([a, b], 1002);
      assert.deepEqual(
        received(b).map((f) => hex(f)),
        [hex(echo!), hex(tcp!)],
      );
      send(b, reply!);
      runUntilIdle([a, b], 1003);
      assert.deepEqual(
        received(a).map((f) => hex(f)),
        [hex(reply!)],
      );
      assert.equal(a.sw.port('tun0')!.rxPackets, 2);
      assert.equal(b.sw.port('tun0')!.rxPackets, 3);
      assert.equal(a.sw.port('tun0')!.txPackets, 3);
      for (const h of [a, b]) {
        const drops = Object.entries(h.sw.counters.snapshot()).filter(([k]) => k.startsWith('drop'));
        assert.deepEqual(drops, [], `no drops on ${h.sw.name}`);
      }
    });

    test('MTU: a full-size guest frame is segmented (STT), fragmented (SOE, DF clear) or answered with ICMP (DF)', () => {
      const [a, b] = memoryPair({ encap, vni: 42 });
      const [arpReq, arpRep, , , , bigDf, bigNoDf] = frames!;
      send(a, arpReq!);
      send(b, arpRep!);
      runUntilIdle([a, b], 1000);
      received(a);
      received(b);
      send(a, bigDf!);
      send(a, bigNoDf!);
      runUntilIdle([a, b], 1001);
      if (encap === 'stt' || encap === 'vxlan-soe') {
        // STT cuts its frame into TCP-like segments and SOE fragments the outer datagram: the guest's
        // 1500-byte packets arrive whole, byte for byte.
        assert.deepEqual(
          received(b).map((f) => hex(f)),
          [hex(bigDf!), hex(bigNoDf!)],
        );
        return;
      }
      // DF clear: the outer datagram is fragmented and reassembled before decap: it arrives whole.
      assert.deepEqual(
        received(b).map((f) => hex(f)),
        [hex(bigNoDf!)],
      );
      assert.equal(a.sw.counters.get('tunnel-outer-fragmented'), 1);
      // DF set: ICMP "fragmentation needed" back to A, next-hop MTU = 1500 − the encapsulation's overhead.
      const back = received(a);
      assert.equal(back.length, 1);
      const icmp = back[0]!;
      assert.equal(icmp[23], 1, 'IPv4 protocol ICMP');
      assert.equal(icmp[34], 3, 'type 3');
      assert.equal(icmp[35], 4, 'code 4');
      const overhead = { vxlan: 50, 'vxlan-gpe': 50, geneve: 50, gre: 42, nvgre: 42 }[encap]!;
      assert.equal((icmp[40]! << 8) | icmp[41]!, 1500 - overhead);
      assert.equal(a.sw.counters.get('tx-icmp-frag-needed'), 1);
      assert.equal(a.sw.counters.get('drop-tunnel-too-big-icmp'), 1, 'DF set: dropped, counted, answered');
    });

    test('a packet for another VNI is dropped by a fixed-key tunnel port, counted', () => {
      const [a, b] = memoryPair({ encap, vni: 42, tunnel: { key: 42 } });
      // A sends in VNI 42 → B accepts; now make B's port expect another key.
      const [c, d] = memoryPair({ encap, vni: 43, tunnel: { key: 43 } });
      a.underlay.peer = d.underlay;
      send(a, frames![0]!);
      runUntilIdle([a, b, c, d], 1000);
      assert.equal(received(d).length, 0);
      assert.equal(d.sw.counters.get('drop-underlay-no-tunnel-port'), 1);
    });
  });
}

// One tshark run for every encapsulation (tshark's start-up dominates).
test('tshark decodes every encapsulation on the wire with its VNI/key and no malformed warning', {
  skip: frames && haveTshark() ? false : 'tshark or scapy is not installed',
}, () => {
  const wire: { encap: string; vniField: string; frame: Uint8Array }[] = [];
  for (const { encap, vniField } of ENCAPS) {
    const [a, b] = memoryPair({ encap, vni: 0x1234 });
    send(a, frames![0]!);
    send(a, frames![4]!);
    runUntilIdle([a, b], 1000);
    assert.equal(a.underlay.sent.length, 2, encap);
    for (const frame of a.underlay.sent) wire.push({ encap, vniField, frame });
  }
  // STT is found by tshark's heuristic dissector only (reference/stt.md §3).
  const layers = tshark(
    wire.map((w) => w.frame),
    { prefs: ['ip.try_heuristic_first:TRUE'] },
  );
  layers.forEach((l, i) => {
    const { encap, vniField } = wire[i]!;
    assert.equal(tsharkMalformed(l), undefined, `${encap}: ${JSON.stringify(l).slice(0, 400)}`);
    const v = fields(l, vniField)[0];
    assert.ok(v !== undefined, `${encap}: ${vniField} present`);
    // NVGRE's 32-bit key is VSID << 8 | FlowID (RFC 7637 §3.2).
    assert.equal(encap === 'nvgre' ? Number(v) >>> 8 : Number(v), 0x1234, encap);
    assert.equal(fields(l, 'ip.src')[0], '10.0.0.1');
    assert.equal(fields(l, 'ip.dst')[0], '10.0.0.2');
    // The inner frame follows: its Ethernet source is guest A's.
    assert.equal(fields(l, 'eth.src')[1], A_MAC, encap);
  });
});

test('ttl=inherit, tos=inherit, df=inherit copy the guest header into the outer one (checksum right)', {
  skip: frames && haveTshark() ? false : 'tshark or scapy is not installed',
}, () => {
  const guest = scapy(
    `print(bytes(Ether(src='${A_MAC}',dst='${B_MAC}')/IP(src='192.168.1.1',dst='192.168.1.2',ttl=33,tos=0xb8,flags='DF')/UDP(sport=1,dport=2)/Raw(b'i'*40)).hex())`,
  ).trim();
  const [a, b] = memoryPair({
    encap: 'vxlan',
    vni: 42,
    tunnel: { ttl: 'inherit', tos: 'inherit', df: 'inherit' },
  });
  send(a, frames![0]!);
  send(b, frames![1]!);
  runUntilIdle([a, b], 1000);
  send(a, fromHex(guest));
  runUntilIdle([a, b], 1001);
  const wire = a.underlay.sent.at(-1)!;
  const l = tshark([wire], { prefs: ['ip.check_checksum:TRUE'] })[0]!;
  assert.deepEqual(fields(l, 'ip.ttl'), ['33', '33']);
  assert.deepEqual(fields(l, 'ip.dsfield'), ['0xb8', '0xb8']);
  assert.equal(fields(l, 'ip.flags.df')[0], '1');
  assert.equal(fields(l, 'ip.checksum.status')[0], '1'); // epan's PROTO_CHECKSUM_E_GOOD
});

describe('tunnel conformance: malformed tunnel headers', {
  skip: frames ? false : 'scapy is not installed',
}, () => {
  test('VXLAN without the I flag is dropped and counted', () => {
    const [a, b] = memoryPair({ encap: 'vxlan', vni: 42 });
    send(a, frames![0]!);
    runUntilIdle([a], 1000); // A encapsulates; nothing delivered yet to B's switch
    const wire = b.underlay.rx;
    assert.equal(wire.count, 1);
    const p = wire.packets[0]!;
    p.buf[p.start + 14 + 20 + 8] = 0; // VXLAN flags byte: clear I
    runUntilIdle([b], 1001);
    assert.equal(received(b).length, 0);
    const drops = Object.entries(b.sw.counters.snapshot()).filter(([k]) => k.startsWith('drop-underlay'));
    assert.equal(drops.length, 1, JSON.stringify(drops));
    assert.match(drops[0]![0], /vxlan/);
  });
});
