// USO transmit on an underlay port (tunnel-output.ts → tunnel-segment.ts packUso → offload/uso-pack.ts),
// byte for byte against three references:
//   - the cut-then-copy path nvo had before (test/offload/uso-reference.ts): the same superframes;
//   - the classic path (encapsulate, then software tunnel GSO to MTU packets, whose segments the kernel
//     oracle test in test/offload checks against Linux): the USO superframes split datagram by datagram
//     the way the kernel's UDP GSO does (__udp_gso_segment: outer headers copied, IPv4 length / ID + k /
//     header checksum, UDP length and full checksum) — written here from scratch — are those packets;
//   - frames built independently (test/offload/frames.ts): each inner segment is the TCP segment with
//     seq₀ + k·mss, the kernel's FIN/PSH/CWR rules, ID₀ + k and checksums computed from scratch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Sent, TxCapture } from '../../test/harness/tx-capture.ts';
import {
  concat,
  ethHeader,
  naiveChecksum,
  payloadOf,
  pseudo,
  type TcpOpts,
  tcpSegment,
} from '../../test/offload/frames.ts';
import { oldUsoPack } from '../../test/offload/uso-reference.ts';
import { parseFlow } from '../flow/ofctl-parse.ts';
import { Segmenter } from '../offload/gso.ts';
import { Batch } from '../packet/batch.ts';
import {
  FIXED_ID,
  GSO_ECN,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP_L4,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import { Pool, SMALL_SLOT, SUPER_SLOT } from '../packet/pool.ts';
import { KIND_GUEST, KIND_UNDERLAY } from './port.ts';
import { Switch } from './switch.ts';

const MAC = Uint8Array.from([2, 0, 0, 0, 1, 2]);
const OUTER = 14 + 20 + 8; // Ethernet, IPv4, UDP in front of the tunnel header
const VXLAN_LEN = 8;

function build(uso: boolean, encap = 'vxlan', mtu = 1500) {
  const sw = new Switch({ poolSize: 512, superPoolSize: 16, underlayMac: '02:00:00:00:01:01' });
  const wire = new TxCapture();
  const g = sw.addPort('g1', KIND_GUEST, { no: 1, sink: new TxCapture(), vni: 42 });
  sw.addPort('eth0', KIND_UNDERLAY, { no: 100, mtu, sink: wire, txUso: uso });
  sw.addTunnel(
    { name: 'vx0', encap, localIp: '10.0.0.1', remoteIp: '10.0.0.2', key: 42, csum: true },
    { no: 10 },
  );
  sw.neighbours.addRoute4(0x0a000000, 24, 0, 100);
  sw.neighbours.set4(0x0a000002, MAC, 100, 0, true);
  sw.addFlow(parseFlow('in_port=g1,actions=output:vx0', { portByName: sw.portByName }));
  return { sw, g, wire };
}

interface Case {
  name: string;
  opts: TcpOpts;
  len: number;
  mss: number;
  type: number;
  /** Seed the TCP checksum with the pseudo-header and mark it partial, as a virtio TSO frame comes. */
  partial?: boolean;
  fixedId?: boolean;
  /** Put the guest frame in an MTU-size slot (then the chunks go to a superframe slot). */
  small?: boolean;
}

const cases: Case[] = [
  {
    name: '64 KB, timestamps, PSH, partial csum: two USO superframes',
    opts: { flags: 0x18, options: [1, 1, 8, 10, 0, 1, 2, 3, 0, 4, 5, 6], id: 0xfff0, seq: 0xfffff000 },
    len: 45 * 1448,
    mss: 1448,
    type: GSO_TCPV4,
    partial: true,
  },
  {
    name: 'CWR + ECE + FIN with the ECN bit, odd length',
    opts: { flags: 0xd9, id: 3 },
    len: 9001,
    mss: 1000,
    type: GSO_TCPV4 | GSO_ECN,
  },
  {
    name: 'FIXED_ID on a DF datagram',
    opts: { flags: 0x10, id: 77 },
    len: 5000,
    mss: 1200,
    type: GSO_TCPV4,
    fixedId: true,
  },
  {
    name: 'inner IPv6',
    opts: { v6: true, flags: 0x18 },
    len: 12345,
    mss: 1380,
    type: GSO_TCPV6,
    partial: true,
  },
  {
    name: 'payload within one MSS: one datagram',
    opts: { flags: 0x18 },
    len: 900,
    mss: 1448,
    type: GSO_TCPV4,
  },
  {
    name: 'a small superframe in an MTU-size slot',
    opts: { flags: 0x18 },
    len: 1500,
    mss: 700,
    type: GSO_TCPV4,
    small: true,
  },
];

function guestFrame(c: Case): Uint8Array {
  const seg = tcpSegment(c.opts, payloadOf(c.len, c.len));
  const f = concat(ethHeader(c.opts.v6 ? 0x86dd : 0x0800), seg.ip, seg.l4);
  if (c.partial) {
    const l4 = 14 + seg.ip.length;
    const s = ~naiveChecksum([pseudo(seg.ip, 6, seg.l4.length)]) & 0xffff;
    f[l4 + 16] = s >> 8;
    f[l4 + 17] = s & 0xff;
  }
  return f;
}

function load(sw: Switch, c: Case, bytes: Uint8Array): Packet {
  const p = (c.small ? sw.pool : sw.superPool).alloc()!;
  p.buf.set(bytes, p.start);
  p.end = p.start + bytes.length;
  p.flags = SUPERFRAME | (c.partial ? NEEDS_CSUM : 0) | (c.fixedId ? FIXED_ID : 0);
  p.gsoType = c.type;
  p.gsoSize = c.mss;
  if (c.partial) {
    p.csumStart = p.start + 14 + (c.opts.v6 ? 40 : 20);
    p.csumOffset = 16;
  }
  return p;
}

function send(sw: Switch, port: number, p: Packet): void {
  const b = new Batch(1);
  b.push(p);
  sw.receive(port, b, 0);
  sw.flush();
}

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const put16 = (b: Uint8Array, o: number, v: number) => {
  b[o] = v >> 8;
  b[o + 1] = v & 0xff;
};

/** What the kernel's UDP GSO makes of a USO superframe, written from scratch: one datagram per chunk. */
function kernelSplit(s: Sent): Uint8Array[] {
  const out: Uint8Array[] = [];
  const outer = s.bytes.subarray(0, OUTER);
  const id0 = u16(outer, 18);
  const size = s.gsoType === GSO_NONE ? s.bytes.length - OUTER : s.gsoSize;
  for (let o = OUTER, k = 0; o < s.bytes.length; o += size, k++) {
    const chunk = s.bytes.subarray(o, Math.min(o + size, s.bytes.length));
    const d = concat(outer, chunk);
    put16(d, 16, 28 + chunk.length);
    put16(d, 18, (id0 + k) & 0xffff);
    put16(d, 24, 0);
    put16(d, 24, naiveChecksum([d.subarray(14, 34)]));
    put16(d, 38, 8 + chunk.length);
    put16(d, 40, 0);
    const c = naiveChecksum([pseudo(d.subarray(14, 34), 17, 8 + chunk.length), d.subarray(34)]);
    put16(d, 40, c === 0 ? 0xffff : c);
    out.push(d);
  }
  return out;
}

/** The inner segments of a case, built from scratch with the kernel's TSO rules and this MSS. */
function expectedSegments(c: Case, mss: number): Uint8Array[] {
  const payload = payloadOf(c.len, c.len);
  const n = Math.ceil(c.len / mss);
  const out: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    let flags = c.opts.flags ?? 0x18;
    if (k < n - 1) flags &= ~0x09; // FIN, PSH on the last segment only
    if (k > 0) flags &= ~0x80; // CWR on the first only
    const o: TcpOpts = {
      ...c.opts,
      flags,
      seq: ((c.opts.seq ?? 1000) + k * mss) >>> 0,
      id: ((c.opts.id ?? 0x1234) + (c.fixedId ? 0 : k)) & 0xffff,
    };
    const seg = tcpSegment(o, payload.subarray(k * mss, Math.min(c.len, (k + 1) * mss)));
    out.push(concat(ethHeader(c.opts.v6 ? 0x86dd : 0x0800), seg.ip, seg.l4));
  }
  return out;
}

