import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { load, noise, permutations, sttFrame } from '../../test/offload-frag/build.ts';
import { Batch } from '../packet/batch.ts';
import { ENCAP_STT, GSO_TCPV4, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { fromHex, hex, u16 } from '../wire/bytes.ts';
import { ReassemblyMemory } from './reassembly-limits.ts';
import { DONE, DROP, FRAME, HELD, SttReassembler } from './stt-reassemble.ts';
import { flowSrcPort, IN_PLACE, SEGMENTED, SttSegmenter, TOO_BIG } from './stt-segment.ts';

// reference/stt.md §6 V1, as listed there (outer Ethernet, IPv4, TCP-like, STT, inner Ethernet/IPv4/UDP).
const V1 = [
  '02000000000202000000000108 00'.replace(' ', ''),
  '450000842000400040069670c0000201c0000202',
  'c0011d2f005c00000000000150180000b7e00000',
  '0000000000000000' + '0123456789abcdef' + '0000',
  '02000000000b02000000000a0800',
  '4500003c0101400040112 5ae0a0000010a000002'.replace(' ', ''),
  '04d2162e0028df9a',
  Array.from({ length: 32 }, (_, k) => k.toString(16).padStart(2, '0')).join(''),
].join('');

const big = new Pool(4, SUPER_SLOT);
const small = new Pool(1024, 10240);

/** stt.md §6 parameters: sport fixed by a one-port range, window 0, frame id and IP IDs as listed. */
function vectorSegmenter(sport: number, ack: number): SttSegmenter {
  const s = new SttSegmenter({ window: 0, srcPortMin: sport, srcPortMax: sport + 1 });
  s.frameId = ack;
  s.ipId = 0x2000;
  return s;
}

function segs(s: SttSegmenter, frame: Uint8Array, mtu: number): Uint8Array[] {
  const p = load(big, frame, 0);
  const out = new Batch(1024);
  const st = s.segment(p, mtu, small, out);
  const r = (out.packets.slice(0, out.count) as Packet[]).map((q) => q.bytes());
  for (const q of out.packets.slice(0, out.count) as Packet[]) (q === p ? big : small).free(q);
  if (st === SEGMENTED) big.free(p);
  return r;
}

function feed(r: SttReassembler, frames: Uint8Array[], order: number[], now = 0) {
  let result: Uint8Array | undefined;
  const st: number[] = [];
  for (const k of order) {
    const p = load(small, frames[k]!);
    const s = r.process(p, now);
    st.push(s);
    if (s === FRAME) result = p.bytes();
    small.free(p);
    if (s === DONE) {
      result = r.out!.bytes();
      assert.equal(r.out!.tunEncap, ENCAP_STT);
      r.release(r.out!);
    }
  }
  return { result, st };
}

describe('stt segment: reference vectors (stt.md §6)', () => {
  it('V1: single segment, byte-exact', () => {
    const frame = sttFrame(32);
    assert.equal(frame.length, 92);
    const [seg] = segs(vectorSegmenter(0xc001, 1), frame, 1500);
    assert.equal(hex(seg!), V1);
  });

  it('V2: three segments with the listed lengths, SEQ, flags and TCP checksums', () => {
    const fs = segs(vectorSegmenter(0xc002, 2), sttFrame(3000), 1500);
    assert.equal(fs.length, 3);
    const ip = 14;
    const tcp = 34;
    const rows = fs.map((f) => [
      u16(f, ip + 2),
      u16(f, tcp + 4),
      u16(f, tcp + 6),
      f[tcp + 13],
      u16(f, tcp + 16),
    ]);
    assert.deepEqual(rows, [
      [1500, 0x0bf4, 0x0000, 0x10, 0x2720],
      [1500, 0x0bf4, 0x05b4, 0x10, 0xc7fa],
      [180, 0x0bf4, 0x0b68, 0x18, 0x3162],
    ]);
    assert.deepEqual([...fs[1]!.subarray(54, 58)], [0x78, 0x79, 0x7a, 0x7b]);
    assert.deepEqual([...fs[2]!.subarray(54, 58)], [0x2c, 0x2d, 0x2e, 0x2f]);
    assert.deepEqual(
      fs.map((f) => u16(f, 18)),
      [0x2000, 0x2001, 0x2002],
    );
  });

  it('V4: IPv6 underlay, three segments with the listed offsets and TCP checksums', () => {
    const s = new SttSegmenter({
      window: 0,
      srcPortMin: 0xc009,
      srcPortMax: 0xc00a,
      ipVersion: 6,
      l2: fromHex('020000000002020000000001 86dd'),
      src: fromHex('20010db8000000000000000000000001'),
      dst: fromHex('20010db8000000000000000000000002'),
    });
    s.frameId = 9;
    const fs = segs(s, sttFrame(3000), 1500);
    const tcp = 54;
    assert.deepEqual(
      fs.map((f) => [f.length - 14 - 40 - 20, u16(f, tcp + 6), u16(f, tcp + 16), f[21]]),
      [
        [1440, 0x0000, 0x9605, 64],
        [1440, 0x05a0, 0x7835, 64],
        [180, 0x0b40, 0x8c01, 64],
      ],
    );
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT });
    assert.deepEqual(feed(r, fs, [2, 0, 1]).result, sttFrame(3000));
  });

  it('source port follows Linux udp_flow_src_port over 1..65535', () => {
    assert.equal(flowSrcPort(0, 1, 65535), 1);
    // h = 0xffff0000 ^ (0xffff0000 << 16 = 0) → ((0xffff0000 × 65534) >> 32) + 1 = 65533 + 1
    assert.equal(flowSrcPort(0xffff0000, 1, 65535), 65534);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (h) => {
        const p = flowSrcPort(h, 1, 65535);
        return p >= 1 && p <= 65534;
      }),
    );
  });

  it('refuses frames over 65,535 bytes', () => {
    const p = big.alloc()!;
    p.end = p.start + 65536;
    assert.equal(new SttSegmenter().segment(p, 1500, small, new Batch()), TOO_BIG);
    big.free(p);
  });
});

