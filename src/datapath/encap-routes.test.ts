// Resolved encapsulations (encap-routes.ts): what the transmit fast path sends must be byte for byte what
// an independent encoder (scapy) builds from the same fields, and anything the resolution came from —
// the next hop's MAC, the route, the entry's port, its reachability, its existence — must reach the
// very next packet.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { needScapy, scapy } from '../../test/harness/tools.ts';
import { TxCapture } from '../../test/harness/tx-capture.ts';
import { type Host, memoryPair } from '../io/memory-hosts.ts';
import { Batch } from '../packet/batch.ts';
import { NUD_PROBE } from '../tunnel/neighbours.ts';
import * as arp from '../wire/arp.ts';
import { fromHex, hex } from '../wire/bytes.ts';
import { checksum } from '../wire/checksum.ts';
import { KIND_UNDERLAY } from './port.ts';

const B_MAC = new Uint8Array([2, 0xbb, 0, 0, 0, 2]);
const NEXT_HOP = 0x0a000002; // 10.0.0.2, B's underlay address in memoryPair
const MAC1 = new Uint8Array([2, 0, 0, 0, 1, 2]); // B's underlay MAC in memoryPair
const MAC2 = new Uint8Array([2, 0x99, 0, 0, 0, 2]);
const GW_MAC = new Uint8Array([2, 0x77, 0, 0, 0, 0xfe]);

/** Ethernet/IPv4/UDP from guest A to guest B (B_MAC), `size` bytes, payload bytes = seed. */
function inner(size: number, seed: number): Uint8Array {
  const f = new Uint8Array(size).fill(seed);
  f.set([...B_MAC, 2, 0xaa, 0, 0, 0, 1, 8, 0]);
  const dv = new DataView(f.buffer);
  f[14] = 0x45;
  f[15] = 0;
  dv.setUint16(16, size - 14);
  dv.setUint16(18, 0);
  dv.setUint16(20, 0);
  f[22] = 64;
  f[23] = 17;
  f.set([192, 168, 1, 1, 192, 168, 1, 2], 26);
  dv.setUint16(24, 0);
  dv.setUint16(24, checksum(f, 14, 34));
  dv.setUint16(34, 1000);
  dv.setUint16(36, 9);
  dv.setUint16(38, size - 34);
  dv.setUint16(40, 0);
  return f;
}

/** A pair whose side A knows B_MAC behind the tunnel; A's underlay transmits into a capture. */
function sender(encap: string, csum = false, staticNeighbours = true): [Host, TxCapture] {
  const [a] = memoryPair({ encap, vni: 42, tunnel: { csum }, staticNeighbours });
  a.sw.macs.learn(42, B_MAC, 0, 10, 4, new Uint8Array([10, 0, 0, 2]), 0);
  const cap = new TxCapture();
  a.sw.port('eth0')!.sink = cap;
  return [a, cap];
}

function send(h: Host, frame: Uint8Array, now: number): void {
  const p = h.sw.pool.allocCopy(frame)!;
  const b = new Batch(1);
  b.push(p);
  h.sw.receive(1, b, now);
  h.sw.flush();
}

/** An ARP reply from 10.0.0.2 (MAC `mac`) to A (10.0.0.1), received on underlay port `portNo`. */
function arpReply(h: Host, mac: Uint8Array, portNo: number, now: number): void {
  const p = h.sw.pool.alloc()!;
  const b = p.buf;
  const o = p.start;
  b.set([2, 0, 0, 0, 1, 1, ...mac, 0x08, 0x06], o);
  const r = arp.newRepr();
  r.op = arp.OP_REPLY;
  r.sha.set(mac);
  r.spa = NEXT_HOP;
  r.tha.set([2, 0, 0, 0, 1, 1]);
  r.tpa = 0x0a000001;
  arp.emit(r, b, o + 14);
  p.end = o + 14 + arp.HEADER_LEN;
  const batch = new Batch(1);
  batch.push(p);
  h.sw.receive(portNo, batch, now);
  h.sw.flush();
}

const dstMac = (f: Uint8Array): string => hex(f.subarray(0, 6));

