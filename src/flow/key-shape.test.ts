// Key shapes (key-shape.ts) are only correct if extraction never writes a word outside the shape it
// reports: checked on random frames behind every protocol prefix, with random tunnel metadata. And the
// EMC keyed by shape must never change an answer: shaped lookups == a full translation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ENCAP_GENEVE, ENCAP_VXLAN, Packet } from '../packet/packet.ts';
import { fromHex } from '../wire/bytes.ts';
import { FlowCache, LEVEL_EMC } from './cache.ts';
import { extractKey } from './extract.ts';
import { FIELDS } from './fields.ts';
import * as K from './key.ts';
import { hashShape, SHAPE_ALL, SHAPE_WORDS, sameInShape, shapeOf } from './key-shape.ts';
import { formatActions } from './ofctl-format.ts';
import { parseFlow } from './ofctl-parse.ts';
import { FlowTables } from './table.ts';
import { newTranslation, translate } from './xlate.ts';

const eth = '000000000001000000000002';
const PREFIXES = [
  '',
  eth,
  `${eth}8100`,
  `${eth}88a800018100`,
  `${eth}810000640800`,
  `${eth}08004500`,
  `${eth}0800450000000000000040060000`, // IPv4 → TCP
  `${eth}0800450000000000000040110000`, // IPv4 → UDP
  `${eth}0800450000000000000040840000`, // IPv4 → SCTP
  `${eth}0800450000000000000040010000`, // IPv4 → ICMP
  `${eth}08004500000000002000403a0000`, // IPv4 first fragment, proto 58 (not ICMPv6 over IPv4)
  `${eth}0800450000000000006440110000`, // IPv4 later fragment
  `${eth}86dd6000`,
  `${eth}86dd600000000000ff3aff`, // IPv6 → ICMPv6
  `${eth}86dd60000000 0018 3aff ${'00'.repeat(32)} 8700 0000 00000000 ${'fe80'.padEnd(32, '0')}`, // NS
  `${eth}86dd600000000000ff00ff`, // IPv6 → hop-by-hop
  `${eth}86dd600000000000ff06ff`, // IPv6 → TCP
  `${eth}0806000108000604`, // Ethernet/IPv4 ARP
  `${eth}8035000108000604`, // RARP
  `${eth}0026aaaa030000000800`, // 802.3 LLC/SNAP carrying IPv4
  `${eth}0026424203`, // 802.3 LLC, no ethertype
].map((h) => fromHex(h.replace(/ /g, '')));

function packetOf(bytes: Uint8Array, tunnel: number, addr: Uint8Array, dst = addr.toReversed()): Packet {
  const p = new Packet(new Uint8Array(2048), 0, 256);
  p.buf.set(bytes, p.start);
  p.end = p.start + bytes.length;
  p.inPort = 3;
  if (tunnel !== 0) {
    p.tunEncap = tunnel === 6 ? ENCAP_GENEVE : ENCAP_VXLAN;
    p.tunIdLo = 0x123456;
    p.tunIdHi = 7;
    p.tunFlags = 1;
    p.tunIpVersion = tunnel;
    p.tunSrc.set(addr);
    p.tunDst.set(dst);
  }
  return p;
}

const frameArb = fc.record({
  prefix: fc.integer({ min: 0, max: PREFIXES.length - 1 }),
  tail: fc.uint8Array({ maxLength: 80, size: 'max' }),
  tunnel: fc.constantFrom(0, 4, 6),
  addr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
});
const bytesOf = (f: { prefix: number; tail: Uint8Array }) =>
  new Uint8Array([...PREFIXES[f.prefix]!, ...f.tail]);

test('shape word lists: ascending, unique, in range; SHAPE_ALL is every word', () => {
  assert.deepEqual([...SHAPE_WORDS[SHAPE_ALL]!], [...Array(K.KEY_WORDS).keys()]);
  for (let s = 1; s < SHAPE_WORDS.length; s++) {
    const w = [...SHAPE_WORDS[s]!];
    for (let i = 1; i < w.length; i++) assert.ok(w[i - 1]! < w[i]!, `shape ${s}`);
    assert.ok(w[0]! >= 0 && w.at(-1)! < K.KEY_WORDS);
  }
});

