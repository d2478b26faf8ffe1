import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hostileBytes, parseIsolated, truncations } from '../../test/conformance/codec-suite.ts';
import { INNER_AT, STT_AT, V1, V5 } from '../../test/conformance/stt-vectors.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fromHex, hex } from './bytes.ts';
import { BAD_FIELD, BAD_FLAGS, BAD_VERSION, OK } from './status.ts';
import * as stt from './stt.ts';

const zero = stt.newRepr();
const CTX = { ctxHi: 0x01234567, ctxLo: 0x89abcdef };

// Provenance: "V1"/"V5" = stt.md §6 vectors (full frames in test/conformance/stt-vectors.ts);
// "variant" = the stt.md §6 V5 variants table (flags/L4 offset per inner TCP/UDP over IPv4/IPv6,
// VLAN PCP 5 VID 100 = 0xB064), bytes laid out from the draft -08 §3.1 figure with LSB-first flags.
const frame = (n: number) => new Uint8Array(n).fill(0x11);
const VECTORS: { name: string; hex: string; frame: Uint8Array; repr: stt.SttRepr }[] = [
  {
    name: 'V1: no offload',
    hex: hex(V1, STT_AT, INNER_AT),
    frame: V1.subarray(INNER_AT),
    repr: { ...zero, ...CTX },
  },
  {
    name: 'V5: P|V|T, L4 offset 34, MSS 1448',
    hex: '000e220005a800000123456789abcdef0000',
    frame: V5.subarray(INNER_AT),
    repr: { ...zero, ...CTX, flags: 0x0e, l4Offset: 34, mss: 1448 },
  },
  {
    name: 'variant: TCPv6 0x0a / 54',
    hex: '000a360005a800000123456789abcdef0000',
    frame: frame(54 + 20),
    repr: { ...zero, ...CTX, flags: 0x0a, l4Offset: 54, mss: 1448 },
  },
  {
    name: 'variant: UDPv4 0x06 / 34',
    hex: '0006220000000000 0123456789abcdef 0000',
    frame: frame(34 + 8),
    repr: { ...zero, ...CTX, flags: 0x06, l4Offset: 34 },
  },
  {
    name: 'variant: UDPv6 0x02 / 54',
    hex: '0002360000000000 0123456789abcdef 0000',
    frame: frame(54 + 8),
    repr: { ...zero, ...CTX, flags: 0x02, l4Offset: 54 },
  },
  {
    name: 'variant: verified, no offload, VLAN PCP 5 VID 100 (0xB064)',
    hex: '000100000000b064 0123456789abcdef 0000',
    frame: frame(14),
    repr: { ...zero, ...CTX, flags: 0x01, tci: 0xb064 },
  },
  {
    name: 'draft: reserved flag bits (an MSB-first writer’s 0xF0), reserved byte, padding all set',
    hex: '00f000ff00000000ffffffffffffffffabcd',
    frame: frame(14),
    repr: { ...zero, rsvdFlags: 0xf0, reserved: 0xff, ctxHi: 0xffffffff, ctxLo: 0xffffffff, padding: 0xabcd },
  },
];

const arbRepr = fc
  .record({
    flags: fc.integer({ min: 0, max: 15 }),
    rsvdFlags: fc.integer({ min: 0, max: 15 }).map((x) => x << 4),
    l4Offset: fc.integer({ min: 0, max: 255 }),
    reserved: fc.integer({ min: 0, max: 255 }),
    mss: fc.integer({ min: 0, max: 0xffff }),
    tci: fc.integer({ min: 0, max: 0xffff }),
    ctxHi: fc.integer({ min: 0, max: 0xffffffff }),
    ctxLo: fc.integer({ min: 0, max: 0xffffffff }),
    padding: fc.integer({ min: 0, max: 0xffff }),
  })
  .map((r) => {
    let flags = r.flags;
    let l4Offset = r.l4Offset;
    if (flags & stt.FLAG_CSUM_PARTIAL) {
      flags &= ~stt.FLAG_CSUM_VERIFIED;
      l4Offset = Math.max(l4Offset, flags & stt.FLAG_IPV4 ? 34 : 54);
    }
    return { ...r, version: 0, flags, l4Offset };
  });
/** Enough inner frame behind the header for the L4 header the flags point at. */
const trailingFor = (r: stt.SttRepr) => new Uint8Array(r.l4Offset + 20).fill(0x5a);