test('encapsulation through a resolved route is byte-exact with scapy for every template encapsulation', {
  skip: needScapy(),
}, () => {
  const cases: { encap: string; csum: boolean; frames: Uint8Array[]; inners: Uint8Array[] }[] = [];
  for (const encap of ['vxlan', 'vxlan-gpe', 'geneve', 'gre', 'nvgre'])
    for (const csum of [false, true]) {
      const [a, cap] = sender(encap, csum);
      const inners = [inner(64, 1), inner(64, 2), inner(1000, 3), inner(1400, 4)];
      send(a, inners[0]!, 0);
      // From here on the route, the neighbour and the template come from encap-routes.ts: a route or
      // neighbour lookup would throw.
      const nb = a.sw.neighbours;
      nb.route4 = () => {
        throw new Error('route lookup on a resolved encapsulation');
      };
      nb.lookup4 = () => {
        throw new Error('neighbour lookup on a resolved encapsulation');
      };
      for (const f of inners.slice(1)) send(a, f, 1);
      assert.equal(cap.sent.length, inners.length, `${encap}: every frame sent`);
      cases.push({ encap, csum, frames: cap.sent.map((s) => s.bytes), inners });
    }
  // scapy builds each expected frame from the fields nvo chooses per packet (IPv4 ID, UDP source port
  // or NVGRE FlowID: flow entropy) and computes every length and checksum itself.
  const specs = cases.flatMap((c) =>
    c.frames.map((f, i) => ({
      encap: c.encap,
      csum: c.csum,
      id: (f[18]! << 8) | f[19]!,
      sport: (f[34]! << 8) | f[35]!,
      flowid: f[14 + 20 + 8 - 1]!,
      inner: hex(c.inners[i]!),
    })),
  );
  const out = scapy(`
import json
from scapy.contrib.geneve import GENEVE
for s in json.loads(${JSON.stringify(JSON.stringify(specs))}):
    e = Ether(src='02:00:00:00:01:01', dst='02:00:00:00:01:02')
    ip = IP(src='10.0.0.1', dst='10.0.0.2', id=s['id'], ttl=64, flags=0, tos=0)
    u = UDP(sport=s['sport'], chksum=None if s['csum'] else 0)
    payload = Raw(bytes.fromhex(s['inner']))
    if s['encap'] == 'vxlan': f = e/ip/u/VXLAN(flags=0x08, vni=42)/payload; f[UDP].dport = 4789
    elif s['encap'] == 'vxlan-gpe': f = e/ip/u/VXLAN(flags=0x0C, NextProtocol=3, vni=42)/payload; f[UDP].dport = 4790
    elif s['encap'] == 'geneve': f = e/ip/u/GENEVE(vni=42, proto=0x6558)/payload; f[UDP].dport = 6081
    elif s['encap'] == 'gre': f = e/ip/GRE(chksum_present=int(s['csum']), key_present=1, key=42, proto=0x6558)/payload
    else: f = e/ip/GRE(key_present=1, key=(42 << 8) | s['flowid'], proto=0x6558)/payload
    print(bytes(f).hex())
`);
  const expected = out.trim().split('\n');
  assert.equal(expected.length, specs.length);
  let k = 0;
  for (const c of cases)
    for (const f of c.frames) {
      assert.equal(hex(f), expected[k], `${c.encap} csum=${c.csum} frame ${k}`);
      assert.deepEqual(fromHex(expected[k]!), f);
      k++;
    }
});

test('a next hop that changes its MAC (ARP reply) gets the very next packet', () => {
  const [a, cap] = sender('vxlan', false, false);
  a.sw.neighbours.set4(NEXT_HOP, MAC1, 100, 0);
  send(a, inner(64, 1), 0);
  send(a, inner(64, 2), 0);
  arpReply(a, MAC2, 100, 5);
  send(a, inner(64, 3), 5);
  assert.deepEqual(
    cap.sent.map((s) => dstMac(s.bytes)),
    [hex(MAC1), hex(MAC1), hex(MAC2)],
  );
});

test('a more specific route via a gateway takes the very next packet to the gateway MAC', () => {
  const [a, cap] = sender('vxlan');
  // The gateway's entry exists before the first packet: only the route changes afterwards.
  a.sw.neighbours.set4(0x0a0000fe, GW_MAC, 100, 0, true);
  send(a, inner(64, 1), 0);
  a.sw.neighbours.addRoute4(0x0a000000, 25, 0x0a0000fe, 100);
  send(a, inner(64, 2), 0);
  assert.deepEqual(
    cap.sent.map((s) => dstMac(s.bytes)),
    [hex(MAC1), hex(GW_MAC)],
  );
  // Outer IP destination stays the remote VTEP.
  assert.equal(hex(cap.sent[1]!.bytes.subarray(30, 34)), '0a000002');
});

test('a neighbour that moved to another underlay port gets the next packet there', () => {
  const [a, cap] = sender('vxlan', false, false);
  const cap2 = new TxCapture();
  a.sw.addPort('eth1', KIND_UNDERLAY, { no: 101, sink: cap2 });
  a.sw.neighbours.set4(NEXT_HOP, MAC1, 100, 0);
  send(a, inner(64, 1), 0);
  arpReply(a, MAC1, 101, 1); // same MAC, heard on eth1: no MAC change
  send(a, inner(64, 2), 1);
  assert.equal(cap.sent.length, 1);
  assert.equal(cap2.sent.length, 1);
  assert.equal(dstMac(cap2.sent[0]!.bytes), hex(MAC1));
});

test('a reachable entry past reachableMs still sends, and the resolver probes it (STALE → PROBE)', () => {
  const [a, cap] = sender('vxlan', false, false);
  const nb = a.sw.neighbours;
  nb.set4(NEXT_HOP, MAC1, 100, 0);
  send(a, inner(64, 1), 0);
  send(a, inner(64, 2), 10);
  const probes = () => a.sw.counters.get('tx-arp-request');
  assert.equal(probes(), 0);
  send(a, inner(64, 3), nb.reachableMs + 11);
  assert.equal(nb.lookup4(NEXT_HOP)!.state, NUD_PROBE);
  assert.equal(probes(), 1);
  const tunnelFrames = cap.sent.filter((s) => s.bytes[12] === 0x08 && s.bytes[13] === 0x00);
  assert.equal(tunnelFrames.length, 3, 'the packet went out as well as the probe');
});

test('a removed neighbour entry is resolved again: the next packet waits for ARP', () => {
  const [a, cap] = sender('vxlan', false, false);
  const nb = a.sw.neighbours;
  nb.set4(NEXT_HOP, MAC1, 100, 0);
  send(a, inner(64, 1), 0);
  nb.remove(nb.lookup4(NEXT_HOP)!);
  send(a, inner(64, 2), 1);
  assert.equal(a.sw.counters.get('neighbour-queued'), 1);
  assert.equal(a.sw.counters.get('tx-arp-request'), 1);
  arpReply(a, MAC2, 100, 2);
  const tunnelFrames = cap.sent.filter((s) => s.bytes[12] === 0x08 && s.bytes[13] === 0x00);
  assert.deepEqual(
    tunnelFrames.map((s) => dstMac(s.bytes)),
    [hex(MAC1), hex(MAC2)],
  );
});
