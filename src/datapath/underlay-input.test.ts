// Underlay input's two ways through decapsulation must agree: the fast path (VXLAN or Geneve over
// untagged IPv4, decap-fast.ts + decapped4) and the general one (decapFrame + findTunnelPort). The same
// tunnel packet is fed untagged (fast path) and with an 802.1Q tag (which only the general path walks);
// the tunnel port, every tunnel metadata field, the inner frame and the drop reason must be the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Host, memoryPair, type PairOptions } from '../io/memory-hosts.ts';
import { Coalescer } from '../offload/tcp-gro.ts';
import { Batch } from '../packet/batch.ts';
import { CSUM_VALID, NEEDS_CSUM, type Packet } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { hex } from '../wire/bytes.ts';
import { checksum } from '../wire/checksum.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as tcp from '../wire/tcp.ts';
import { receiveUnderlay } from './underlay-input.ts';

const B_MAC = new Uint8Array([2, 0xbb, 0, 0, 0, 2]);

/** Ethernet/IPv4/UDP guest frame, A → B. */
function inner(size: number): Uint8Array {
  const f = new Uint8Array(size).fill(7);
  f.set([...B_MAC, 2, 0xaa, 0, 0, 0, 1, 8, 0]);
  const dv = new DataView(f.buffer);
  f[14] = 0x45;
  f[15] = 0;
  dv.setUint16(16, size - 14);
  f[18] = f[19] = f[20] = f[21] = 0; // ID, flags, fragment offset
  f[22] = 64;
  f[23] = 17;
  f[24] = f[25] = 0;
  f.set([192, 168, 1, 1, 192, 168, 1, 2], 26);
  dv.setUint16(24, checksum(f, 14, 34));
  dv.setUint32(34, (1000 << 16) | 9);
  dv.setUint32(38, (size - 34) << 16);
  return f;
}

/** Ethernet/IPv4/TCP guest segment A → B: ACK, `len` payload bytes from sequence number `seq`. */
function tcpSegment(seq: number, len: number): Uint8Array {
  const f = new Uint8Array(54 + len).fill(5);
  f.set([...B_MAC, 2, 0xaa, 0, 0, 0, 1, 8, 0, 0x45, 0]);
  const dv = new DataView(f.buffer);
  dv.setUint16(16, 40 + len);
  dv.setUint32(18, 0x00004000); // ID 0, DF
  f[22] = 64;
  f[23] = 6;
  f.set([192, 168, 1, 1, 192, 168, 1, 2], 26);
  ipv4.fillChecksum(f, 14);
  dv.setUint32(34, (40000 << 16) | 5201);
  dv.setUint32(38, seq);
  dv.setUint32(42, 1);
  dv.setUint16(46, 0x5010); // 20-byte header, ACK
  dv.setUint16(48, 65535);
  dv.setUint32(50, 0);
  tcp.fillChecksum(f, 14, 34, f.length);
  return f;
}

/** What host A puts on the wire for each guest frame (its tunnel's encapsulation), in order. */
function wireFrames(opts: PairOptions, frames: Uint8Array[]): Uint8Array[] {
  const [a] = memoryPair(opts);
  a.sw.macs.learn(opts.vni ?? 42, B_MAC, 0, 10, 4, new Uint8Array([10, 0, 0, 2]), 0);
  for (const f of frames) {
    const p = a.sw.pool.allocCopy(f)!;
    const b = new Batch(1);
    b.push(p);
    a.sw.receive(1, b, 0);
    a.sw.flush();
  }
  return a.underlay.sent.slice(-frames.length);
}

const wireFrame = (opts: PairOptions): Uint8Array => wireFrames(opts, [inner(100)])[0]!;

/** f with its outer IPv4 header changed by `edit` and its checksum made right again. */
function outerEdit(f: Uint8Array, edit: (b: Uint8Array) => void): Uint8Array {
  const b = f.slice();
  edit(b);
  b[24] = 0;
  b[25] = 0;
  const c = checksum(b, 14, 34);
  b[24] = c >>> 8;
  b[25] = c & 0xff;
  return b;
}

/** f with an 802.1Q tag (VLAN 5) after the MAC addresses. */
function tagged(f: Uint8Array): Uint8Array {
  const b = new Uint8Array(f.length + 4);
  b.set(f.subarray(0, 12), 0);
  b.set([0x81, 0x00, 0x00, 0x05], 12);
  b.set(f.subarray(12), 16);
  return b;
}

