// Software GSO against a naive reference: every expected segment is built from scratch by the test's
// own frame builder (frames.ts: byte loops, DataView, textbook checksum) from the rules of Linux
// tcp_gso_segment / __udp_gso_segment / __skb_udp_tunnel_segment (encapsulations.md §7.1, §8):
// seq₀ + k·mss, IPv4 ID₀ + k, FIN/PSH only on the last, CWR only on the first, per-segment lengths and
// checksums, outer headers replicated with their own ID/length/checksum. tshark re-checks checksums.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { completeCsum } from '../../src/offload/csum-complete.ts';
import { GSO_DROPPED, GSO_PASSED, Segmenter } from '../../src/offload/gso.ts';
import {
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP,
  GSO_UDP_L4,
  NEEDS_CSUM,
  SUPERFRAME,
} from '../../src/packet/packet.ts';
import { Pool } from '../../src/packet/pool.ts';
import { fields, needTshark, tshark } from '../harness/tools.ts';
import {
  concat,
  drain,
  encapFrame,
  load,
  newBatch,
  type OuterOpts,
  payloadOf,
  pseudo,
  type TcpOpts,
  tcpFrame,
  udpFrame,
} from './frames.ts';

const SLOT = 10 * 1024;
const superPool = new Pool(8, 66 * 1024 + 512);
const segPool = new Pool(600, SLOT);

function superframe(bytes: Uint8Array, gsoType: number, mss: number) {
  const p = load(superPool, bytes);
  p.flags = SUPERFRAME;
  p.gsoType = gsoType;
  p.gsoSize = mss;
  return p;
}

/** The reference: segment k built from the parameters, not from the superframe's bytes. */
function expectedTcp(
  o: TcpOpts,
  payload: Uint8Array,
  mss: number,
  wrap?: (k: number, inner: Uint8Array) => Uint8Array,
) {
  const n = Math.ceil(payload.length / mss);
  const frames: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    let flags = o.flags ?? 0x18;
    if (k < n - 1) flags &= ~0x09;
    if (k > 0) flags &= ~0x80;
    const seg = tcpFrame(
      { ...o, seq: ((o.seq ?? 1000) + k * mss) >>> 0, id: ((o.id ?? 0x1234) + k) & 0xffff, flags },
      payload.subarray(k * mss, Math.min(payload.length, (k + 1) * mss)),
    );
    frames.push(wrap ? wrap(k, seg) : seg);
  }
  return frames;
}

const tcpArb = fc.record({
  v6: fc.boolean(),
  vlan: fc.option(fc.integer({ min: 1, max: 4094 }), { nil: undefined }),
  options: fc
    .integer({ min: 0, max: 10 })
    .chain((w) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: w * 4, maxLength: w * 4 })),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  id: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.constantFrom(0x10, 0x18, 0x11, 0x19, 0x90, 0x98, 0xd9, 0x30, 0x50),
  window: fc.integer({ min: 0, max: 0xffff }),
});