describe('USO transmit: the guest superframe cut straight into outer UDP GSO superframes', () => {
  for (const c of cases) {
    it(c.name, () => {
      const frame = guestFrame(c);
      const uso = build(true);
      send(uso.sw, uso.g.no, load(uso.sw, c, frame));
      const classic = build(false);
      send(classic.sw, classic.g.no, load(classic.sw, c, frame));

      // MSS lowered so that outer IPv4 20 + UDP 8 + VXLAN 8 + inner headers + MSS ≤ 1500.
      const innerHdr = 14 + (c.opts.v6 ? 40 : 20) + 20 + (c.opts.options?.length ?? 0);
      const mss = Math.min(c.mss, 1500 - 36 - innerHdr);
      const segs = expectedSegments(c, mss);
      const chunk = VXLAN_LEN + innerHdr + mss;

      // Superframes: ≤ 65,535 − 28 bytes of chunks each, gso_size = one chunk, partial outer UDP csum.
      const per = Math.floor((65535 - 28) / chunk);
      assert.equal(uso.wire.sent.length, Math.ceil(segs.length / per));
      const datagrams: Uint8Array[] = [];
      for (const s of uso.wire.sent) {
        const count = Math.ceil((s.bytes.length - OUTER) / chunk);
        assert.equal(s.gsoType, count > 1 ? GSO_UDP_L4 : GSO_NONE);
        assert.equal(s.gsoSize, count > 1 ? chunk : 0);
        assert.ok((s.flags & NEEDS_CSUM) !== 0);
        assert.equal(s.csumStart, 34);
        assert.equal(s.csumOffset, 6);
        const seed = ~naiveChecksum([pseudo(s.bytes.subarray(14, 34), 17, s.bytes.length - 34)]) & 0xffff;
        assert.equal(u16(s.bytes, 40), seed, 'outer UDP checksum seeded with the pseudo-header');
        assert.equal(naiveChecksum([s.bytes.subarray(14, 34)]), 0, 'outer IPv4 header checksum');
        datagrams.push(...kernelSplit(s));
      }
      // Datagram by datagram: what the classic path sends, and the independently built segments.
      assert.equal(datagrams.length, segs.length);
      assert.equal(classic.wire.sent.length, segs.length);
      for (let k = 0; k < segs.length; k++) {
        assert.deepEqual(datagrams[k], classic.wire.sent[k]!.bytes, `datagram ${k} ≠ classic tunnel GSO`);
        assert.deepEqual(datagrams[k]!.subarray(OUTER + VXLAN_LEN), segs[k], `inner segment ${k}`);
        assert.deepEqual([...datagrams[k]!.subarray(OUTER, OUTER + 8)], [8, 0, 0, 0, 0, 0, 42, 0]);
      }
      for (const x of [uso, classic]) {
        assert.equal(x.sw.pool.available, x.sw.pool.capacity, 'no pool packet leaked');
        assert.equal(x.sw.superPool.available, x.sw.superPool.capacity, 'no superframe slot leaked');
      }

      // The cut-then-copy path nvo had before: the same superframes, byte for byte.
      const pool = new Pool(256, SMALL_SLOT);
      const superPool = new Pool(8, SUPER_SLOT);
      const src = load({ pool, superPool } as unknown as Switch, c, frame);
      src.gsoSize = mss;
      const old = oldUsoPack(
        new Segmenter({ pool }),
        src,
        new Batch(256),
        Uint8Array.from([8, 0, 0, 0, 0, 0, 42, 0]),
        superPool,
        OUTER,
        per,
      )!;
      assert.equal(old.length, uso.wire.sent.length);
      for (let i = 0; i < old.length; i++) {
        assert.deepEqual(uso.wire.sent[i]!.bytes.subarray(OUTER + VXLAN_LEN), old[i]!.bytes().subarray(8));
      }
    });
  }

  it('a malformed superframe is a counted drop (drop-tunnel-gso), nothing leaks', () => {
    const { sw, g, wire } = build(true);
    const c: Case = { name: '', opts: { flags: 0x12 }, len: 5000, mss: 1000, type: GSO_TCPV4 };
    send(sw, g.no, load(sw, c, guestFrame(c))); // SYN on a TSO frame
    assert.equal(wire.sent.length, 0);
    assert.equal(sw.counters.get('drop-tunnel-gso'), 1);
    assert.equal(sw.superPool.available, sw.superPool.capacity);
  });
});