/** One frame received on host h's underlay port: what reaches the pipeline (or not), as text. */
function outcome(h: Host, frame: Uint8Array, flags = 0): string {
  const before = h.sw.counters.snapshot();
  const p = h.sw.pool.allocCopy(frame)!;
  p.flags = flags;
  const seen: Packet[] = [];
  h.sw.admit = (x: Packet) => {
    seen.push(x);
  };
  const batch = new Batch(1);
  batch.push(p);
  receiveUnderlay(h.sw, h.sw.port('eth0')!, batch, 0);
  const after = h.sw.counters.snapshot();
  const q = seen[0] ?? null;
  const moved = Object.keys(after)
    .filter((k) => after[k] !== (before[k] ?? 0))
    .join(',');
  if (q === null) return `dropped ${moved}`;
  const s = [
    `port ${q.inPort}`,
    `encap ${q.tunEncap} id ${q.tunIdHi}:${q.tunIdLo}`,
    `v${q.tunIpVersion} ${hex(q.tunSrc)} > ${hex(q.tunDst)}`,
    `tos ${q.tunTos} ttl ${q.tunTtl} ports ${q.tunSrcPort}>${q.tunDstPort}`,
    `flags ${q.flags} gso ${q.gsoType} l2 ${q.l2} l3 ${q.l3} l4 ${q.l4}`,
    `inner ${hex(q.buf.subarray(q.start, q.end))}`,
    `counters ${moved}`,
  ].join(' | ');
  q.owner?.free(q);
  return s;
}

function agree(opts: PairOptions, frame: Uint8Array, flags = 0): string {
  const [, b] = memoryPair(opts);
  const fast = outcome(b, frame, flags);
  const general = outcome(b, tagged(frame), flags);
  assert.equal(fast, general, 'fast and general paths agree');
  return fast;
}

test('fast and general decap agree: VXLAN and Geneve delivered with the same metadata', () => {
  for (const encap of ['vxlan', 'geneve']) {
    const opts = { encap, vni: 42 };
    const f = wireFrame(opts);
    const r = agree(opts, f);
    assert.match(r, /^port 10 \| encap \d id 0:42 \| v4 0a000001/);
    assert.ok(r.includes(`inner ${hex(inner(100))}`), r);
    // TOS and TTL of the outer header become tun_tos / tun_ttl.
    const r2 = agree(
      opts,
      outerEdit(f, (b) => {
        b[15] = 0xb8;
        b[22] = 9;
      }),
    );
    assert.ok(r2.includes('tos 184 ttl 9'), r2);
    // A partial outer checksum from a veth peer goes with the outer headers: inner counts as verified.
    assert.match(agree(opts, f, NEEDS_CSUM), new RegExp(`flags ${CSUM_VALID} `));
  }
});

test('fast and general decap agree on every refusal reason', () => {
  const vx = { encap: 'vxlan', vni: 42 };
  const f = wireFrame(vx);
  // Not one of B's addresses.
  assert.match(
    agree(
      vx,
      outerEdit(f, (b) => {
        b[33] = 9;
      }),
    ),
    /dropped rx-packets,drop-underlay-not-our-ip/,
  );
  // B's address, but no tunnel port takes it: a fixed key, a fixed remote, another UDP port.
  assert.match(agree({ ...vx, tunnel: { key: 7 } }, f), /dropped rx-packets,drop-underlay-no-tunnel-port/);
  assert.match(
    agree({ ...vx, tunnel: { remoteIp: '10.0.0.3' } }, f),
    /dropped rx-packets,drop-underlay-no-tunnel-port/,
  );
  assert.match(
    agree({ ...vx, tunnel: { dstPort: 8472 } }, f),
    /dropped rx-packets,drop-underlay-no-tunnel-port/,
  );
  // … and the ones that do: the fixed key and remote that match, a VXLAN-SOE port taking plain VXLAN.
  assert.match(agree({ ...vx, tunnel: { key: 42, remoteIp: '10.0.0.1' } }, f), /^port 10 /);
  assert.match(agree({ ...vx, encap: 'vxlan-soe' }, f), /^port 10 \| encap 3 /);
});

/** Host B receiving `frames` as one underlay batch. */
function receiveBatch(frames: Uint8Array[]): Host {
  const [, b] = memoryPair({ encap: 'vxlan', vni: 42 });
  b.sw.macs.learn(42, B_MAC, 1, 0, 0, null, 0);
  const batch = new Batch(frames.length);
  for (const f of frames) {
    const p = b.sw.pool.allocCopy(f)!;
    batch.push(p);
  }
  receiveUnderlay(b.sw, b.sw.port('eth0')!, batch, 0);
  b.sw.flush();
  return b;
}

