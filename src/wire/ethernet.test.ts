import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { pyEach } from '../../test/harness/wire-oracles.ts';
import { formatMac, fromHex, hex } from './bytes.ts';
import * as etherType from './ether-type.ts';
import * as eth from './ethernet.ts';
import { OK, TRUNCATED } from './status.ts';

// Provenance: scapy 2.5, the command in each comment.
const VECTORS = [
  {
    // bytes(Ether(dst='00:11:22:33:44:55', src='66:77:88:99:aa:bb', type=0x86dd)).hex()
    name: 'ipv6 unicast',
    hex: '00112233445566778899aabb86dd',
    dst: '00:11:22:33:44:55',
    src: '66:77:88:99:aa:bb',
    type: etherType.IPV6,
    multicast: false,
    broadcast: false,
  },
  {
    // bytes(Ether(dst='ff:ff:ff:ff:ff:ff', src='02:42:ac:11:00:02')/ARP())[:14].hex()
    name: 'broadcast arp',
    hex: 'ffffffffffff0242ac1100020806',
    dst: 'ff:ff:ff:ff:ff:ff',
    src: '02:42:ac:11:00:02',
    type: etherType.ARP,
    multicast: true,
    broadcast: true,
  },
  {
    // bytes(Ether(dst='01:00:5e:00:00:fb', src='02:00:00:00:00:01', type=0x8100)).hex()
    name: 'multicast, 802.1Q TPID',
    hex: '01005e0000fb0200000000018100',
    dst: '01:00:5e:00:00:fb',
    src: '02:00:00:00:00:01',
    type: etherType.VLAN,
    multicast: true,
    broadcast: false,
  },
];

const arbMac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const arbRepr = fc.record({ dst: arbMac, src: arbMac, etherType: fc.integer({ min: 0, max: 0xffff }) });

describe('ethernet', () => {
  it('parses the vectors and emits the same bytes', () => {
    const r = eth.newRepr();
    for (const v of VECTORS) {
      const b = fromHex(v.hex);
      assert.equal(eth.parse(b, 0, b.length, r), OK);
      assert.equal(formatMac(r.dst, 0), v.dst, v.name);
      assert.equal(formatMac(r.src, 0), v.src, v.name);
      assert.equal(r.etherType, v.type, v.name);
      assert.equal(eth.etherType(b, 0), v.type);
      assert.equal(eth.isMulticast(b, 0), v.multicast, v.name);
      assert.equal(eth.isBroadcast(b, 0), v.broadcast, v.name);
      assert.equal(hex(roundTrip(eth.codec, r)), v.hex);
    }
  });

  it('round-trips random reprs', () => {
    fc.assert(fc.property(arbRepr, (r) => void roundTrip(eth.codec, { ...r })));
  });

  it('names types and 802.3 lengths', () => {
    assert.equal(etherType.name(0x0800), 'IPv4');
    assert.equal(etherType.name(0x88a8), '802.1ad');
    assert.equal(etherType.name(0x1234), 'unknown(0x1234)');
    assert.equal(etherType.name(0x05dc), '802.3-length(1500)');
    assert.equal(eth.isLength(0x05ff), true);
    assert.equal(eth.isLength(0x0600), false);
    assert.equal(etherType.isVlanTpid(0x9100), true);
    assert.match(
      eth.format(fromHex(VECTORS[0]!.hex), 0, 14),
      /66:77:88:99:aa:bb > 00:11:22:33:44:55 type IPv6/,
    );
  });

  it('truncation and fuzz: statuses, no throw, no read outside', () => {
    const st = truncations(eth.codec, fromHex(VECTORS[0]!.hex), 14);
    assert.deepEqual(st.slice(0, 14), new Array(14).fill(TRUNCATED));
    fuzz(
      eth.codec,
      VECTORS.map((v) => fromHex(v.hex)),
    );
  });

  it('scapy-built frames with random fields parse to the same values', { skip: needScapy() }, () => {
    const reprs = fc.sample(arbRepr, { numRuns: 60, seed: 7 });
    const specs = reprs.map((r) => ({
      dst: formatMac(r.dst, 0),
      src: formatMac(r.src, 0),
      type: r.etherType,
    }));
    const lines = pyEach(specs, "    print(bytes(Ether(dst=s['dst'], src=s['src'], type=s['type'])).hex())");
    const r = eth.newRepr();
    lines.forEach((line, i) => {
      const b = fromHex(line);
      assert.equal(eth.parse(b, 0, b.length, r), OK);
      assert.equal(formatMac(r.dst, 0), specs[i]!.dst);
      assert.equal(formatMac(r.src, 0), specs[i]!.src);
      assert.equal(r.etherType, specs[i]!.type);
    });
  });

  it('frames emitted by nvo dissect in tshark to the same fields', { skip: needTshark() }, () => {
    // Types ≥ 0x0600 that tshark has no dissector for, so the payload is plain data.
    const reprs = fc
      .sample(arbRepr, { numRuns: 60, seed: 8 })
      .map((r) => ({ ...r, etherType: 0x0700 + (r.etherType % 256) }));
    const frames = reprs.map((r) => {
      const f = new Uint8Array(60).fill(0x42);
      eth.emit(r, f, 0);
      return f;
    });
    tshark(frames).forEach((l, i) => {
      const e = l['eth'];
      assert.equal(fields(e, 'eth.dst')[0], formatMac(reprs[i]!.dst, 0));
      assert.equal(fields(e, 'eth.src')[0], formatMac(reprs[i]!.src, 0));
      assert.equal(Number(fields(e, 'eth.type')[0]), reprs[i]!.etherType);
      assert.equal(fields(e, 'eth.dst.ig')[0], eth.isMulticast(frames[i]!, 0) ? '1' : '0');
      assert.equal(tsharkMalformed(l), undefined);
    });
  });
});
