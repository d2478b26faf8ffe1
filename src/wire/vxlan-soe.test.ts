import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hostileBytes, parseIsolated, truncations } from '../../test/conformance/codec-suite.ts';
import { concat, innerEthernet, ORACLE_SEED, scapyLite, wrap } from '../../test/conformance/frames.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { fromHex, hex } from './bytes.ts';
import { BAD_FIELD, BAD_FLAGS, OK } from './status.ts';
import { VXLAN_PORT } from './tunnel-ports.ts';
import * as soe from './vxlan-soe.ts';

// Provenance: "draft-01" = the example in draft-zhou-li-vxlan-soe-01 §2 (VNI 42, MSS 1448 →
// 88 05 00 00 00 00 2A A8); "layout" = the -01 header figure by hand.
const VECTORS: { name: string; hex: string; repr: soe.VxlanSoeRepr }[] = [
  {
    name: 'draft-01 example: VNI 42, MSS 1448',
    hex: '880500000000 2aa8',
    repr: { soe: true, mss: 1448, vni: 42, rsvdFlags: 0, reserved16: 0 },
  },
  {
    name: 'layout: S clear is plain VXLAN, MSS bytes zero',
    hex: '0800000000002a00',
    repr: { soe: false, mss: 0, vni: 42, rsvdFlags: 0, reserved16: 0 },
  },
  {
    name: 'layout: MSS 0xffff, VNI max, GPE next protocol 3 in bytes 2-3',
    hex: '88ff0003ffffffff',
    repr: { soe: true, mss: 0xffff, vni: 0xffffff, rsvdFlags: 0, reserved16: 3 },
  },
  {
    name: 'layout: MSS 1 (only the low byte)',
    hex: '8800000000000101',
    repr: { soe: true, mss: 1, vni: 1, rsvdFlags: 0, reserved16: 0 },
  },
];

const arbRepr = fc
  .record({
    soe: fc.boolean(),
    mss: fc.integer({ min: 1, max: 0xffff }),
    vni: fc.integer({ min: 0, max: soe.VNI_MAX }),
    rsvdFlags: fc.integer({ min: 0, max: 255 }).map((x) => x & soe.FLAGS_RESERVED),
    reserved16: fc.integer({ min: 0, max: 0xffff }),
  })
  .map((r) => ({ ...r, mss: r.soe ? r.mss : 0 }));

test('vectors: parse and emit byte-exact (draft example)', () => {
  for (const v of VECTORS) {
    const bytes = fromHex(v.hex);
    const { st, out } = parseIsolated(soe.codec, bytes);
    assert.equal(st, OK, v.name);
    assert.deepEqual(out, v.repr, v.name);
    assert.equal(hex(roundTrip(soe.codec, v.repr)), hex(bytes), v.name);
  }
  const ex = fromHex('88050000 00002aa8');
  assert.equal(soe.mss(ex, 0), 1448);
  assert.equal(soe.vni(ex, 0), 42);
  assert.equal(soe.soe(ex, 0), true);
});

test('round trip: random Reprs', () => {
  fc.assert(fc.property(arbRepr, (r) => void roundTrip(soe.codec, r)));
});

test('receive policy', () => {
  assert.equal(parseIsolated(soe.codec, fromHex('800500000000 2aa8')).st, BAD_FLAGS, 'I clear');
  assert.equal(parseIsolated(soe.codec, fromHex('080500000000 2aa8')).st, BAD_FIELD, 'MSS without S');
  assert.equal(parseIsolated(soe.codec, fromHex('080000000000 2a01')).st, BAD_FIELD, 'MSS-lo (RCO byte)');
  assert.equal(parseIsolated(soe.codec, fromHex('880000000000 2a00')).st, BAD_FIELD, 'S with MSS 0');
  // A GBP header (G=0x80, D=0x40 in byte 1, policy id in bytes 2–3) is S + MSS-hi + reserved to us:
  // accepted with the wrong meaning, which is why SOE and GBP never share a tunnel.
  const { st, out } = parseIsolated(soe.codec, fromHex('884012340000 2a00'));
  assert.equal(st, OK);
  assert.equal(out.mss, 0x4000);
});