describe('software TCP GSO', () => {
  it('equals the naive reference segmenter over sizes × MSS × v4/v6 × options × flags', () => {
    const seg = new Segmenter({ pool: segPool });
    const out = newBatch(600);
    fc.assert(
      fc.property(
        tcpArb,
        fc.integer({ min: 1, max: 63000 }),
        fc.integer({ min: 1, max: 9000 }),
        (o, len, mssRaw) => {
          const mss = Math.max(mssRaw, Math.ceil(len / 250));
          const payload = payloadOf(len, len ^ mss);
          const p = superframe(tcpFrame(o, payload), o.v6 ? GSO_TCPV6 : GSO_TCPV4, mss);
          const r = seg.segment(p, out);
          superPool.free(p);
          const got = drain(out, segPool);
          if (len <= mss) {
            assert.equal(r, GSO_PASSED);
            return;
          }
          assert.equal(r, Math.ceil(len / mss));
          const want = expectedTcp(o, payload, mss);
          assert.equal(got.length, want.length);
          for (let k = 0; k < want.length; k++) assert.deepEqual(got[k], want[k], `segment ${k}`);
        },
      ),
      { numRuns: 80 },
    );
    assert.equal(Object.keys(seg.counters.snapshot()).filter((k) => k.includes('drop')).length, 0);
  });

  it('takes a partial-checksum superframe (virtio NEEDS_CSUM) and can leave segments partial', () => {
    const o: TcpOpts = {
      seq: 0xfffff000,
      id: 0xfffe,
      flags: 0x18,
      options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
    };
    const payload = payloadOf(20000, 7);
    const bytes = tcpFrame(o, payload);
    // Seed the TCP checksum field with the pseudo-header sum only, as a guest with TSO does.
    const l4 = 14 + 20;
    const ps = pseudo(bytes.subarray(14, 34), 6, bytes.length - l4);
    let s = 0;
    for (let i = 0; i < ps.length; i += 2) s += (ps[i]! << 8) | ps[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    bytes[l4 + 16] = s >>> 8;
    bytes[l4 + 17] = s & 0xff;
    const want = expectedTcp(o, payload, 1448);
    for (const partial of [false, true]) {
      const seg = new Segmenter({ pool: segPool, partial });
      const out = newBatch(600);
      const p = superframe(bytes, GSO_TCPV4, 1448);
      p.flags |= NEEDS_CSUM;
      p.csumStart = p.start + l4;
      p.csumOffset = 16;
      assert.equal(seg.segment(p, out), want.length);
      superPool.free(p);
      for (let i = 0; i < out.count; i++) {
        const q = out.packets[i]!;
        assert.equal((q.flags & NEEDS_CSUM) !== 0, partial);
        assert.equal(completeCsum(q), 0);
      }
      const got = drain(out, segPool);
      for (let k = 0; k < want.length; k++)
        assert.deepEqual(got[k], want[k], `partial=${partial} segment ${k}`);
    }
  });

  it('pools cut from one slab (copies become copyWithin) give the same segments', () => {
    const slab = new ArrayBuffer(2 * 66 * 1024 + 64 * 2048 + 1024);
    const sp = new Pool(2, 66 * 1024, 256, slab, 0);
    const pp = new Pool(64, 2048, 256, slab, 2 * 66 * 1024 + 1000); // odd alignment on purpose
    const o: TcpOpts = { vlan: 9, options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], flags: 0x19 };
    const payload = payloadOf(40000, 11);
    const p = load(sp, tcpFrame(o, payload));
    p.flags = SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    p.gsoSize = 1448;
    const out = newBatch(64);
    assert.equal(new Segmenter({ pool: pp }).segment(p, out), 28);
    sp.free(p);
    const got = drain(out, pp);
    const want = expectedTcp(o, payload, 1448);
    for (let k = 0; k < want.length; k++) assert.deepEqual(got[k], want[k], `segment ${k}`);
  });

  it('UDP GSO: every datagram gso_size except the last, own length and checksum', () => {
    const seg = new Segmenter({ pool: segPool });
    const out = newBatch(600);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 2, max: 60000 }),
        fc.integer({ min: 1, max: 8000 }),
        (v6, len, m) => {
          const mss = Math.max(m, Math.ceil(len / 250));
          const payload = payloadOf(len, len);
          const o: TcpOpts = { v6, id: 0xfff0 };
          const p = superframe(udpFrame(o, payload), GSO_UDP_L4, mss);
          const r = seg.segment(p, out);
          superPool.free(p);
          const got = drain(out, segPool);
          if (len <= mss) return assert.equal(r, GSO_PASSED);
          const n = Math.ceil(len / mss);
          assert.equal(r, n);
          for (let k = 0; k < n; k++) {
            const want = udpFrame(
              { ...o, id: (0xfff0 + k) & 0xffff },
              payload.subarray(k * mss, Math.min(len, (k + 1) * mss)),
            );
            assert.deepEqual(got[k], want, `datagram ${k}`);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  for (const kind of ['vxlan', 'geneve', 'gpe', 'gre', 'gre-csum-key'] as const) {
    for (const udpCsum of kind.startsWith('gre') ? [false] : [false, true]) {
      it(`tunnel GSO ${kind}${udpCsum ? ' (outer UDP checksum)' : ''}: inner cut, outer replicated`, () => {
        const out = newBatch(600);
        for (const [v6, ov6, partial] of [
          [false, false, false],
          [true, false, false],
          [false, true, false],
          [false, false, true], // inner checksum left partial: outer (LCO) must hold once it is filled in
        ] as const) {
          const seg = new Segmenter({ pool: segPool, partial });
          const inner: TcpOpts = { v6, seq: 77, id: 9, flags: 0x19, options: [1, 1, 1, 0] };
          const outer: OuterOpts = {
            kind,
            v6: ov6,
            udpCsum,
            id: 0xffff,
            geneveOpts: [0, 0x80, 0x01, 0x01, 1, 2, 3, 4],
          };
          const payload = payloadOf(30001, 3);
          const p = superframe(encapFrame(outer, tcpFrame(inner, payload)), v6 ? GSO_TCPV6 : GSO_TCPV4, 1400);
          const r = seg.segment(p, out);
          superPool.free(p);
          for (let i = 0; i < out.count; i++) {
            const q = out.packets[i]!;
            assert.equal((q.flags & NEEDS_CSUM) !== 0, partial);
            assert.equal(completeCsum(q), 0);
          }
          const got = drain(out, segPool);
          const want = expectedTcp(inner, payload, 1400, (k, f) =>
            encapFrame({ ...outer, id: (0xffff + k) & 0xffff }, f),
          );
          assert.equal(r, want.length, JSON.stringify(seg.counters.snapshot()));
          for (let k = 0; k < want.length; k++)
            assert.deepEqual(got[k], want[k], `${kind} v6=${v6} ov6=${ov6} segment ${k}`);
        }
      });
    }
  }

  it('tshark validates every checksum of the segments (IPv4/IPv6, VLAN, VXLAN, Geneve, GRE)', {
    skip: needTshark(),
  }, () => {
    const seg = new Segmenter({ pool: segPool });
    const out = newBatch(600);
    const frames: Uint8Array[] = [];
    const cases: [Uint8Array, number][] = [
      [tcpFrame({ vlan: 5, options: [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8] }, payloadOf(9000)), GSO_TCPV4],
      [tcpFrame({ v6: true }, payloadOf(7001)), GSO_TCPV6],
      [udpFrame({}, payloadOf(5000)), GSO_UDP_L4],
      [encapFrame({ kind: 'vxlan', udpCsum: true }, tcpFrame({}, payloadOf(6000))), GSO_TCPV4],
      [
        encapFrame({ kind: 'geneve', udpCsum: true, v6: true }, tcpFrame({ v6: true }, payloadOf(6000))),
        GSO_TCPV6,
      ],
      [encapFrame({ kind: 'gre-csum-key' }, tcpFrame({}, payloadOf(6000))), GSO_TCPV4],
    ];
    for (const [bytes, type] of cases) {
      const p = superframe(bytes, type, 1300);
      assert.ok(seg.segment(p, out) > 1);
      superPool.free(p);
      frames.push(...drain(out, segPool));
    }
    const layers = tshark(frames, {
      prefs: ['tcp.check_checksum:TRUE', 'ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'],
    });
    assert.equal(layers.length, frames.length);
    let checked = 0;
    for (const l of layers) {
      for (const f of [
        'ip.checksum.status',
        'tcp.checksum.status',
        'udp.checksum.status',
        'gre.checksum.status',
      ]) {
        for (const v of fields(l, f)) {
          // 1 = good, 2 = unverified (a zero UDP checksum); never 0 (bad).
          assert.notEqual(v, '0', `${f} bad in ${JSON.stringify(fields(l, 'frame.number'))}`);
          if (v === '1') checked++;
        }
      }
    }
    assert.ok(checked > frames.length * 2, `only ${checked} checksums verified`);
  });
});

describe('legacy UFO (GSO_UDP): one datagram, IP fragments of gso_size bytes', () => {
  for (const v6 of [false, true]) {
    it(`IPv${v6 ? 6 : 4}: fragments carry the datagram; tshark reassembles it with a good UDP checksum`, {
      skip: needTshark(),
    }, () => {
      const seg = new Segmenter({ pool: segPool });
      const out = newBatch(64);
      const payload = payloadOf(7000, 5);
      const bytes = udpFrame({ v6, id: 0x4321 }, payload);
      const p = superframe(bytes, GSO_UDP, 1480);
      const n = seg.segment(p, out);
      superPool.free(p);
      const frags = drain(out, segPool);
      assert.equal(n, frags.length);
      assert.equal(n, Math.ceil((8 + 7000) / 1480));
      // Reference: concatenating the fragment payloads in order gives back the UDP datagram.
      const l3 = 14;
      const hdr = v6 ? 48 : 20;
      const parts = frags.map((f) => f.subarray(l3 + hdr));
      for (const [i, part] of parts.entries())
        assert.ok(part.length <= 1480 && (i === n - 1 || part.length === 1480));
      assert.deepEqual(concat(...parts), bytes.subarray(l3 + (v6 ? 40 : 20)));
      const layers = tshark(frags, { prefs: ['udp.check_checksum:TRUE', 'ip.check_checksum:TRUE'] });
      const last = layers.at(-1)!;
      assert.deepEqual(fields(last, 'udp.length'), ['7008']);
      assert.deepEqual(fields(last, 'udp.checksum.status'), ['1']);
    });
  }
});

describe('software GSO: hostile input is a counted drop, never a throw', () => {
  const base = tcpFrame({}, payloadOf(5000));
  const cases: [string, (b: Uint8Array) => Uint8Array | number | undefined, string, number?, number?][] = [
    ['gso_size 0', () => undefined, 'gso-drop-bad-gso-size', GSO_TCPV4, 0],
    ['IPv4 total length past the frame', (b) => (b[14 + 2] = 0xff), 'gso-drop-truncated'],
    ['IPv4 total length short of the frame', (b) => (b[14 + 2] = 0x05), 'gso-drop-bad-length'],
    ['IHL below 5', (b) => (b[14] = 0x44), 'gso-drop-bad-length'],
    ['TCP data offset below 5', (b) => (b[34 + 12] = 0x40), 'gso-drop-bad-length'],
    [
      'TCP data offset past the datagram',
      () => {
        const b = tcpFrame({}, payloadOf(30));
        b[34 + 12] = 0xf0;
        return b;
      },
      'gso-drop-truncated',
    ],
    ['IP version ≠ EtherType', (b) => (b[14] = 0x65), 'gso-drop-bad-version'],
    ['fragment', (b) => (b[14 + 6] = 0x20), 'gso-drop-fragment'],
    ['SYN superframe', (b) => (b[34 + 13] = 0x02), 'gso-drop-bad-tcp-flags'],
    ['TCPV6 type on IPv4', () => undefined, 'gso-drop-type-mismatch', GSO_TCPV6],
    ['UDP_L4 type on TCP', () => undefined, 'gso-drop-type-mismatch', GSO_UDP_L4],
    ['legacy UFO type on TCP', () => undefined, 'gso-drop-type-mismatch', GSO_UDP],
    ['not IP', (b) => (b[12] = 0x88), 'gso-drop-unsupported'],
    ['too many segments', () => undefined, 'gso-drop-too-many-segments', GSO_TCPV4, 1],
    ['segment larger than a slot', () => undefined, 'gso-drop-segment-too-big', GSO_TCPV4, 4990],
  ];
  for (const [name, mutate, counter, type, mss] of cases) {
    it(name, () => {
      const seg = new Segmenter({ pool: new Pool(64, 2048) });
      const out = newBatch(64);
      let b: Uint8Array = base.slice();
      const r = mutate(b);
      if (r instanceof Uint8Array) b = r;
      const p = superframe(b, type ?? GSO_TCPV4, mss ?? 1000);
      assert.equal(seg.segment(p, out), GSO_DROPPED);
      superPool.free(p);
      assert.equal(out.count, 0);
      assert.deepEqual(seg.counters.snapshot(), { [counter]: 1 });
    });
  }

  it('bad csum offsets, pool empty, batch full', () => {
    const seg = new Segmenter({ pool: new Pool(3, 2048) });
    let p = superframe(base, GSO_TCPV4, 1000);
    p.flags |= NEEDS_CSUM;
    p.csumStart = p.start + 34;
    p.csumOffset = 6;
    assert.equal(seg.segment(p, newBatch(64)), GSO_DROPPED);
    superPool.free(p);
    p = superframe(base, GSO_TCPV4, 1000);
    assert.equal(seg.segment(p, newBatch(64)), GSO_DROPPED); // 5 segments, 3 slots
    assert.equal(seg.segment(p, newBatch(4)), GSO_DROPPED);
    superPool.free(p);
    assert.deepEqual(seg.counters.snapshot(), {
      'gso-drop-bad-csum-offsets': 1,
      'gso-drop-no-buffers': 1,
      'gso-drop-batch-full': 1,
    });
  });

  it('random corruption of superframes never throws and never leaks slots', () => {
    const pool = new Pool(300, 2048);
    const seg = new Segmenter({ pool });
    const out = newBatch(300);
    const seeds = [
      base,
      tcpFrame({ v6: true, vlan: 3 }, payloadOf(4000)),
      encapFrame({ kind: 'geneve', udpCsum: true }, tcpFrame({}, payloadOf(4000))),
      encapFrame({ kind: 'gre-csum-key' }, tcpFrame({}, payloadOf(4000))),
      udpFrame({}, payloadOf(3000)),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 6,
        }),
        fc.integer({ min: -200, max: 0 }),
        fc.constantFrom(GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, GSO_UDP, 0x21, 0x44),
        fc.integer({ min: 0, max: 3000 }),
        (si, edits, cutEnd, type, mss) => {
          const b = seeds[si]!.slice(0, seeds[si]!.length + cutEnd);
          for (const [at, v] of edits) if (at < b.length) b[at] = v;
          const p = superframe(concat(b), type, mss);
          const r = seg.segment(p, out);
          superPool.free(p);
          assert.ok(r >= -1);
          drain(out, pool);
          assert.equal(pool.available, 300);
        },
      ),
      { numRuns: 400 },
    );
  });
});
