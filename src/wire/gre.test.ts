import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hostileBytes, parseIsolated, truncations } from '../../test/conformance/codec-suite.ts';
import {
  INNER_IPV4_ICMP,
  innerEthernet,
  ORACLE_SEED,
  scapyLite,
  wrap,
} from '../../test/conformance/frames.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { fromHex, hex } from './bytes.ts';
import * as gre from './gre.ts';
import { BAD_CHECKSUM, BAD_FLAGS, BAD_VERSION, OK, TRUNCATED, UNSUPPORTED } from './status.ts';
import { IP_PROTO_GRE } from './tunnel-ports.ts';

const none = { csumPresent: false, keyPresent: false, seqPresent: false, rsvdFlags: 0, version: 0 };
const zero = { checksum: 0, reserved1: 0, key: 0, seq: 0 };

// Provenance: "scapy" = bytes(GRE(...)/payload).hex() from Debian python3-scapy 2.5.0 (expression in
// the name; scapy computes the GRE checksum itself when chksum_present=1); "rfc" = RFC 2784/2890 layout.
const VECTORS: { name: string; hex: string; payload: string; repr: gre.GreRepr }[] = [
  {
    name: 'rfc 2784: bare header, IPv4',
    hex: '00000800',
    payload: '',
    repr: { ...none, ...zero, protocol: gre.PROTO_IPV4 },
  },
  {
    name: 'scapy: GRE(key_present=1, key=0x12345678, proto=0x6558)',
    hex: '2000655812345678',
    payload: '',
    repr: { ...none, ...zero, keyPresent: true, key: 0x12345678, protocol: gre.PROTO_TEB },
  },
  {
    name: "scapy: GRE(chksum_present=1, seqnum_present=1, key_present=1, key=7, sequence_number=9, proto=0x0800)/b'abcd'",
    hex: 'b0000800832800000000000700000009',
    payload: '61626364',
    repr: {
      ...none,
      csumPresent: true,
      keyPresent: true,
      seqPresent: true,
      protocol: gre.PROTO_IPV4,
      checksum: 0x8328,
      reserved1: 0,
      key: 7,
      seq: 9,
    },
  },
  {
    name: 'scapy: GRE(seqnum_present=1, sequence_number=0xdeadbeef, proto=0x86dd)',
    hex: '100086dddeadbeef',
    payload: '',
    repr: { ...none, ...zero, seqPresent: true, seq: 0xdeadbeef, protocol: gre.PROTO_IPV6 },
  },
];

/** Random Reprs with payloads; a present checksum is made right for the payload. */
const arbCase = fc
  .tuple(
    fc.record({
      csumPresent: fc.boolean(),
      keyPresent: fc.boolean(),
      seqPresent: fc.boolean(),
      rsvdFlags: fc.integer({ min: 0, max: 0xffff }).map((x) => x & gre.FLAGS_IGNORED),
      protocol: fc.integer({ min: 0, max: 0xffff }),
      reserved1: fc.integer({ min: 0, max: 0xffff }),
      key: fc.integer({ min: 0, max: 0xffffffff }),
      seq: fc.integer({ min: 0, max: 0xffffffff }),
    }),
    fc.uint8Array({ maxLength: 64 }),
  )
  .map(([x, payload]) => {
    const r: gre.GreRepr = {
      ...x,
      version: 0,
      checksum: 0,
      reserved1: x.csumPresent ? x.reserved1 : 0,
      key: x.keyPresent ? x.key : 0,
      seq: x.seqPresent ? x.seq : 0,
    };
    if (r.csumPresent) {
      const b = new Uint8Array(gre.headerLen(r) + payload.length);
      gre.emit(r, b, 0);
      b.set(payload, gre.headerLen(r));
      gre.fillChecksum(b, 0, b.length);
      r.checksum = (b[4]! << 8) | b[5]!;
    }
    return { r, payload };
  });

test('vectors: parse and emit byte-exact, checksum verified', () => {
  for (const v of VECTORS) {
    const bytes = fromHex(v.hex + v.payload);
    const { st, out } = parseIsolated(gre.codec, bytes);
    assert.equal(st, OK, v.name);
    assert.deepEqual(out, v.repr, v.name);
    assert.equal(hex(roundTrip(gre.codec, v.repr, { trailing: fromHex(v.payload) })), v.hex, v.name);
    assert.equal(gre.length(bytes, 0), v.hex.length / 2);
  }
  // fillChecksum reproduces scapy's checksum.
  const b = fromHex(VECTORS[2]!.hex + VECTORS[2]!.payload);
  b[4] = 0;
  b[5] = 0;
  gre.fillChecksum(b, 0, b.length);
  assert.equal(hex(b.subarray(4, 6)), '8328');
});

test('round trip: random Reprs (with payload for the checksum)', () => {
  fc.assert(fc.property(arbCase, ({ r, payload }) => void roundTrip(gre.codec, r, { trailing: payload })));
});

