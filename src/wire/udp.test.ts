import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark } from '../../test/harness/tools.ts';
import { ethFrame, pyEach } from '../../test/harness/wire-oracles.ts';
import { fromHex, hex, setU16 } from './bytes.ts';
import * as ipProto from './ip-proto.ts';
import * as ipv4 from './ipv4.ts';
import * as ipv6 from './ipv6.ts';
import { BAD_CHECKSUM, BAD_LENGTH, OK, TRUNCATED } from './status.ts';
import * as udp from './udp.ts';

// Provenance: scapy 2.5, command in each comment (scapy computes the UDP length and checksum).
const VECTORS = [
  {
    // bytes(IP(src='192.168.0.1', dst='192.168.0.199', id=0, flags='DF')/UDP(sport=1234, dport=4789)/Raw(b'hello'))
    name: 'ipv4, 5 data bytes',
    hex: '45000021000040004011b8b3c0a80001c0a800c704d212b5000d226268656c6c6f',
    l3: 0,
    l4: 20,
    srcPort: 1234,
    dstPort: 4789,
    payloadLen: 5,
  },
  {
    // bytes(IPv6(src='2001:db8::1', dst='2001:db8::2')/UDP(sport=53, dport=33000)/Raw(b'\x00\x01\x02'))
    name: 'ipv6, 3 data bytes',
    hex: '60000000000b114020010db800000000000000000000000120010db8000000000000000000000002003580e8000b2145000102',
    l3: 0,
    l4: 40,
    srcPort: 53,
    dstPort: 33000,
    payloadLen: 3,
  },
];

const arbRepr = fc.record({
  srcPort: fc.integer({ min: 0, max: 0xffff }),
  dstPort: fc.integer({ min: 0, max: 0xffff }),
  payloadLen: fc.integer({ min: 0, max: 0xffff - 8 }),
  checksum: fc.integer({ min: 0, max: 0xffff }),
});

/** An IPv4 or IPv6 header + UDP datagram with `data`; returns the packet and the offsets. */
function datagram(v6: boolean, sport: number, dport: number, data: Uint8Array) {
  const l3len = v6 ? 40 : 20;
  const b = new Uint8Array(l3len + 8 + data.length);
  if (v6) {
    const r = ipv6.newRepr();
    r.src.set(ipv6.addr('2001:db8::a'));
    r.dst.set(ipv6.addr('fe80::1:2'));
    r.nextHeader = ipProto.UDP;
    r.payloadLen = 8 + data.length;
    ipv6.emit(r, b, 0);
  } else {
    const r = ipv4.newRepr();
    r.src = ipv4.addr('10.1.2.3');
    r.dst = ipv4.addr('172.16.0.9');
    r.protocol = ipProto.UDP;
    r.payloadLen = 8 + data.length;
    ipv4.emit(r, b, 0);
  }
  udp.emit({ srcPort: sport, dstPort: dport, payloadLen: data.length, checksum: 0 }, b, l3len);
  b.set(data, l3len + 8);
  return { b, l3: 0, l4: l3len };
}

