import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { ethFrame, pyEach } from '../../test/harness/wire-oracles.ts';
import * as arp from './arp.ts';
import { formatMac, fromHex } from './bytes.ts';
import * as ipv4 from './ipv4.ts';
import { OK, TRUNCATED, UNSUPPORTED } from './status.ts';

// Provenance: scapy 2.5 —
//   Ether(dst='ff:ff:ff:ff:ff:ff',src='02:00:00:00:00:02')/ARP(op=2,hwsrc='02:00:00:00:00:02',psrc='10.0.0.2',
//     hwdst='02:00:00:00:00:01',pdst='10.0.0.1')      (the ARP part, from byte 14)
const REPLY = '00010800060400020200000000020a0000020200000000010a000001';

const arbMac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const arbRepr = fc
  .record({
    op: fc.integer({ min: 0, max: 0xffff }),
    sha: arbMac,
    spa: fc.integer({ min: 0, max: 0xffffffff }),
    tha: arbMac,
    tpa: fc.integer({ min: 0, max: 0xffffffff }),
  })
  .map((r) => ({ ...r }));

describe('arp', () => {
  it('parses the scapy reply', () => {
    const b = fromHex(REPLY);
    const r = arp.newRepr();
    assert.equal(arp.parse(b, 0, b.length, r), OK);
    assert.equal(r.op, arp.OP_REPLY);
    assert.equal(formatMac(r.sha, 0), '02:00:00:00:00:02');
    assert.equal(ipv4.addrText(r.spa), '10.0.0.2');
    assert.equal(formatMac(r.tha, 0), '02:00:00:00:00:01');
    assert.equal(ipv4.addrText(r.tpa), '10.0.0.1');
    assert.equal(
      arp.format(b, 0, b.length),
      'ARP reply 10.0.0.2 (02:00:00:00:00:02) → 10.0.0.1 (02:00:00:00:00:01)',
    );
  });

  it('round-trips random reprs', () => {
    fc.assert(fc.property(arbRepr, (r) => void roundTrip(arp.codec, r)));
  });

  it('unsupported hardware/protocol, truncation, fuzz', () => {
    const b = fromHex(REPLY);
    const r = arp.newRepr();
    for (const [at, v] of [
      [1, 6], //  htype IEEE 802
      [2, 0x86], // ptype
      [4, 8], //  hlen
      [5, 16], // plen
    ] as const) {
      const m = b.slice();
      m[at] = v;
      assert.equal(arp.parse(m, 0, m.length, r), UNSUPPORTED);
    }
    const st = truncations(arp.codec, b, 28);
    assert.deepEqual(new Set(st.slice(0, 28)), new Set([TRUNCATED]));
    fuzz(arp.codec, [b]);
  });

  it('scapy ARP with random fields parses to the same values', { skip: needScapy() }, () => {
    const reprs = fc.sample(arbRepr, { numRuns: 60, seed: 11 });
    const specs = reprs.map((r) => ({
      op: r.op,
      hwsrc: formatMac(r.sha, 0),
      psrc: ipv4.addrText(r.spa),
      hwdst: formatMac(r.tha, 0),
      pdst: ipv4.addrText(r.tpa),
    }));
    const lines = pyEach(
      specs,
      "    print(bytes(ARP(op=s['op'], hwsrc=s['hwsrc'], psrc=s['psrc'], hwdst=s['hwdst'], pdst=s['pdst'])).hex())",
    );
    const r = arp.newRepr();
    lines.forEach((line, i) => {
      const b = fromHex(line);
      assert.equal(arp.parse(b, 0, b.length, r), OK);
      assert.deepEqual({ ...r }, reprs[i]);
    });
  });

  it('ARP emitted by nvo dissects in tshark to the same fields', { skip: needTshark() }, () => {
    const reprs = fc.sample(arbRepr, { numRuns: 60, seed: 12 }).map((r) => ({ ...r, op: 1 + (r.op % 2) }));
    const frames = reprs.map((r) => {
      const p = new Uint8Array(28);
      arp.emit(r, p, 0);
      return ethFrame(0x0806, p);
    });
    tshark(frames).forEach((l, i) => {
      const r = reprs[i]!;
      const one = (n: string) => fields(l, n)[0];
      assert.equal(Number(one('arp.opcode')), r.op);
      assert.equal(one('arp.src.hw_mac'), formatMac(r.sha, 0));
      assert.equal(one('arp.src.proto_ipv4'), ipv4.addrText(r.spa));
      assert.equal(one('arp.dst.hw_mac'), formatMac(r.tha, 0));
      assert.equal(one('arp.dst.proto_ipv4'), ipv4.addrText(r.tpa));
      assert.equal(tsharkMalformed(l), undefined);
    });
  });
});