describe('stt segment → reassemble', () => {
  it('V3: every order of V2 with a duplicate of each segment gives the frame back', () => {
    const frame = sttFrame(3000);
    const fs = segs(vectorSegmenter(0xc002, 2), frame, 1500);
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT });
    for (const perm of permutations(3))
      for (const d of [perm[0]!, perm[1]!]) {
        const { result, st } = feed(r, fs, [perm[0]!, perm[1]!, d, perm[2]!]);
        assert.deepEqual(result, frame);
        // The first segment last: the rest is copied behind it, in its own buffer (FRAME).
        assert.deepEqual(st, [HELD, HELD, DROP, perm[2] === 0 ? FRAME : DONE]);
      }
    assert.equal(r.counters.get('drop-stt-seg-duplicate'), 12);
    assert.equal(r.inProgress, 0);
  });

  it('is the identity for random frames, MTUs and orders (property, stt.md §6 V8)', () => {
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT, maxPieces: 2048 });
    const s = new SttSegmenter();
    fc.assert(
      fc.property(
        fc.integer({ min: 32, max: 65535 }),
        fc.integer({ min: 576, max: 9000 }),
        fc.integer(),
        (len, mtu, seed) => {
          const frame = noise(len, seed);
          const fs = segs(s, frame, mtu);
          const ack = u16(fs[0]!, 42) * 65536 + u16(fs[0]!, 44);
          for (const f of fs) {
            assert.ok(f.length - 14 <= mtu);
            assert.equal(u16(f, 34 + 4), len);
            assert.equal(u16(f, 42) * 65536 + u16(f, 44), ack);
            assert.equal(u16(f, 34), u16(fs[0]!, 34));
          }
          const order = fs.map((_, i) => i);
          const rnd = noise(order.length, seed ^ 3);
          for (let i = order.length - 1; i > 0; i--) {
            const j = rnd[i]! % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          assert.deepEqual(feed(r, fs, order).result, frame);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('head last (Linux veth GRO order): the tail is copied behind the head, in place, CE kept', () => {
    const frame = sttFrame(3000);
    // mtu 2500: two pieces, [0, 2460) and [2460, 3032), as GRO's merged head and the held-back tail.
    const [head, tail] = segs(vectorSegmenter(0xc002, 7), frame, 2500) as [Uint8Array, Uint8Array];
    // CE on the tail only (RFC 6040: the frame is CE if any segment was), IPv4 checksum redone.
    tail[15] = 3;
    tail[24] = tail[25] = 0;
    let sum = 0;
    for (let k = 14; k < 34; k += 2) sum += (tail[k]! << 8) | tail[k + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    tail[24] = (~sum >> 8) & 0xff;
    tail[25] = ~sum & 0xff;
    const memory = new ReassemblyMemory(2 * SUPER_SLOT);
    const r = new SttReassembler({}, memory);
    const t = load(small, tail);
    assert.equal(r.process(t, 0), HELD);
    small.free(t);
    const h = load(small, head);
    const slot = h.buf;
    assert.equal(r.process(h, 0), FRAME);
    assert.equal(r.out, h, 'the head packet itself, not a reassembly buffer');
    assert.equal(h.buf, slot);
    assert.deepEqual(h.bytes(), frame);
    assert.equal(h.innerL2, h.start + 18);
    assert.equal(h.tunEncap, ENCAP_STT);
    assert.equal(h.tunTos & 3, 3);
    assert.equal(r.inProgress, 0);
    assert.equal(memory.bytesInUse, 0, 'the reassembly buffer is back');
    assert.equal(r.counters.get('out-stt-reasm'), 1);
    small.free(h);
    // No room behind the head in its buffer: the ordinary copy into the reassembly buffer (DONE).
    const tight = new Pool(1, 128 + head.length + 100, 128);
    const t2 = load(small, tail);
    assert.equal(r.process(t2, 0), HELD);
    small.free(t2);
    const h2 = load(tight, head);
    assert.equal(r.process(h2, 0), DONE);
    assert.deepEqual(r.out!.bytes(), frame);
    r.release(r.out!);
    tight.free(h2);
    assert.equal(memory.bytesInUse, 0);
  });

  it('hands a TSO port one superframe, built in place', () => {
    const frame = sttFrame(20000);
    const p = load(big, frame, 0);
    const out = new Batch();
    assert.equal(new SttSegmenter().segment(p, 1500, small, out, true), IN_PLACE);
    assert.equal(out.packets[0], p);
    assert.equal(p.flags & (SUPERFRAME | NEEDS_CSUM), SUPERFRAME | NEEDS_CSUM);
    assert.equal(p.gsoType, GSO_TCPV4);
    assert.equal(p.gsoSize, 1460);
    assert.equal(p.csumStart, p.l4);
    assert.equal(p.end - p.start, 14 + 20 + 20 + frame.length);
    big.free(p);
  });
});

describe('stt reassembly: hostile input (stt.md §7)', () => {
  const frame = sttFrame(3000);
  const fs = segs(vectorSegmenter(0xc002, 2), frame, 1500);

  it('drops a segment announcing another frame length', () => {
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT });
    const other = segs(vectorSegmenter(0xc002, 2), sttFrame(2900), 1500);
    assert.deepEqual(feed(r, [fs[0]!, other[1]!], [0, 1]).st, [HELD, DROP]);
    assert.equal(r.counters.get('drop-stt-seg-length-mismatch'), 1);
  });

  it('kills the frame on a conflicting overlap and poisons the key', () => {
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT });
    const s2 = vectorSegmenter(0xc002, 2);
    const alt = segs(
      s2,
      sttFrame(3000).map((x, i) => (i > 1500 ? x ^ 1 : x)),
      1000,
    );
    assert.deepEqual(feed(r, [fs[0]!, alt[1]!, fs[1]!], [0, 1, 2]).st, [HELD, DROP, DROP]);
    assert.equal(r.counters.get('drop-stt-seg-overlap'), 1);
    assert.equal(r.counters.get('drop-stt-seg-poisoned'), 1);
  });

  it('keys on the source address: the same ACK from two sources is not mixed', () => {
    const r = new SttReassembler({ memoryBytes: 2 * SUPER_SLOT });
    const fromB = fs.map((f) => {
      const g = f.slice();
      g[29] = 9; // 192.0.2.9: fix the IP header and TCP checksums incrementally by recomputing
      const d = 9 - 1;
      let c = u16(g, 24) - d; // IP header checksum: ~(~c + d) for +d in the low byte of a word
      c = (c & 0xffff) + (c >> 16);
      g[24] = c >> 8;
      g[25] = c & 0xff;
      let t = u16(g, 50) - d;
      t = (t & 0xffff) + (t >> 16);
      g[50] = t >> 8;
      g[51] = t & 0xff;
      return g;
    });
    const all = [...fs, ...fromB];
    const { st } = feed(r, all, [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(st, [HELD, HELD, HELD, HELD, DONE, DONE]);
  });

  it('checks every segment: bad checksum, offset past the length, empty payload, TCP options', () => {
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT });
    const bad = fs[1]!.slice();
    bad[100] ^= 0x55;
    const past = fs[2]!.slice();
    past[40] = 0x0b;
    past[41] = 0xf0; // offset 0x0bf0 + 140 > 3060
    const { st } = feed(r, [bad, past], [0, 1]);
    assert.deepEqual(st, [DROP, DROP]);
    assert.equal(r.counters.get('drop-stt-seg-bad-checksum'), 1);
    assert.equal(r.counters.get('drop-stt-seg-bad-length'), 1);
  });

  it('keeps memory under the cap when frames claim 64 KB and send one segment; eviction and timeout', () => {
    const memory = new ReassemblyMemory(6 * SUPER_SLOT);
    const r = new SttReassembler({ timeoutMs: 5000, maxEntries: 32 }, memory);
    const s = new SttSegmenter();
    const bigFrame = noise(65535, 1);
    const only = segs(s, bigFrame, 1500)[0]!;
    let peak = 0;
    for (let i = 0; i < 2000; i++) {
      const g = only.slice();
      g[45] = i & 255; // a new frame id each time (ACK low bytes), checksum fixed below
      g[44] = (i >> 8) & 255;
      const p = load(small, g);
      // Trust the checksum for this flood: the port said CSUM_VALID.
      p.flags |= 2;
      r.process(p, i);
      small.free(p);
      peak = Math.max(peak, memory.bytesInUse);
    }
    assert.ok(peak <= 6 * SUPER_SLOT);
    assert.ok(r.table.counters.get('drop-stt-reasm-evicted') >= 2000 - 6);
    r.tick(10_000);
    assert.equal(r.inProgress, 0);
    assert.ok(r.table.counters.get('drop-stt-reasm-timeout') >= 1);
    assert.equal(memory.bytesInUse, 0);
  });
});

describe('stt reassembly of hand-built segments', () => {
  it('takes the V1 vector bytes (stt.md §6) as one whole frame', () => {
    const v1 = fromHex(V1);
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT });
    const { result, st } = feed(r, [v1], [0]);
    assert.deepEqual(st, [FRAME]);
    assert.equal(hex(result!), hex(sttFrame(32)));
  });
});
