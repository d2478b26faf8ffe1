import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hostileBytes, parseIsolated, truncations } from '../../test/conformance/codec-suite.ts';
import {
  concat,
  INNER_IPV4_ICMP,
  innerEthernet,
  ORACLE_SEED,
  scapyLite,
  wrap,
} from '../../test/conformance/frames.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { fromHex, hex } from './bytes.ts';
import { BAD_FIELD, BAD_FLAGS, BAD_VERSION, OK } from './status.ts';
import { VXLAN_GPE_PORT } from './tunnel-ports.ts';
import * as gpe from './vxlan-gpe.ts';

// Provenance: "scapy" = bytes(VXLAN(...)).hex() from Debian python3-scapy 2.5.0 (expression in the
// name; scapy's VXLAN class carries GPE's NextProtocol flag and field); "draft" = the layout of
// draft-ietf-nvo3-vxlan-gpe-12 §3.2 by hand.
const base = { version: 0, rsvdFlags: 0, reserved16: 0, reserved8: 0 };
const VECTORS: { name: string; hex: string; repr: gpe.VxlanGpeRepr }[] = [
  {
    name: "scapy: VXLAN(flags='Instance+NextProtocol', NextProtocol=1, vni=0x10203)",
    hex: '0c00000101020300',
    repr: { ...base, flags: gpe.FLAG_P, nextProto: gpe.NP_IPV4, vni: 0x10203 },
  },
  {
    name: 'scapy: VXLAN(flags=0x0d, NextProtocol=3, vni=5) (P+O, Ethernet)',
    hex: '0d00000300000500',
    repr: { ...base, flags: gpe.FLAG_P | gpe.FLAG_O, nextProto: gpe.NP_ETHERNET, vni: 5 },
  },
  {
    name: 'draft §3.2: P clear, NP 0 (Ethernet payload, the plain-VXLAN compatible form), B set',
    hex: '0a00000000002a00',
    repr: { ...base, flags: gpe.FLAG_B, nextProto: 0, vni: 42 },
  },
  {
    name: 'draft: NSH with every reserved field non-zero',
    hex: 'cc1234040000ffee',
    repr: {
      version: 0,
      flags: gpe.FLAG_P,
      nextProto: gpe.NP_NSH,
      vni: 0xff,
      rsvdFlags: 0xc0,
      reserved16: 0x1234,
      reserved8: 0xee,
    },
  },
];

const arbRepr = fc
  .record({
    version: fc.constant(0),
    flags: fc.integer({ min: 0, max: 7 }),
    nextProto: fc.integer({ min: 0, max: 255 }),
    vni: fc.integer({ min: 0, max: gpe.VNI_MAX }),
    rsvdFlags: fc.constantFrom(0, 0x40, 0x80, 0xc0),
    reserved16: fc.integer({ min: 0, max: 0xffff }),
    reserved8: fc.integer({ min: 0, max: 255 }),
  })
  .map((r) => ({ ...r, nextProto: r.flags & gpe.FLAG_P ? r.nextProto : 0 }));

test('vectors: parse and emit byte-exact', () => {
  for (const v of VECTORS) {
    const bytes = fromHex(v.hex);
    const { st, out } = parseIsolated(gpe.codec, bytes);
    assert.equal(st, OK, v.name);
    assert.deepEqual(out, v.repr, v.name);
    assert.equal(hex(roundTrip(gpe.codec, v.repr)), hex(bytes), v.name);
  }
  assert.equal(gpe.nextProtocols.name(4), 'nsh');
  assert.equal(gpe.nextProtocols.name(0x7e), 'unknown(0x7e)');
  assert.equal(gpe.etherTypeOf(gpe.NP_IPV6), 0x86dd);
  assert.equal(gpe.etherTypeOf(0x7e), -1);
});

test('round trip: random Reprs', () => {
  fc.assert(fc.property(arbRepr, (r) => void roundTrip(gpe.codec, r)));
});

test('receive policy: version, I bit, P/NP consistency', () => {
  assert.equal(parseIsolated(gpe.codec, fromHex('1c00000100000100')).st, BAD_VERSION);
  assert.equal(parseIsolated(gpe.codec, fromHex('3c00000100000100')).st, BAD_VERSION);
  assert.equal(parseIsolated(gpe.codec, fromHex('0400000100000100')).st, BAD_FLAGS);
  assert.equal(parseIsolated(gpe.codec, fromHex('0800000100000100')).st, BAD_FIELD);
  // emit of a version-1 Repr produces what parse refuses (for negative tests elsewhere).
  const b = new Uint8Array(8);
  gpe.emit({ ...VECTORS[0]!.repr, version: 1 }, b, 0);
  assert.equal(hex(b), '1c00000101020300');
});