test('extraction writes no word outside the shape it reports (random frames, any tunnel)', () => {
  fc.assert(
    fc.property(frameArb, (f) => {
      const k = K.newKey();
      extractKey(packetOf(bytesOf(f), f.tunnel, f.addr), k);
      const shape = shapeOf(k, f.tunnel);
      const inShape = new Set(SHAPE_WORDS[shape]!);
      for (let w = 0; w < K.KEY_WORDS; w++)
        if (!inShape.has(w)) assert.equal(k[w], 0, `word ${w} outside shape ${shape}`);
    }),
    { numRuns: 6000 },
  );
});

test('a UDP/IPv4 key hashes and compares the run [0, 19), [0, 25) with IPv4 tunnel metadata', () => {
  const udp = fromHex(`${eth}0800450000200000000040110000c0a80101c0a8010203e8000900080000`);
  const k = K.newKey();
  extractKey(packetOf(udp, 0, new Uint8Array(16)), k);
  assert.deepEqual([...SHAPE_WORDS[shapeOf(k, 0)]!], [...Array(19).keys()]);
  extractKey(packetOf(udp, 4, new Uint8Array(16).fill(9)), k);
  assert.deepEqual([...SHAPE_WORDS[shapeOf(k, 4)]!], [...Array(25).keys()]);
});

test('the flow hash ignores what changes within a flow: TTL, TOS/ECN, TCP flags (5-tuple does not)', () => {
  // IPv4/TCP 10.0.0.1:1000 → 10.0.0.2:80, with TOS, TTL and flags at offsets 15, 22 and 47 of the frame.
  const base = fromHex(
    `${eth}0800 4500002800000000 4006 0000 0a000001 0a000002 03e8 0050 00000000 00000000 5002 ffff 0000 0000`.replace(
      / /g,
      '',
    ),
  );
  const hashOf = (bytes: Uint8Array, tunnel = 0) => {
    const k = K.newKey();
    extractKey(packetOf(bytes, tunnel, new Uint8Array(16).fill(3)), k);
    return hashShape(k, shapeOf(k, tunnel));
  };
  const at = (i: number, v: number) => {
    const f = base.slice();
    f[i] = v;
    return f;
  };
  for (const tunnel of [0, 4, 6]) {
    const h = hashOf(base, tunnel);
    for (const [i, v] of [
      [15, 0x03], // ECN CE
      [15, 0xb8], // DSCP EF
      [22, 63], // TTL
      [47, 0x10], // ACK
      [47, 0x18], // PSH ACK
      [47, 0x11], // FIN ACK
    ])
      assert.equal(hashOf(at(i!, v!), tunnel), h, `byte ${i} = ${v}`);
    for (const i of [29, 33, 35, 37]) assert.notEqual(hashOf(at(i, 9), tunnel), h, `byte ${i}`); // src, dst, ports
  }
});

