import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { ethFrame, pyEach } from '../../test/harness/wire-oracles.ts';
import { formatIpv6, fromHex, hex } from './bytes.ts';
import * as ipv6 from './ipv6.ts';
import { BAD_VERSION, OK, TRUNCATED } from './status.ts';

// Provenance: scapy 2.5 —
//   IPv6(src='2001:db8::1',dst='ff02::1',hlim=255,tc=0xb8,fl=0x12345)/IPv6ExtHdrHopByHop(options=[RouterAlert()])
//   /IPv6ExtHdrDestOpt()/IPv6ExtHdrRouting(addresses=['2001:db8::7'])
//   /IPv6ExtHdrFragment(id=0xdeadbeef,offset=0,m=1)/UDP(sport=1,dport=2)/Raw(b'ab')      (98 bytes)
const CHAIN_VECTOR =
  '6b812345003a00ff20010db8000000000000000000000001ff0200000000000000000000000000013c000502000001002b00010400000000' +
  '2c0200010000000020010db800000000000000000000000711000001deadbeef00010002000a42fb6162';

const arbRepr = fc
  .record({
    trafficClass: fc.integer({ min: 0, max: 255 }),
    flowLabel: fc.integer({ min: 0, max: 0xfffff }),
    payloadLen: fc.integer({ min: 0, max: 300 }),
    nextHeader: fc.integer({ min: 0, max: 255 }),
    hopLimit: fc.integer({ min: 0, max: 255 }),
    src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  })
  .map((r) => ({ ...r }));

describe('ipv6', () => {
  it('parses the scapy vector', () => {
    const b = fromHex(CHAIN_VECTOR);
    const r = ipv6.newRepr();
    assert.equal(ipv6.parse(b, 0, b.length, r), OK);
    assert.equal(r.trafficClass, 0xb8);
    assert.equal(ipv6.dscp(b, 0), 46);
    assert.equal(ipv6.ecn(b, 0), 0);
    assert.equal(r.flowLabel, 0x12345);
    assert.equal(r.payloadLen, 98 - 40);
    assert.equal(r.nextHeader, 0);
    assert.equal(r.hopLimit, 255);
    assert.equal(formatIpv6(r.src, 0), '2001:db8::1');
    assert.equal(formatIpv6(r.dst, 0), 'ff02::1');
    assert.equal(ipv6.isDstMulticast(b, 0), true);
    assert.equal(ipv6.payloadEnd(b, 0), 98);
    assert.equal(hex(roundTrip(ipv6.codec, r, { trailing: b.subarray(40) })), CHAIN_VECTOR.slice(0, 80));
  });

  it('round-trips random reprs', () => {
    fc.assert(
      fc.property(arbRepr, (r) => void roundTrip(ipv6.codec, r, { trailing: new Uint8Array(r.payloadLen) })),
      { numRuns: 200 },
    );
  });

  it('bad version, truncation at every length, fuzz', () => {
    const b = fromHex(CHAIN_VECTOR);
    const r = ipv6.newRepr();
    const v4 = b.slice();
    v4[0] = 0x45;
    assert.equal(ipv6.parse(v4, 0, v4.length, r), BAD_VERSION);
    const st = truncations(ipv6.codec, b, b.length);
    assert.deepEqual(new Set(st.slice(0, b.length)), new Set([TRUNCATED]));
    fuzz(ipv6.codec, [b]);
  });

  it('scapy headers with random fields parse to the same values', { skip: needScapy() }, () => {
    const reprs = fc.sample(arbRepr, { numRuns: 60, seed: 61 });
    const specs = reprs.map((r) => ({
      tc: r.trafficClass,
      fl: r.flowLabel,
      nh: r.nextHeader,
      hlim: r.hopLimit,
      src: formatIpv6(r.src, 0),
      dst: formatIpv6(r.dst, 0),
      plen: r.payloadLen,
    }));
    const lines = pyEach(
      specs,
      `    print(bytes(IPv6(tc=s['tc'], fl=s['fl'], nh=s['nh'], hlim=s['hlim'], src=s['src'], dst=s['dst'])/Raw(b'z' * s['plen'])).hex())`,
    );
    const r = ipv6.newRepr();
    lines.forEach((line, i) => {
      const b = fromHex(line);
      assert.equal(ipv6.parse(b, 0, b.length, r), OK);
      assert.deepEqual({ ...r }, { ...reprs[i]!, payloadLen: specs[i]!.plen });
    });
  });

  it('headers emitted by nvo dissect in tshark to the same fields', { skip: needTshark() }, () => {
    const reprs = fc
      .sample(arbRepr, { numRuns: 60, seed: 62 })
      .map((r) => ({ ...r, nextHeader: 59, payloadLen: r.payloadLen % 40 }));
    const frames = reprs.map((r) => {
      const p = new Uint8Array(40 + r.payloadLen).fill(0x11);
      ipv6.emit(r, p, 0);
      return ethFrame(0x86dd, p);
    });
    tshark(frames).forEach((l, i) => {
      const r = reprs[i]!;
      const one = (n: string) => fields(l['ipv6'], n)[0];
      assert.equal(one('ipv6.version'), '6');
      assert.equal(Number(one('ipv6.tclass')), r.trafficClass);
      assert.equal(Number(one('ipv6.flow')), r.flowLabel);
      assert.equal(Number(one('ipv6.plen')), r.payloadLen);
      assert.equal(Number(one('ipv6.nxt')), 59);
      assert.equal(Number(one('ipv6.hlim')), r.hopLimit);
      // tshark prints RFC 5952 text too: this also checks bytes.formatIpv6
      assert.equal(one('ipv6.src'), formatIpv6(r.src, 0));
      assert.equal(one('ipv6.dst'), formatIpv6(r.dst, 0));
      assert.equal(tsharkMalformed(l), undefined, `frame ${i}`);
    });
  });
});
