import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hostileBytes, parseIsolated, truncations } from '../../test/conformance/codec-suite.ts';
import { concat, innerEthernet, ORACLE_SEED, scapyLite, wrap } from '../../test/conformance/frames.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { fromHex, hex } from './bytes.ts';
import { BAD_FLAGS, OK, TRUNCATED } from './status.ts';
import { VXLAN_LINUX_PORT, VXLAN_PORT } from './tunnel-ports.ts';
import * as vxlan from './vxlan.ts';

// Provenance: "rfc" = the RFC 7348 §5 layout by hand (flags 0x08, VNI in bytes 4–6);
// "scapy" = bytes(VXLAN(...)).hex() from Debian python3-scapy 2.5.0 (command in the name);
// "soe" = the draft-zhou-li-vxlan-soe-01 example (VNI 42, MSS 1448) read as plain VXLAN.
const VECTORS: { name: string; hex: string; repr: vxlan.VxlanRepr }[] = [
  {
    name: 'rfc: VNI 0',
    hex: '0800000000000000',
    repr: { vni: 0, rsvdFlags: 0, reserved24: 0, reserved8: 0 },
  },
  {
    name: 'scapy: VXLAN(vni=0x123456)',
    hex: '0800000012345600',
    repr: { vni: 0x123456, rsvdFlags: 0, reserved24: 0, reserved8: 0 },
  },
  {
    name: 'rfc: VNI max',
    hex: '08000000ffffff00',
    repr: { vni: 0xffffff, rsvdFlags: 0, reserved24: 0, reserved8: 0 },
  },
  {
    name: 'scapy: VXLAN(vni=42, flags=0x88, gpflags=0x40, gpid=0x1234) (GBP bits are reserved here)',
    hex: '8840123400002a00',
    repr: { vni: 42, rsvdFlags: 0x80, reserved24: 0x401234, reserved8: 0 },
  },
  {
    name: 'soe: 88 05 00 00 00 00 2A A8 seen by a plain VXLAN parser',
    hex: '880500000000 2aa8',
    repr: { vni: 42, rsvdFlags: 0x80, reserved24: 0x050000, reserved8: 0xa8 },
  },
];

const arbRepr = fc
  .record({
    vni: fc.integer({ min: 0, max: vxlan.VNI_MAX }),
    rsvdFlags: fc.integer({ min: 0, max: 255 }).map((x) => x & vxlan.FLAGS_RESERVED),
    reserved24: fc.integer({ min: 0, max: 0xffffff }),
    reserved8: fc.integer({ min: 0, max: 255 }),
  })
  .map((r) => ({ ...r })); // fc.record makes null-prototype objects; deepEqual wants plain ones

test('vectors: parse and emit byte-exact', () => {
  for (const v of VECTORS) {
    const bytes = fromHex(v.hex);
    const { st, out } = parseIsolated(vxlan.codec, bytes);
    assert.equal(st, OK, v.name);
    assert.deepEqual(out, v.repr, v.name);
    assert.equal(hex(roundTrip(vxlan.codec, v.repr)), hex(bytes), v.name);
    assert.equal(vxlan.vni(bytes, 0), v.repr.vni);
  }
});

test('round trip: random Reprs', () => {
  fc.assert(
    fc.property(arbRepr, (r) => {
      roundTrip(vxlan.codec, r);
    }),
  );
});

test('receive policy: I clear is BAD_FLAGS; reserved bits reported, strictCheck drops them like Linux', () => {
  assert.equal(parseIsolated(vxlan.codec, fromHex('0000000000002a00')).st, BAD_FLAGS);
  assert.equal(parseIsolated(vxlan.codec, fromHex('f700000000002a00')).st, BAD_FLAGS);
  const gbp = fromHex('8840123400002a00');
  assert.equal(vxlan.strictCheck(gbp, 0, 8), BAD_FLAGS);
  assert.equal(vxlan.strictCheck(fromHex('0800000000002a01'), 0, 8), BAD_FLAGS);
  assert.equal(vxlan.strictCheck(fromHex('0800000000002a00'), 0, 8), OK);
  assert.equal(vxlan.strictCheck(fromHex('08000000000000'), 0, 7), TRUNCATED);
});

test('hostile input: truncations, random bytes', () => {
  const valid = VECTORS.map((v) => fromHex(v.hex));
  truncations(vxlan.codec, valid);
  hostileBytes(vxlan.codec, valid);
});

test('tshark dissects nvo-emitted VXLAN (4789 and 8472) to the same fields', { skip: needTshark() }, () => {
  const reprs = fc.sample(arbRepr, { numRuns: 60, seed: ORACLE_SEED });
  // Keep G (0x80) and the GPE P bit out of half of them: tshark reads byte 0 bit 0x80 as GBP and then
  // bytes 1–3 as GBP fields, which are still the same bits of `vxlan.flags`/`vxlan.gbp`.
  const headers = reprs.map((r) => {
    const b = new Uint8Array(8);
    vxlan.emit(r, b, 0);
    return b;
  });
  const payloads = headers.map((h, i) => concat(h, innerEthernet(i)));
  const frames = [
    ...wrap(payloads.slice(0, 30), `UDP(sport=49152, dport=${VXLAN_PORT})`),
    ...wrap(payloads.slice(30), `UDP(sport=49153, dport=${VXLAN_LINUX_PORT})`),
  ];
  const dissected = tshark(frames, { decodeAs: [`udp.port==${VXLAN_LINUX_PORT},vxlan`] });
  dissected.forEach((layers, i) => {
    const r = reprs[i]!;
    const h = headers[i]!;
    assert.equal(tsharkMalformed(layers), undefined, `frame ${i}`);
    assert.deepEqual(fields(layers, 'vxlan.vni'), [String(r.vni)], `frame ${i} vni`);
    // vxlan.flags is bytes 0–1 as one 16-bit field.
    assert.equal(Number(fields(layers, 'vxlan.flags')[0]), (h[0]! << 8) | h[1]!, `frame ${i} flags`);
    assert.equal(fields(layers, 'vxlan.flag_i')[0], '1');
    assert.equal(Number(fields(layers, 'vxlan.reserved8')[0]), r.reserved8, `frame ${i} reserved8`);
    assert.deepEqual(fields(layers, 'arp.dst.proto_ipv4'), [`10.0.0.${i & 0xff}`], `frame ${i} inner`);
  });
});

test('nvo parses scapy-built VXLAN headers to scapy’s field values', { skip: needScapy() }, () => {
  const out = scapyLite(
    `
import random
from scapy.layers.vxlan import VXLAN
random.seed(7348)
for i in range(200):
    flags = (random.randrange(256) | 0x08) & ~0x84   # I set; G and P clear keep the plain layout
    v = VXLAN(flags=flags, reserved1=random.randrange(1 << 24), vni=random.randrange(1 << 24), reserved2=random.randrange(256))
    b = bytes(v)[:8]
    print(b.hex(), int(v.flags), v.reserved1, v.vni, v.reserved2)
`,
    'from scapy.layers.vxlan import VXLAN',
  );
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 200);
  for (const line of lines) {
    const [h, flags, r1, vni, r2] = line.split(' ');
    const { st, out: r } = parseIsolated(vxlan.codec, fromHex(h!));
    assert.equal(st, OK, line);
    assert.equal(r.vni, Number(vni), line);
    assert.equal(r.rsvdFlags, Number(flags) & ~vxlan.FLAG_I, line);
    assert.equal(r.reserved24, Number(r1), line);
    assert.equal(r.reserved8, Number(r2), line);
  }
});
