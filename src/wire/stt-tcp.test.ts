import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hostileBytes, parseIsolated, truncations } from '../../test/conformance/codec-suite.ts';
import { STT_AT, TCP_AT, V1, V5 } from '../../test/conformance/stt-vectors.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { hex } from './bytes.ts';
import { checksum, pseudoSum4 } from './checksum.ts';
import { BAD_LENGTH, OK, TRUNCATED, UNSUPPORTED } from './status.ts';
import * as sttTcp from './stt-tcp.ts';
import { STT_PORT } from './tunnel-ports.ts';

const IP_AT = 14;
/** Pseudo-header sum for the segment at TCP_AT of a single-IPv4 frame (src at +12, dst at +16). */
const pseudo = (f: Uint8Array) => pseudoSum4(f, IP_AT + 12, IP_AT + 16, 6, f.length - TCP_AT);

// Provenance: stt.md §6 V1 and V5 (full frames in test/conformance/stt-vectors.ts).
const VECTORS: { name: string; frame: Uint8Array; repr: sttTcp.SttTcpRepr }[] = [
  {
    name: 'V1: sport 0xc001, len 92, off 0, ACK 1, ACK|PSH, window 0, csum 0xb7e0',
    frame: V1,
    repr: {
      srcPort: 0xc001,
      dstPort: STT_PORT,
      frameLen: 92,
      fragOff: 0,
      frameId: 1,
      flags: sttTcp.TCP_ACK | sttTcp.TCP_PSH,
      window: 0,
      checksum: 0xb7e0,
      urgent: 0,
    },
  },
  {
    name: 'V5: sport 0xc020, len 84, ACK 0x20, csum 0x4f1c',
    frame: V5,
    repr: {
      srcPort: 0xc020,
      dstPort: STT_PORT,
      frameLen: 84,
      fragOff: 0,
      frameId: 0x20,
      flags: sttTcp.OVS_FLAGS,
      window: 0,
      checksum: 0x4f1c,
      urgent: 0,
    },
  },
];

test('vectors: the stt.md frames are self-consistent (lengths, IPv4 header checksum)', () => {
  assert.equal(V1.length, 146);
  assert.equal(V5.length, 138);
  for (const f of [V1, V5])
    assert.equal(checksum(f, IP_AT, IP_AT + 20), 0, 'outer IPv4 header sums to 0xffff');
});

test('vectors: parse, emit byte-exact, checksum verifies and is reproduced', () => {
  for (const v of VECTORS) {
    const seg = v.frame.subarray(TCP_AT);
    const { st, out } = parseIsolated(sttTcp.codec, seg);
    assert.equal(st, OK, v.name);
    assert.deepEqual(out, v.repr, v.name);
    assert.equal(
      hex(roundTrip(sttTcp.codec, v.repr, { trailing: v.frame.subarray(STT_AT) })),
      hex(v.frame, TCP_AT, STT_AT),
    );
    assert.equal(sttTcp.checksumOk(v.frame, TCP_AT, v.frame.length, pseudo(v.frame)), true, v.name);
    const copy = v.frame.slice();
    sttTcp.fillChecksum(copy, TCP_AT, copy.length, pseudo(copy));
    assert.equal(sttTcp.checksumField(copy, TCP_AT), v.repr.checksum, v.name);
    copy[copy.length - 1]! ^= 0x40;
    assert.equal(sttTcp.checksumOk(copy, TCP_AT, copy.length, pseudo(copy)), false);
  }
  assert.equal(sttTcp.frameLen(V1, TCP_AT), V1.length - STT_AT, 'SEQ high half = STT frame length');
});

const arbCase = fc
  .record({
    srcPort: fc.integer({ min: 0, max: 0xffff }),
    dstPort: fc.integer({ min: 0, max: 0xffff }),
    frameLen: fc.integer({ min: sttTcp.MIN_FRAME_LEN, max: 0xffff }),
    frameId: fc.integer({ min: 0, max: 0xffffffff }),
    flags: fc.integer({ min: 0, max: 0xfff }),
    window: fc.integer({ min: 0, max: 0xffff }),
    checksum: fc.integer({ min: 0, max: 0xffff }),
    urgent: fc.integer({ min: 0, max: 0xffff }),
    seg: fc.integer({ min: 1, max: 200 }),
    at: fc.nat(),
  })
  .map(({ seg, at, ...x }) => {
    const len = Math.min(seg, x.frameLen);
    const fragOff = at % (x.frameLen - len + 1);
    return { r: { ...x, fragOff } as sttTcp.SttTcpRepr, payload: new Uint8Array(len).fill(0x77) };
  });

test('round trip: random Reprs (segments anywhere inside their frame)', () => {
  fc.assert(fc.property(arbCase, ({ r, payload }) => void roundTrip(sttTcp.codec, r, { trailing: payload })));
});

test('receive policy: data offset, empty segment, frame bounds', () => {
  const seg = (mut: (b: Uint8Array) => void, payload = 10) => {
    const b = new Uint8Array(20 + payload);
    sttTcp.emit({ ...VECTORS[0]!.repr, frameLen: 100, fragOff: 0 }, b, 0);
    mut(b);
    return parseIsolated(sttTcp.codec, b).st;
  };
  assert.equal(
    seg(() => {}),
    OK,
  );
  assert.equal(
    seg((b) => (b[12] = 0x40 | (b[12]! & 0x0f))),
    BAD_LENGTH,
    'doff 4',
  );
  assert.equal(
    seg((b) => (b[12] = 0x60 | (b[12]! & 0x0f))),
    UNSUPPORTED,
    'doff 6 (options)',
  );
  assert.equal(
    seg(() => {}, 0),
    BAD_LENGTH,
    'no payload',
  );
  assert.equal(
    seg((b) => sttTcp.setFragOffset(b, 0, 90)),
    OK,
    'last 10 bytes of 100',
  );
  assert.equal(
    seg((b) => sttTcp.setFragOffset(b, 0, 91)),
    BAD_LENGTH,
    'offset + len > frame length',
  );
  assert.equal(
    seg((b) => (b[4] = b[5] = 0)),
    BAD_LENGTH,
    'frame length 0',
  );
  assert.equal(
    seg((b) => {
      b[4] = 0;
      b[5] = 31;
    }, 10),
    BAD_LENGTH,
    'frame shorter than 18 + 14',
  );
  assert.equal(
    seg(() => {}, 101),
    BAD_LENGTH,
    'segment longer than its frame',
  );
  assert.equal(parseIsolated(sttTcp.codec, V1.subarray(TCP_AT, TCP_AT + 19)).st, TRUNCATED);
});

test('hostile input: truncations, random bytes', () => {
  const valid = VECTORS.map((v) => v.frame.subarray(TCP_AT));
  truncations(sttTcp.codec, valid);
  hostileBytes(sttTcp.codec, valid);
});