test('hostile input: truncations, random bytes', () => {
  const valid = VECTORS.map((v) => fromHex(v.hex));
  truncations(gpe.codec, valid);
  hostileBytes(gpe.codec, valid);
});

test('tshark (vxlan_gpe on 4790) dissects nvo-emitted headers to the same fields', {
  skip: needTshark(),
}, () => {
  const ip4 = INNER_IPV4_ICMP;
  const reprs = fc.sample(arbRepr, { numRuns: 60, seed: ORACLE_SEED }).map((r, i) => {
    // Payloads tshark can dissect without errors: every third IPv4, the rest Ethernet (P set or not).
    if (i % 3 === 0) return { ...r, flags: r.flags | gpe.FLAG_P, nextProto: gpe.NP_IPV4 };
    return { ...r, nextProto: r.flags & gpe.FLAG_P ? gpe.NP_ETHERNET : 0 };
  });
  const payloads = reprs.map((r, i) => {
    const h = new Uint8Array(8);
    gpe.emit(r, h, 0);
    return concat(h, r.nextProto === gpe.NP_IPV4 ? ip4 : innerEthernet(i));
  });
  const dissected = tshark(wrap(payloads, `UDP(sport=49152, dport=${VXLAN_GPE_PORT})`));
  dissected.forEach((layers, i) => {
    const r = reprs[i]!;
    const at = `frame ${i}`;
    assert.equal(tsharkMalformed(layers), undefined, at);
    assert.equal(Number(fields(layers, 'vxlan.flags')[0]), payloads[i]![0], at);
    assert.equal(fields(layers, 'vxlan.ver')[0], '0', at);
    assert.equal(fields(layers, 'vxlan.i_bit')[0], '1', at);
    assert.equal(fields(layers, 'vxlan.p_bit')[0], r.flags & gpe.FLAG_P ? '1' : '0', at);
    assert.equal(fields(layers, 'vxlan.o_bit')[0], r.flags & gpe.FLAG_O ? '1' : '0', at);
    assert.equal(fields(layers, 'vxlan.next_proto')[0], String(r.nextProto), at);
    assert.equal(fields(layers, 'vxlan.vni')[0], String(r.vni), at);
    assert.equal(fields(layers, 'vxlan.reserved_16')[0], String(r.reserved16), at);
    assert.equal(fields(layers, 'vxlan.reserved8')[0], String(r.reserved8), at);
  });
});

test('nvo parses scapy-built GPE headers to scapy’s field values', { skip: needScapy() }, () => {
  const out = scapyLite(
    `
import random
from scapy.layers.vxlan import VXLAN
random.seed(4790)
for i in range(200):
    flags = 0x0c | random.randrange(4)          # I + P (NextProtocol), random B/O
    v = VXLAN(flags=flags, reserved0=random.randrange(1 << 16), NextProtocol=random.randrange(256), vni=random.randrange(1 << 24), reserved2=random.randrange(256))
    print(bytes(v)[:8].hex(), int(v.flags), v.reserved0, v.NextProtocol, v.vni, v.reserved2)
`,
    'from scapy.layers.vxlan import VXLAN',
  );
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 200);
  for (const line of lines) {
    const [h, flags, r0, np, vni, r2] = line.split(' ').map((x, i) => (i ? Number(x) : x)) as [
      string,
      ...number[],
    ];
    const { st, out: r } = parseIsolated(gpe.codec, fromHex(h));
    assert.equal(st, OK, line);
    assert.deepEqual(
      r,
      { version: 0, flags: flags! & 7, nextProto: np, vni, rsvdFlags: 0, reserved16: r0, reserved8: r2 },
      line,
    );
  }
});

test('strictCheck: the Linux gpe device rule (rows measured on kernel 6.18, see vxlan-kernel.test.ts)', () => {
  const rows: [string, boolean][] = [
    ['0c00000100109200', true], // P, IPv4
    ['0c00000300109200', true], // P, Ethernet
    ['0c00000400109200', true], // P, NSH
    ['0800000300109200', false], // P clear
    ['1c00000100109200', false], // version 1
    ['0d00000100109200', false], // O (OAM)
    ['0e00000100109200', false], // B
    ['0c00010100109200', false], // reserved16
    ['0c00000100109201', false], // reserved8
    ['cc00000100109200', false], // R bits
    ['0c00000700109200', false], // next protocol 7
  ];
  for (const [h, ok] of rows) assert.equal(gpe.strictCheck(fromHex(h), 0, 8) === OK, ok, h);
});