test('key layout: the runs and the adjacent groups that match.ts relies on', () => {
  const run = (w: number, n: number) => Array.from({ length: n }, (_, i) => w + i);
  // nw_src..nw_dst, nw_proto..nw_frag, ipv6_src..ipv6_label, arp_op..arp_tha: one prerequisite each.
  assert.deepEqual([K.NW_SRC, K.NW_DST], run(K.NW_SRC, 2));
  assert.deepEqual([K.NW_PROTO, K.NW_TOS, K.NW_TTL, K.NW_FRAG], run(K.NW_PROTO, 4));
  assert.deepEqual([K.IPV6_SRC, K.IPV6_DST, K.IPV6_LABEL], [K.IPV6_SRC, K.IPV6_SRC + 4, K.IPV6_SRC + 8]);
  assert.deepEqual([K.ARP_OP, K.ARP_SPA, K.ARP_TPA, K.ARP_SHA, K.ARP_THA], [50, 51, 52, 53, 55]);
  assert.equal(K.ARP_THA + 2 - K.ARP_OP, 7);
  // hashShape skips [NW_TOS, NW_FRAG) and [TCP_FLAGS, ICMP_TYPE): exactly nw_tos, nw_ttl, tcp_flags.
  assert.deepEqual([K.NW_TTL, K.NW_FRAG, K.ICMP_TYPE], [K.NW_TOS + 1, K.NW_TOS + 2, K.TCP_FLAGS + 1]);
  // Every word is some field's, but the two no flow text names (the inner VLAN tag, the encapsulation
  // kind): the layout has no gap a constant could have fallen into.
  const covered = new Set(FIELDS.flatMap((f) => run(f.word, f.nwords)));
  assert.deepEqual(
    run(0, K.KEY_WORDS).filter((w) => !covered.has(w)),
    [K.VLAN2_TCI, K.TUN_ENCAP],
  );
});

test('same shape: words of the shape equal ⇔ keys equal (frames one flipped byte apart)', () => {
  fc.assert(
    fc.property(frameArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (f, at, x) => {
      // One byte of the frame or of a tunnel address.
      const bytes = bytesOf(f);
      const flipped = bytes.slice();
      const src = f.addr.slice();
      const dst = f.addr.toReversed();
      const pos = at % (bytes.length + 32);
      if (pos < bytes.length) flipped[pos]! ^= x;
      else if (pos < bytes.length + 16) src[pos - bytes.length]! ^= x;
      else dst[pos - bytes.length - 16]! ^= x;
      const a = K.newKey();
      const b = K.newKey();
      extractKey(packetOf(bytes, f.tunnel, f.addr), a);
      extractKey(packetOf(flipped, f.tunnel, src, dst), b);
      const shape = shapeOf(a, f.tunnel);
      if (shapeOf(b, f.tunnel) !== shape) return;
      const equal = K.keyEquals(a, b);
      assert.equal(sameInShape(a, b, 0, shape), equal);
      if (equal) assert.equal(hashShape(a, shape), hashShape(b, shape));
    }),
    { numRuns: 6000 },
  );
});

// Frames that differ in few bits (tails of 0x00 / 0x80 bytes, one tunnel address): keys then often
// agree on most words, which is where a word missing from a shape would show as a wrong EMC hit.
const nearFrameArb = fc.record({
  prefix: fc.integer({ min: 0, max: PREFIXES.length - 1 }),
  tail: fc.array(fc.constantFrom(0, 0x80), { maxLength: 48 }).map((a) => Uint8Array.from(a)),
  tunnel: fc.constantFrom(0, 4, 6),
  addr: fc.constant(new Uint8Array(16).fill(1)),
});