test('revision -00 recognition', () => {
  // -00 layout: |S|C|R|R|I|R|R|R| Reserved(8) | Overlay MTU(16) |; MTU 1500 = 0x05dc.
  const old = fromHex('c800 05dc 00002a00');
  assert.equal(soe.revisionOf(old, 0), 0);
  assert.equal(soe.revisionOf(fromHex('880005dc00002a00'), 0), 0);
  assert.equal(soe.revisionOf(fromHex('880500000000 2aa8'), 0), 1);
  assert.equal(soe.revisionOf(fromHex('0800000000002a00'), 0), 1);
  assert.equal(soe.revisionOf(fromHex('880505dc00002aa8'), 0), -1);
  const r = { soe: false, csum: false, mtu: 0, vni: 0 };
  assert.equal(soe.parse00(old, 0, 8, r), OK);
  assert.deepEqual(r, { soe: true, csum: true, mtu: 1500, vni: 42 });
  assert.match(soe.format(old, 0, 8), /SOE-00 vni=42 mtu=1500 C/);
});

test('hostile input: truncations, random bytes', () => {
  const valid = VECTORS.map((v) => fromHex(v.hex));
  truncations(soe.codec, valid);
  hostileBytes(soe.codec, valid);
});

test('tshark (no SOE dissector) reads S as GBP G, MSS-hi in the flags, MSS-lo as reserved8', {
  skip: needTshark(),
}, () => {
  const reprs = fc.sample(arbRepr, { numRuns: 50, seed: ORACLE_SEED });
  const payloads = reprs.map((r, i) => {
    const h = new Uint8Array(8);
    soe.emit(r, h, 0);
    return concat(h, innerEthernet(i));
  });
  const dissected = tshark(wrap(payloads, `UDP(sport=49152, dport=${VXLAN_PORT})`));
  dissected.forEach((layers, i) => {
    const r = reprs[i]!;
    const at = `frame ${i}`;
    assert.equal(tsharkMalformed(layers), undefined, at);
    const flags16 = Number(fields(layers, 'vxlan.flags')[0]);
    assert.equal(flags16 >> 8, (r.soe ? 0x80 : 0) | 0x08 | r.rsvdFlags, at);
    assert.equal(flags16 & 0xff, r.mss >> 8, `${at} MSS-hi`);
    assert.equal(fields(layers, 'vxlan.flag_g')[0], r.soe ? '1' : '0', at);
    assert.equal(Number(fields(layers, 'vxlan.reserved8')[0]), r.mss & 0xff, `${at} MSS-lo`);
    assert.equal(fields(layers, 'vxlan.vni')[0], String(r.vni), at);
    if (r.soe) assert.equal(fields(layers, 'vxlan.gbp')[0], String(r.reserved16), at);
  });
});

test('nvo parses scapy-built SOE headers (scapy VXLAN with G = S, gpflags = MSS-hi)', {
  skip: needScapy(),
}, () => {
  const out = scapyLite(
    `
import random
from scapy.layers.vxlan import VXLAN
random.seed(1448)
for i in range(200):
    mss = random.randrange(1, 1 << 16)
    v = VXLAN(flags=0x88, gpflags=mss >> 8, gpid=random.randrange(1 << 16), vni=random.randrange(1 << 24), reserved2=mss & 0xff)
    print(bytes(v)[:8].hex(), mss, v.gpid, v.vni)
`,
    'from scapy.layers.vxlan import VXLAN',
  );
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 200);
  for (const line of lines) {
    const [h, mss, gpid, vni] = line.split(' ');
    const { st, out: r } = parseIsolated(soe.codec, fromHex(h!));
    assert.equal(st, OK, line);
    assert.deepEqual(
      r,
      { soe: true, mss: Number(mss), vni: Number(vni), rsvdFlags: 0, reserved16: Number(gpid) },
      line,
    );
  }
});