test('a batch of non-TCP tunnel packets: GRO counted as if each had passed it', () => {
  const f = wireFrame({ encap: 'vxlan', vni: 42 });
  const b = receiveBatch(Array.from({ length: 8 }, () => f));
  b.sw.flush();
  const g = b.sw.gro!.counters;
  assert.equal(g.get('gro-in'), 8);
  assert.equal(g.get('gro-pass-not-tcp'), 8);
  assert.equal(g.get('gro-out-single'), 8);
  assert.equal(b.sw.port('tun0')!.rxPackets, 8);
  assert.equal(b.sw.counters.get('rx-packets'), 8);
});

test('a UDP packet before TCP segments of one flow: the segments are still coalesced', () => {
  const vx = { encap: 'vxlan', vni: 42 };
  const b = receiveBatch(wireFrames(vx, [inner(100), tcpSegment(1000, 500), tcpSegment(1500, 500)]));
  const g = b.sw.gro!.counters;
  assert.equal(g.get('gro-in'), 3);
  assert.equal(g.get('gro-merged'), 1);
  assert.equal(g.get('gro-out-superframes'), 1);
  assert.equal(b.sw.port('tun0')!.rxPackets, 2, 'the UDP packet and one TCP superframe');
});

test('a repeat of the outer headers is never taken from an earlier batch (GRO decapsulated between)', () => {
  const vx = { encap: 'vxlan', vni: 42 };
  const [u, t1, t2, u2] = wireFrames(vx, [
    inner(100),
    tcpSegment(1000, 500),
    tcpSegment(1500, 500),
    inner(100),
  ]);
  const [, b] = memoryPair(vx);
  const seen: string[] = [];
  b.sw.admit = (q: Packet) => {
    seen.push(hex(q.buf.subarray(q.start, q.end)));
    q.owner?.free(q);
  };
  // The first batch ends in GRO, whose superframe reuses the decapsulation state after u was taken;
  // u2 repeats u's outer headers (another IP ID, same flow).
  for (const frames of [
    [u!, t1!, t2!],
    [u2!, u2!],
  ]) {
    const batch = new Batch(frames.length);
    for (const f of frames) batch.push(b.sw.pool.allocCopy(f)!);
    receiveUnderlay(b.sw, b.sw.port('eth0')!, batch, 0);
  }
  const want = hex(inner(100));
  assert.equal(seen.length, 4, 'u, one TCP superframe, u2 twice');
  assert.deepEqual([seen[0], seen[2], seen[3]], [want, want, want]);
});

test('GRO started lazily counts and delivers exactly as GRO over the whole batch (random batches)', () => {
  for (const encap of ['vxlan', 'geneve']) {
    const opts = { encap, vni: 42 };
    // Inner kinds: 0 UDP, 1 the flow's next TCP segment, 2 a TCP segment out of order; 3 marks the
    // Geneve O bit (or clears VXLAN's I flag) on a TCP segment, so GRO refuses the tunnel header.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 12 }), (kinds) => {
        let seq = 1000;
        const inners = kinds.map((k) => {
          if (k === 0) return inner(100);
          const f = tcpSegment(k === 2 ? seq + 7000 : seq, 500);
          if (k !== 2) seq += 500;
          return f;
        });
        const frames = wireFrames(opts, inners).map((f, i) => {
          if (kinds[i] !== 3) return f;
          const g = f.slice();
          if (encap === 'geneve') g[43]! |= 0x80;
          else g[42]! &= ~0x08;
          return g;
        });
        // The oracle: the Coalescer over the whole batch, as the switch ran it before.
        const gro = new Coalescer({ superPool: new Pool(8, SUPER_SLOT) });
        const pool = new Pool(32);
        const out = new Batch(64);
        for (const f of frames) {
          const p = pool.allocCopy(f)!;
          gro.receive(p, out, 0);
        }
        gro.flush(out);
        const [, b] = memoryPair(opts);
        let delivered = 0;
        b.sw.admit = (q: Packet) => {
          delivered++;
          q.owner?.free(q);
        };
        const batch = new Batch(frames.length);
        for (const f of frames) {
          const p = b.sw.pool.allocCopy(f)!;
          batch.push(p);
        }
        receiveUnderlay(b.sw, b.sw.port('eth0')!, batch, 0);
        assert.deepEqual(b.sw.gro!.counters.snapshot(), gro.counters.snapshot(), kinds.join(','));
        assert.equal(b.sw.counters.get('rx-packets'), out.count);
        const refused = kinds.filter((k) => k === 3).length;
        assert.equal(delivered + (encap === 'vxlan' ? refused : 0), out.count, 'VXLAN without I is dropped');
      }),
      { numRuns: 40 },
    );
  }
});