test('EMC keyed by shape == full translation, for extracted keys of every shape', () => {
  const tables = new FlowTables();
  const flows = [
    'priority=60,tun_id=0x700123456,udp,actions=output:6',
    'priority=55,udp,tp_dst=0x8000/0x8000,actions=output:7',
    'priority=52,tcp,tcp_flags=+fin,actions=output:8',
    'priority=50,ip,nw_src=0.0.0.0/1,actions=output:5',
    'priority=45,ip,nw_dst=128.0.0.0/1,actions=output:9',
    'priority=42,ipv6,ipv6_dst=8000::/1,actions=output:10',
    'priority=41,icmp6,icmp_type=135,nd_target=8000::/1,actions=output:11',
    'priority=35,arp,arp_tpa=128.0.0.0/1,actions=output:12',
    'priority=40,udp,tp_dst=0x0900/0xff00,actions=output:4',
    'priority=30,ipv6,actions=output:3',
    'priority=20,arp,actions=output:2',
    'priority=10,dl_type=0x0800,actions=output:1',
    'priority=0,actions=drop',
  ];
  for (const f of flows) tables.apply('add', parseFlow(f), 0);
  const cache = new FlowCache(tables, { emcEntries: 64, emcInsertInvProb: 1 });
  const ref = newTranslation();
  const wc = new Uint32Array(K.KEY_WORDS);
  let emcHits = 0;
  fc.assert(
    fc.property(fc.array(nearFrameArb, { minLength: 1, maxLength: 8 }), (frames) => {
      // Each frame twice: the second lookup is an EMC hit when the first one was inserted.
      for (const f of [...frames, ...frames]) {
        const k = K.newKey();
        const p = packetOf(bytesOf(f), f.tunnel, f.addr);
        extractKey(p, k);
        const shape = shapeOf(k, p.tunIpVersion);
        const mf = cache.lookup(k, hashShape(k, shape), 64, 0, shape);
        if (cache.level === LEVEL_EMC) emcHits++;
        wc.fill(0);
        translate(tables, k, wc, ref);
        assert.equal(formatActions(mf.actions), formatActions(ref.actions));
      }
    }),
    { numRuns: 500 },
  );
  assert.ok(emcHits > 500, `EMC hits ${emcHits}`);
});

test('flow hash quality: EMC buckets even over 200k bench-like flows; one flipped key bit moves every kept bit', () => {
  const k = K.newKey();
  const hs: number[] = [];
  for (let i = 0; i < 200_000; i++) {
    k.fill(0);
    k[K.IN_PORT] = 1;
    k[K.DL_TYPE] = 0x800;
    k[K.NW_PROTO] = 17;
    // Sequential source ports, then sources, then destinations: what round-robin flows look like.
    k[K.NW_SRC] = i < 60_000 ? 0xc0a80101 : 0xc0a80001 + i;
    k[K.NW_DST] = i < 150_000 ? 0xc0a80102 : 0x0a000000 + ((i & 0xff) << 24);
    k[K.TP_SRC] = 1024 + (i % 60_000);
    k[K.TP_DST] = 9;
    hs.push(hashShape(k, shapeOf(k, 0)));
  }
  // 8192 EMC buckets: χ² per degree of freedom ≈ 1 for a uniform hash (sd ≈ √(2/8192) ≈ 0.016).
  const n = 8192;
  const count = new Float64Array(n);
  for (const h of hs) count[h & (n - 1)]!++;
  const e = hs.length / n;
  const chi = count.reduce((a, x) => a + (x - e) ** 2 / e, 0) / n;
  assert.ok(chi > 0.9 && chi < 1.1, `χ²/df ${chi}`);
  // 30 bits: ≈ 18.6 colliding pairs expected among 200k.
  assert.ok(new Set(hs).size > hs.length - 60, `${hs.length - new Set(hs).size} collisions`);
  // Avalanche: flipping one bit of a hashed word flips each of the 30 kept bits about half the time.
  const words = [K.IN_PORT, 1, 4, K.NW_SRC, K.NW_DST, K.TP_SRC, K.TP_DST, K.TUN_ID + 1, K.TUN_SRC];
  let rng = 7;
  const next = () => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return rng >>> 0;
  };
  for (const w of words)
    for (const bit of [0, 7, 15, 16, 31]) {
      const flips = new Float64Array(30);
      const trials = 2000;
      for (let t = 0; t < trials; t++) {
        for (let i = 0; i < 25; i++) k[i] = next();
        const shape = shapeOf(k, 4);
        const h = hashShape(k, shape);
        k[w] = (k[w]! ^ (1 << bit)) >>> 0;
        const d = h ^ hashShape(k, shape);
        for (let b = 0; b < 30; b++) flips[b]! += (d >>> b) & 1;
      }
      for (let b = 0; b < 30; b++)
        assert.ok(
          Math.abs(flips[b]! / trials - 0.5) < 0.06,
          `word ${w} bit ${bit} → hash bit ${b}: ${flips[b]! / trials}`,
        );
    }
});
