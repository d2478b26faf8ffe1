import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hostileBytes, parseIsolated, truncations } from '../../test/conformance/codec-suite.ts';
import { concat, innerEthernet, ORACLE_SEED, scapyLite, wrap } from '../../test/conformance/frames.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { fromHex, hex } from './bytes.ts';
import * as gre from './gre.ts';
import * as nvgre from './nvgre.ts';
import { BAD_FIELD, BAD_FLAGS, BAD_VERSION, OK, UNSUPPORTED } from './status.ts';
import { IP_PROTO_GRE } from './tunnel-ports.ts';

// Provenance: "rfc" = RFC 7637 §3.2 figure (flags 0x2000, protocol 0x6558, VSID | FlowID) by hand;
// "scapy" = bytes(GRE(key_present=1, key=(vsid << 8) | flowid, proto=0x6558)).hex(), python3-scapy 2.5.0.
const VECTORS: { name: string; hex: string; repr: nvgre.NvgreRepr }[] = [
  {
    name: 'scapy: GRE(key_present=1, key=0x12345678, proto=0x6558) = VSID 0x123456, FlowID 0x78',
    hex: '2000655812345678',
    repr: { vsid: 0x123456, flowId: 0x78, rsvdFlags: 0 },
  },
  {
    name: 'rfc: VSID 0x1000 (first unreserved), FlowID 0',
    hex: '2000655800100000',
    repr: { vsid: 0x1000, flowId: 0, rsvdFlags: 0 },
  },
  {
    name: 'rfc: VSID 0xffffff (vendor), FlowID 0xff',
    hex: '20006558ffffffff',
    repr: { vsid: 0xffffff, flowId: 0xff, rsvdFlags: 0 },
  },
];

const arbRepr = fc
  .record({
    vsid: fc.integer({ min: 0, max: nvgre.VSID_MAX }),
    flowId: fc.integer({ min: 0, max: 255 }),
    rsvdFlags: fc.integer({ min: 0, max: 0xffff }).map((x) => x & gre.FLAGS_IGNORED),
  })
  .map((r) => ({ ...r }));

test('vectors: parse and emit byte-exact; same bytes parse as GRE with key = VSID << 8 | FlowID', () => {
  for (const v of VECTORS) {
    const bytes = fromHex(v.hex);
    const { st, out } = parseIsolated(nvgre.codec, bytes);
    assert.equal(st, OK, v.name);
    assert.deepEqual(out, v.repr, v.name);
    assert.equal(hex(roundTrip(nvgre.codec, v.repr)), hex(bytes), v.name);
    const g = gre.newRepr();
    assert.equal(gre.parse(bytes, 0, bytes.length, g), OK);
    assert.equal(g.key, ((v.repr.vsid << 8) | v.repr.flowId) >>> 0);
  }
  assert.equal(nvgre.reservedVsid(0xfff), true);
  assert.equal(nvgre.reservedVsid(0x1000), false);
  assert.equal(nvgre.reservedVsid(0xffffff), true);
});

test('round trip: random Reprs', () => {
  fc.assert(fc.property(arbRepr, (r) => void roundTrip(nvgre.codec, r)));
});

test('receive policy: K only, TEB only', () => {
  assert.equal(parseIsolated(nvgre.codec, fromHex('0000655812345678')).st, BAD_FLAGS, 'K clear');
  assert.equal(parseIsolated(nvgre.codec, fromHex('a000655800000000 12345678')).st, BAD_FLAGS, 'C set');
  assert.equal(parseIsolated(nvgre.codec, fromHex('3000655812345678 00000001')).st, BAD_FLAGS, 'S set');
  assert.equal(parseIsolated(nvgre.codec, fromHex('2001655812345678')).st, BAD_VERSION);
  assert.equal(parseIsolated(nvgre.codec, fromHex('6000655812345678')).st, UNSUPPORTED);
  assert.equal(parseIsolated(nvgre.codec, fromHex('2000080012345678')).st, BAD_FIELD, 'IPv4 payload');
});

test('hostile input: truncations, random bytes', () => {
  const valid = VECTORS.map((v) => fromHex(v.hex));
  truncations(nvgre.codec, valid);
  hostileBytes(nvgre.codec, valid);
});

test('tshark (generic GRE) shows K, TEB and key = VSID << 8 | FlowID for nvo-emitted NVGRE', {
  skip: needTshark(),
}, () => {
  const reprs = fc.sample(arbRepr, { numRuns: 40, seed: ORACLE_SEED }).map((r) => ({ ...r, rsvdFlags: 0 }));
  const payloads = reprs.map((r, i) => {
    const h = new Uint8Array(8);
    nvgre.emit(r, h, 0);
    return concat(h, innerEthernet(i));
  });
  tshark(wrap(payloads, '', IP_PROTO_GRE)).forEach((layers, i) => {
    const r = reprs[i]!;
    const at = `frame ${i}`;
    assert.equal(tsharkMalformed(layers), undefined, at);
    assert.equal(fields(layers, 'gre.flags_and_version')[0], '0x2000', at);
    assert.equal(Number(fields(layers, 'gre.proto')[0]), 0x6558, at);
    assert.equal(Number(fields(layers, 'gre.key')[0]), r.vsid * 256 + r.flowId, at);
    assert.deepEqual(fields(layers, 'arp.dst.proto_ipv4'), [`10.0.0.${i & 0xff}`], `${at} inner`);
  });
});

test('nvo parses scapy-built NVGRE-style GRE headers', { skip: needScapy() }, () => {
  const out = scapyLite(`
import random
random.seed(7637)
for i in range(100):
    vsid, flow = random.randrange(1 << 24), random.randrange(256)
    print(bytes(GRE(key_present=1, key=(vsid << 8) | flow, proto=0x6558)).hex(), vsid, flow)
`);
  for (const line of out.trim().split('\n')) {
    const [h, vsid, flow] = line.split(' ');
    const { st, out: r } = parseIsolated(nvgre.codec, fromHex(h!));
    assert.equal(st, OK, line);
    assert.deepEqual(r, { vsid: Number(vsid), flowId: Number(flow), rsvdFlags: 0 }, line);
  }
});