test('vectors: parse and emit byte-exact', () => {
  for (const v of VECTORS) {
    const bytes = fromHex(v.hex);
    const all = new Uint8Array(bytes.length + v.frame.length);
    all.set(bytes);
    all.set(v.frame, bytes.length);
    const { st, out } = parseIsolated(stt.codec, all);
    assert.equal(st, OK, v.name);
    assert.deepEqual(out, v.repr, v.name);
    assert.equal(hex(roundTrip(stt.codec, v.repr, { trailing: v.frame })), hex(bytes), v.name);
  }
  const t = 0xb064;
  assert.deepEqual([stt.pcp(t), stt.vlanValid(t), stt.vid(t)], [5, true, 100]);
  assert.equal(stt.flagLetters(0x0e), '-PVT');
  assert.match(stt.format(V5, STT_AT, V5.length), /flags=-PVT l4off=34 mss=1448 ctx=0x0123456789abcdef/);
});

test('flags are LSB-first (value 1 << n), as OVS and Wireshark use them, not the figure’s MSB-first reading', () => {
  assert.equal(stt.FLAG_CSUM_VERIFIED, 1);
  assert.equal(stt.FLAG_CSUM_PARTIAL, 2);
  assert.equal(stt.FLAG_IPV4, 4);
  assert.equal(stt.FLAG_TCP, 8);
  // V5's flags byte 0x0e reads as P|V|T; read MSB-first it would have been 0x70.
  const r = stt.newRepr();
  assert.equal(stt.parse(V5, STT_AT, V5.length, r), OK);
  assert.equal(r.flags, stt.FLAG_CSUM_PARTIAL | stt.FLAG_IPV4 | stt.FLAG_TCP);
});

test('round trip: random Reprs', () => {
  fc.assert(fc.property(arbRepr, (r) => void roundTrip(stt.codec, r, { trailing: trailingFor(r) })));
});

test('receive policy (stt.md §7.16)', () => {
  const withFrame = (h: string, n: number) => {
    const b = fromHex(h);
    const all = new Uint8Array(b.length + n);
    all.set(b);
    return all;
  };
  assert.equal(
    parseIsolated(stt.codec, withFrame('0100000000000000 0000000000000000 0000', 60)).st,
    BAD_VERSION,
  );
  assert.equal(
    parseIsolated(stt.codec, withFrame('0003220000000000 0000000000000000 0000', 60)).st,
    BAD_FLAGS,
    'C+P',
  );
  assert.equal(
    parseIsolated(stt.codec, withFrame('000e000000000000 0000000000000000 0000', 60)).st,
    BAD_FIELD,
    'P, l4off 0',
  );
  assert.equal(
    parseIsolated(stt.codec, withFrame('000e210000000000 0000000000000000 0000', 60)).st,
    BAD_FIELD,
    'P, l4off 33 (v4)',
  );
  assert.equal(
    parseIsolated(stt.codec, withFrame('000a220000000000 0000000000000000 0000', 80)).st,
    BAD_FIELD,
    'P, l4off 34 (v6)',
  );
  assert.equal(
    parseIsolated(stt.codec, withFrame('000e220000000000 0000000000000000 0000', 53)).st,
    BAD_FIELD,
    'TCP header past the frame',
  );
  assert.equal(parseIsolated(stt.codec, withFrame('000e220000000000 0000000000000000 0000', 54)).st, OK);
  assert.equal(
    parseIsolated(stt.codec, withFrame('0006220000000000 0000000000000000 0000', 42)).st,
    OK,
    'UDP needs 8',
  );
  // MSS without P and a V-clear TCI are reported, not judged.
  const r = parseIsolated(stt.codec, withFrame('000000000578 0064 0000000000000000 0000', 14));
  assert.equal(r.st, OK);
  assert.equal(r.out.mss, 1400);
  assert.equal(stt.vlanValid(r.out.tci), false);
});

test('hostile input: truncations, random bytes', () => {
  const valid = VECTORS.map((v) => {
    const b = fromHex(v.hex);
    const all = new Uint8Array(b.length + v.frame.length);
    all.set(b);
    all.set(v.frame, b.length);
    return all;
  });
  truncations(stt.codec, valid);
  hostileBytes(stt.codec, valid);
});
