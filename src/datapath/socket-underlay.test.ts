// The socket underlay without sockets: a switch whose tunnel port's sink is a capture, and SocketInput
// fed by hand. Checked against frames built independently (test/offload/frames.ts: RFC 1071 checksums
// computed from scratch), not against nvo's own encapsulation code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TxCapture } from '../../test/harness/tx-capture.ts';
import { naiveChecksum, payloadOf, pseudo, tcpFrame } from '../../test/offload/frames.ts';
import { parseFlow } from '../flow/ofctl-parse.ts';
import { Batch } from '../packet/batch.ts';
import { GSO_TCPV4, GSO_UDP_L4, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { KIND_GUEST } from './port.ts';
import { SocketInput } from './socket-underlay.ts';
import { Switch } from './switch.ts';

const VXLAN_42 = [0x08, 0, 0, 0, 0, 0, 42, 0];

function build(encap = 'vxlan') {
  const sw = new Switch({ poolSize: 512, superPoolSize: 16 });
  const guest = new TxCapture();
  const wire = new TxCapture();
  const g = sw.addPort('g1', KIND_GUEST, { sink: guest, vni: 42, txOffload: true });
  const t = sw.addTunnel({ name: 'vx0', encap, localIp: '10.0.0.1' });
  t.sink = wire;
  t.mtu = 1500;
  const opts = { portByName: sw.portByName };
  sw.addFlow(
    parseFlow('in_port=g1,actions=set_field:42->tun_id,set_field:10.0.0.2->tun_dst,output:vx0', opts),
  );
  sw.addFlow(parseFlow('in_port=vx0,tun_id=42,actions=output:g1', opts));
  const input = new SocketInput(sw, [t]);
  return { sw, g, t, guest, wire, input };
}

function load(p: Packet, bytes: Uint8Array): Packet {
  p.buf.set(bytes, p.start);
  p.end = p.start + bytes.length;
  return p;
}

/** A datagram read as the UDP socket port hands it over: payload, sender, UDP_GRO size. */
function fromSocket(sw: Switch, bytes: Uint8Array, gsoSize = 0): Batch {
  const p = load((bytes.length > 1500 ? sw.superPool : sw.pool).alloc()!, bytes);
  p.tunIpVersion = 4;
  p.tunSrc.set([10, 0, 0, 2]);
  p.tunSrcPort = 4789;
  if (gsoSize > 0 && bytes.length > gsoSize) {
    p.flags = SUPERFRAME;
    p.gsoType = GSO_UDP_L4;
    p.gsoSize = gsoSize;
  }
  const b = new Batch(4);
  b.push(p);
  return b;
}

/** TCP payload of an inner frame, after checking its IPv4 and TCP checksums from scratch. */
function innerTcpPayload(frame: Uint8Array): Uint8Array {
  const ip = frame.subarray(14, 34);
  assert.equal(naiveChecksum([ip]), 0, 'inner IPv4 header checksum');
  const total = (ip[2]! << 8) | ip[3]!;
  const l4 = frame.subarray(34, 14 + total);
  assert.equal(naiveChecksum([pseudo(ip, 6, l4.length), l4]), 0, 'inner TCP checksum');
  return l4.subarray((l4[12]! >>> 4) << 2);
}

describe('socket underlay: transmit', () => {
  it('sends a plain frame as one datagram: VXLAN header + the frame, to tun_dst:4789', () => {
    const { sw, g, wire } = build();
    const frame = tcpFrame({ seq: 7 }, payloadOf(100));
    const b = new Batch(1);
    b.push(load(sw.pool.alloc()!, frame));
    sw.receive(g.no, b, 0);
    sw.flush();
    assert.equal(wire.sent.length, 1);
    const s = wire.sent[0]!;
    assert.deepEqual([...s.bytes.subarray(0, 8)], VXLAN_42);
    assert.deepEqual(s.bytes.subarray(8), frame);
    assert.equal(s.tunDst, '10.0.0.2');
    assert.equal(s.tunDstPort, 4789);
    assert.equal(s.gsoSize, 0);
  });

  it('cuts a guest TSO superframe into MTU-sized tunnel packets, handed over as ONE UDP GSO buffer', () => {
    const { sw, g, wire } = build();
    const payload = payloadOf(20000, 3);
    const b = new Batch(1);
    const p = load(sw.superPool.alloc()!, tcpFrame({ seq: 1000 }, payload));
    p.flags = SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    p.gsoSize = 1448;
    b.push(p);
    sw.receive(g.no, b, 0);
    sw.flush();
    assert.equal(wire.sent.length, 1, 'one send');
    const s = wire.sent[0]!;
    // MSS lowered so that outer IPv4 20 + UDP 8 + VXLAN 8 + inner 14 + 20 + 20 + MSS = 1500: 1410.
    const chunk = 8 + 14 + 20 + 20 + 1410;
    assert.equal(s.gsoSize, chunk);
    assert.equal(s.gsoType, GSO_UDP_L4);
    const n = Math.ceil(20000 / 1410);
    assert.equal(s.bytes.length, (n - 1) * chunk + 8 + 54 + (20000 - (n - 1) * 1410));
    const got: number[] = [];
    for (let o = 0, k = 0; o < s.bytes.length; o += chunk, k++) {
      const d = s.bytes.subarray(o, Math.min(o + chunk, s.bytes.length));
      assert.deepEqual([...d.subarray(0, 8)], VXLAN_42, `chunk ${k} header`);
      const inner = d.subarray(8);
      const seq = (inner[38]! << 24) | (inner[39]! << 16) | (inner[40]! << 8) | inner[41]!;
      assert.equal(seq >>> 0, 1000 + k * 1410);
      got.push(...innerTcpPayload(inner));
    }
    assert.deepEqual(Uint8Array.from(got), payload);
  });

  it('VXLAN-SOE: a superframe goes as one datagram with S and the MSS, inner checksum finished', () => {
    const { sw, g, wire } = build('vxlan-soe');
    const payload = payloadOf(30000, 5);
    const frame = tcpFrame({}, payload);
    const p = load(sw.superPool.alloc()!, frame);
    p.flags = SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    p.gsoSize = 1448;
    const b = new Batch(1);
    b.push(p);
    sw.receive(g.no, b, 0);
    sw.flush();
    assert.equal(wire.sent.length, 1);
    const s = wire.sent[0]!;
    // draft-zhou-li-vxlan-soe-01: byte 0 = S (0x80) | I (0x08), MSS in bytes 1 and 7.
    assert.deepEqual([...s.bytes.subarray(0, 8)], [0x88, 1448 >> 8, 0, 0, 0, 0, 42, 1448 & 0xff]);
    assert.equal(s.gsoSize, 0, 'no UDP_SEGMENT: the kernel fragments the datagram');
    assert.deepEqual(innerTcpPayload(s.bytes.subarray(8)), payload);
  });
});

describe('socket underlay: receive', () => {
  it('splits a UDP_GRO read into datagrams and hands the guest ONE coalesced superframe', () => {
    const tx = build();
    const payload = payloadOf(20000, 9);
    const p = load(tx.sw.superPool.alloc()!, tcpFrame({ seq: 5000, flags: 0x10 }, payload));
    p.flags = SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    p.gsoSize = 1448;
    const b = new Batch(1);
    b.push(p);
    tx.sw.receive(tx.g.no, b, 0);
    tx.sw.flush();
    const s = tx.wire.sent[0]!;

    const rx = build();
    rx.input.receive(fromSocket(rx.sw, s.bytes, s.gsoSize), 0);
    rx.sw.flush();
    assert.equal(rx.sw.counters.get('socket-rx-gro-reads'), 1);
    assert.equal(rx.sw.counters.get('socket-rx-datagrams'), Math.ceil(20000 / 1410));
    assert.equal(rx.guest.sent.length, 1, 'one superframe to the guest');
    const f = rx.guest.sent[0]!;
    assert.equal(f.gsoType, GSO_TCPV4);
    assert.equal(f.gsoSize, 1410);
    assert.ok((f.flags & NEEDS_CSUM) !== 0);
    // Payload intact (the checksum is partial: the guest's vnet_hdr finishes it).
    assert.deepEqual(f.bytes.subarray(54), payload);
    assert.equal(rx.sw.pool.available, rx.sw.pool.capacity, 'no packet leaked');
    assert.equal(rx.sw.superPool.available, rx.sw.superPool.capacity);
  });

  it('a GSO read that is one tunnel packet around an inner TSO frame stays one superframe', () => {
    const { sw, input, guest } = build();
    const payload = payloadOf(8000, 4);
    const frame = tcpFrame({}, payload);
    const bytes = Uint8Array.from([...VXLAN_42, ...frame]);
    input.receive(fromSocket(sw, bytes, 1448), 0);
    sw.flush();
    assert.equal(guest.sent.length, 1);
    const f = guest.sent[0]!;
    assert.equal(f.gsoType, GSO_TCPV4);
    assert.equal(f.gsoSize, 1448);
    assert.equal(f.csumStart, 34);
    assert.deepEqual(f.bytes, frame);
    assert.equal(sw.counters.get('socket-rx-inner-superframes'), 1);
  });

  it('hostile datagrams are named drops, never a throw or a leak', () => {
    const { sw, input, guest } = build();
    const frame = tcpFrame({}, payloadOf(64));
    const cases: [Uint8Array, string][] = [
      [Uint8Array.of(8, 0, 0), 'drop-socket-vxlan-truncated'],
      [Uint8Array.from([0, 0, 0, 0, 0, 0, 42, 0, ...frame]), 'drop-socket-vxlan-bad-flags'],
      [Uint8Array.from([...VXLAN_42, 1, 2, 3]), 'drop-socket-inner-truncated'],
      [Uint8Array.from([0x08, 0, 0, 0, 0, 0, 43, 0, ...frame]), ''],
    ];
    for (const [bytes] of cases) input.receive(fromSocket(sw, bytes), 0);
    sw.flush();
    for (const [, name] of cases) if (name) assert.equal(sw.counters.get(name), 1, name);
    // VNI 43 has no flow towards the guest: the table drops it.
    assert.equal(guest.sent.length, 0);
    assert.equal(sw.pool.available, sw.pool.capacity);
  });
});