test('receive policy', () => {
  assert.equal(parseIsolated(gre.codec, fromHex('00010800')).st, BAD_VERSION, 'ver 1 (PPTP)');
  assert.equal(parseIsolated(gre.codec, fromHex('40000800 00000000')).st, UNSUPPORTED, 'routing');
  assert.equal(parseIsolated(gre.codec, fromHex('08000800')).st, BAD_FLAGS, 'strict source route');
  assert.equal(parseIsolated(gre.codec, fromHex('04000800')).st, BAD_FLAGS, 'recursion bit 5');
  const low = parseIsolated(gre.codec, fromHex('03f80800'));
  assert.equal(low.st, OK, 'bits 6–12 ignored');
  assert.equal(low.out.rsvdFlags, 0x03f8);
  assert.equal(parseIsolated(gre.codec, fromHex('20006558 123456')).st, TRUNCATED, 'key cut');
  const bad = fromHex(VECTORS[2]!.hex + VECTORS[2]!.payload);
  bad[bad.length - 1]! ^= 1;
  assert.equal(parseIsolated(gre.codec, bad).st, BAD_CHECKSUM);
  assert.equal(gre.checkHeader(bad, 0, bad.length), OK);
});

test('hostile input: truncations, random bytes', () => {
  const valid = VECTORS.filter((v) => !v.payload).map((v) => fromHex(v.hex));
  truncations(gre.codec, valid);
  hostileBytes(
    gre.codec,
    VECTORS.map((v) => fromHex(v.hex + v.payload)),
  );
});

test('tshark dissects nvo-emitted GRE (IP proto 47) to the same fields, checksums good', {
  skip: needTshark(),
}, () => {
  const ip4 = INNER_IPV4_ICMP;
  const cases = fc.sample(arbCase, { numRuns: 60, seed: ORACLE_SEED }).map(({ r }, i) => {
    r.rsvdFlags = 0; // tshark reads bit 0x0080 as PPTP's A flag and 0x0078 as "flags": keep them out here
    const inner = i % 2 ? ip4 : innerEthernet(i);
    r.protocol = i % 2 ? gre.PROTO_IPV4 : gre.PROTO_TEB;
    const b = new Uint8Array(gre.headerLen(r) + inner.length);
    gre.emit(r, b, 0);
    b.set(inner, gre.headerLen(r));
    if (r.csumPresent) {
      gre.fillChecksum(b, 0, b.length);
      r.checksum = (b[4]! << 8) | b[5]!;
    }
    return { r, b };
  });
  const dissected = tshark(
    wrap(
      cases.map((c) => c.b),
      '',
      IP_PROTO_GRE,
    ),
  );
  dissected.forEach((layers, i) => {
    const { r, b } = cases[i]!;
    const at = `frame ${i}`;
    assert.equal(tsharkMalformed(layers), undefined, at);
    assert.equal(Number(fields(layers, 'gre.flags_and_version')[0]), (b[0]! << 8) | b[1]!, at);
    assert.equal(fields(layers, 'gre.flags.checksum')[0], r.csumPresent ? '1' : '0', at);
    assert.equal(fields(layers, 'gre.flags.key')[0], r.keyPresent ? '1' : '0', at);
    assert.equal(fields(layers, 'gre.flags.sequence_number')[0], r.seqPresent ? '1' : '0', at);
    assert.equal(fields(layers, 'gre.flags.version')[0], '0', at);
    assert.equal(Number(fields(layers, 'gre.proto')[0]), r.protocol, at);
    if (r.csumPresent) {
      assert.equal(Number(fields(layers, 'gre.checksum')[0]), r.checksum, at);
      assert.equal(fields(layers, 'gre.checksum.status')[0], '1', `${at} checksum status`);
    }
    if (r.keyPresent) assert.equal(Number(fields(layers, 'gre.key')[0]), r.key, at);
    if (r.seqPresent) assert.equal(Number(fields(layers, 'gre.sequence_number')[0]), r.seq, at);
  });
});

test('nvo parses scapy-built GRE (scapy computes the checksums) to scapy’s field values', {
  skip: needScapy(),
}, () => {
  const out = scapyLite(`
import random
random.seed(2784)
for i in range(200):
    c, k, s = random.randrange(2), random.randrange(2), random.randrange(2)
    g = GRE(chksum_present=c, key_present=k, seqnum_present=s, proto=random.randrange(1 << 16),
            key=random.randrange(1 << 32) if k else None, sequence_number=random.randrange(1 << 32) if s else None)
    p = g / bytes(random.randrange(256) for _ in range(random.randrange(40)))
    b = bytes(p)
    q = GRE(b)
    print(b.hex(), c, k, s, q.proto, q.chksum if c else 0, q.key if k else 0, q.sequence_number if s else 0)
`);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 200);
  for (const line of lines) {
    const [h, c, k, s, proto, csum, key, seq] = line.split(' ');
    const { st, out: r } = parseIsolated(gre.codec, fromHex(h!));
    assert.equal(st, OK, line);
    assert.deepEqual(
      r,
      {
        csumPresent: c === '1',
        keyPresent: k === '1',
        seqPresent: s === '1',
        rsvdFlags: 0,
        version: 0,
        protocol: Number(proto),
        checksum: Number(csum),
        reserved1: 0,
        key: Number(key),
        seq: Number(seq),
      },
      line,
    );
  }
});