describe('udp', () => {
  it('parses the vectors; our checksum equals scapy’s', () => {
    const r = udp.newRepr();
    for (const v of VECTORS) {
      const b = fromHex(v.hex);
      assert.equal(udp.parse(b, v.l4, b.length, r), OK, v.name);
      assert.equal(r.srcPort, v.srcPort);
      assert.equal(r.dstPort, v.dstPort);
      assert.equal(r.payloadLen, v.payloadLen);
      assert.equal(udp.verifyChecksum(b, v.l3, v.l4), OK, v.name);
      const want = r.checksum;
      udp.fillChecksum(b, v.l3, v.l4);
      assert.equal(udp.checksumField(b, v.l4), want, v.name);
      b[b.length - 1]! ^= 0x40;
      assert.equal(udp.verifyChecksum(b, v.l3, v.l4), BAD_CHECKSUM, v.name);
    }
  });

  it('round-trips fixed and random reprs', () => {
    roundTrip(udp.codec, { srcPort: 4789, dstPort: 4789, payloadLen: 0, checksum: 0 });
    fc.assert(
      fc.property(arbRepr, (rec) => {
        const r = { ...rec, payloadLen: rec.payloadLen % 300 };
        roundTrip(udp.codec, r, { trailing: new Uint8Array(r.payloadLen) });
      }),
    );
  });

  it('computed 0 goes on the wire as 0xffff; zero checksum is "none" on IPv4 only', () => {
    for (const v6 of [false, true]) {
      // Find 2 data bytes that make the checksum come out as 0: set them to the complement of the sum.
      const d = datagram(v6, 1000, 2000, new Uint8Array(4));
      udp.fillChecksum(d.b, d.l3, d.l4);
      const c = udp.checksumField(d.b, d.l4);
      // The checksum c is ~sum; adding the word (~c) & 0xffff... simpler: put c into the data so the sum
      // gains c, making the new sum S + c where ~S = c → S + ~S = 0xffff → checksum 0.
      setU16(d.b, d.l4 + 8, c);
      udp.fillChecksum(d.b, d.l3, d.l4);
      assert.equal(udp.checksumField(d.b, d.l4), 0xffff, v6 ? 'v6' : 'v4');
      assert.equal(udp.verifyChecksum(d.b, d.l3, d.l4), OK);
      udp.setChecksum(d.b, d.l4, 0);
      assert.equal(udp.verifyChecksum(d.b, d.l3, d.l4), v6 ? BAD_CHECKSUM : OK);
      assert.equal(udp.verifyChecksum(d.b, d.l3, d.l4, true), OK);
    }
  });

  it('fillPseudo leaves the sum a NIC completes to the full checksum', () => {
    const d = datagram(false, 7, 9, Uint8Array.from([1, 2, 3, 4, 5]));
    udp.fillChecksum(d.b, d.l3, d.l4);
    const full = udp.checksumField(d.b, d.l4);
    udp.fillPseudo(d.b, d.l3, d.l4);
    // What the device does: checksum over [csumStart, end) with the seeded field in place.
    let s = 0;
    for (let i = d.l4; i < d.b.length; i += 2) s += (d.b[i]! << 8) | (d.b[i + 1] ?? 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    assert.equal(~s & 0xffff, full);
  });

  it('rejects bad lengths; truncation and fuzz never throw or read outside', () => {
    const b = fromHex(VECTORS[0]!.hex);
    const r = udp.newRepr();
    setU16(b, 24, 7);
    assert.equal(udp.parse(b, 20, b.length, r), BAD_LENGTH);
    setU16(b, 24, 0);
    assert.equal(udp.parse(b, 20, b.length, r), BAD_LENGTH);
    setU16(b, 24, 14);
    assert.equal(udp.parse(b, 20, b.length, r), TRUNCATED);
    setU16(b, 24, 12); // shorter than the IP payload: the rest is ignored
    assert.equal(udp.parse(b, 20, b.length, r), OK);
    assert.equal(r.payloadLen, 4);
    const seg = fromHex(VECTORS[0]!.hex).subarray(20);
    truncations(udp.codec, seg, seg.length);
    fuzz(udp.codec, [seg]);
  });

  it('scapy datagrams with random fields: same fields, our checksum equals scapy’s', {
    skip: needScapy(),
  }, () => {
    const specs = fc.sample(
      fc.record({
        v6: fc.boolean(),
        sport: fc.integer({ min: 0, max: 0xffff }),
        dport: fc.integer({ min: 0, max: 0xffff }),
        data: fc.uint8Array({ maxLength: 101 }).map((d) => hex(d)),
      }),
      { numRuns: 60, seed: 5 },
    );
    const lines = pyEach(
      specs,
      `    ip = IPv6(src='2001:db8::1', dst='2001:db8::99') if s['v6'] else IP(src='198.51.100.1', dst='203.0.113.7')
    print(bytes(ip/UDP(sport=s['sport'], dport=s['dport'])/Raw(bytes.fromhex(s['data']))).hex())`,
    );
    const r = udp.newRepr();
    lines.forEach((line, i) => {
      const s = specs[i]!;
      const b = fromHex(line);
      const l4 = s.v6 ? 40 : 20;
      assert.equal(udp.parse(b, l4, b.length, r), OK);
      assert.equal(r.srcPort, s.sport);
      assert.equal(r.dstPort, s.dport);
      assert.equal(r.payloadLen, s.data.length / 2);
      assert.equal(udp.verifyChecksum(b, 0, l4), OK, `frame ${i}`);
      const theirs = r.checksum;
      udp.fillChecksum(b, 0, l4);
      assert.equal(udp.checksumField(b, l4), theirs, `frame ${i}`);
    });
  });

  it('datagrams emitted by nvo: tshark agrees on fields and checksum', { skip: needTshark() }, () => {
    const cases = fc.sample(
      fc.record({
        v6: fc.boolean(),
        sport: fc.integer({ min: 1024, max: 0xffff }),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
      { numRuns: 60, seed: 6 },
    );
    // Destination port 9 (discard) so tshark has nothing to dissect the payload as.
    const frames = cases.map((c) => {
      const d = datagram(c.v6, c.sport, 9, c.data);
      udp.fillChecksum(d.b, d.l3, d.l4);
      return ethFrame(c.v6 ? 0x86dd : 0x0800, d.b);
    });
    tshark(frames, { prefs: ['udp.check_checksum:TRUE'] }).forEach((l, i) => {
      const u = l['udp'];
      const c = cases[i]!;
      assert.equal(Number(fields(u, 'udp.srcport')[0]), c.sport);
      assert.equal(Number(fields(u, 'udp.dstport')[0]), 9);
      assert.equal(Number(fields(u, 'udp.length')[0]), 8 + c.data.length);
      assert.equal(fields(u, 'udp.checksum.status')[0], '1', `frame ${i}: tshark says bad checksum`);
    });
  });
});
