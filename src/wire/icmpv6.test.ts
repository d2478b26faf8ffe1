import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { ethFrame, pyEach } from '../../test/harness/wire-oracles.ts';
import { formatIpv6, formatMac, fromHex, hex } from './bytes.ts';
import * as icmp6 from './icmpv6.ts';
import * as ipProto from './ip-proto.ts';
import * as ipv6 from './ipv6.ts';
import { BAD_FIELD, BAD_FLAGS, BAD_OPTION, OK, TRUNCATED } from './status.ts';

// Provenance: scapy 2.5, whole IPv6 packets —
//   ns:   IPv6(src='fe80::1',dst='ff02::1:ff00:2',hlim=255)/ICMPv6ND_NS(tgt='fe80::2')/ICMPv6NDOptSrcLLAddr(lladdr='02:00:00:00:00:01')
//   na:   IPv6(src='fe80::2',dst='fe80::1',hlim=255)/ICMPv6ND_NA(tgt='fe80::2',R=0,S=1,O=1)/ICMPv6NDOptDstLLAddr(lladdr='02:00:00:00:00:02')
//   ptb:  IPv6(src='2001:db8::fe',dst='2001:db8::1')/ICMPv6PacketTooBig(mtu=1400)/IPv6(src='2001:db8::1',dst='2001:db8::9')/UDP(sport=1,dport=2)
//   echo: IPv6(src='2001:db8::1',dst='2001:db8::2')/ICMPv6EchoRequest(id=0x4242,seq=3,data=b'ping')
// tshark 4.0 agrees: checksums 0x7a97, 0x181a, 0x2a75, 0x032e all good; targets, flags, LL addresses, MTU.
const V = {
  ns: '6000000000203afffe800000000000000000000000000001ff0200000000000000000001ff00000287007a9700000000fe8000000000000000000000000000020101020000000001',
  na: '6000000000203afffe800000000000000000000000000002fe8000000000000000000000000000018800181a60000000fe8000000000000000000000000000020201020000000002',
  ptb: '6000000000383a4020010db80000000000000000000000fe20010db800000000000000000000000102002a7500000578600000000008114020010db800000000000000000000000120010db8000000000000000000000009000100020008a45f',
  echo: '60000000000c3a4020010db800000000000000000000000120010db80000000000000000000000028000032e4242000370696e67',
};

function parsed(h: string) {
  const b = fromHex(h);
  const r = icmp6.newRepr();
  const st = icmp6.parse(b, 40, ipv6.payloadEnd(b, 0), r);
  return { b, r, st };
}

const arbMac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const arbRepr = fc
  .record({
    type: fc.integer({ min: 0, max: 255 }),
    code: fc.integer({ min: 0, max: 255 }),
    checksum: fc.integer({ min: 0, max: 0xffff }),
    rest: fc.integer({ min: 0, max: 0xffffffff }),
    target: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    hasSll: fc.boolean(),
    sll: arbMac,
    hasTll: fc.boolean(),
    tll: arbMac,
  })
  .map((r) => {
    // Fields a type does not carry are zero after parse: make the random value agree.
    const out = { ...r };
    if (!icmp6.hasTarget(r.type)) out.target = new Uint8Array(16);
    if (icmp6.optionsStart(r.type) < 0) out.hasSll = out.hasTll = false;
    if (!out.hasSll) out.sll = new Uint8Array(6);
    if (!out.hasTll) out.tll = new Uint8Array(6);
    return out;
  });

describe('icmpv6', () => {
  it('parses the scapy vectors; checksums verify and recompute to scapy’s', () => {
    const ns = parsed(V.ns);
    assert.equal(ns.st, OK);
    assert.deepEqual(
      [ns.r.type, ns.r.code, ns.r.checksum, formatIpv6(ns.r.target, 0)],
      [135, 0, 0x7a97, 'fe80::2'],
    );
    assert.deepEqual([ns.r.hasSll, formatMac(ns.r.sll, 0), ns.r.hasTll], [true, '02:00:00:00:00:01', false]);
    const na = parsed(V.na);
    assert.equal(na.st, OK);
    assert.equal(na.r.rest, icmp6.NA_SOLICITED | icmp6.NA_OVERRIDE);
    assert.deepEqual([na.r.hasTll, formatMac(na.r.tll, 0)], [true, '02:00:00:00:00:02']);
    const ptb = parsed(V.ptb);
    assert.deepEqual([ptb.st, ptb.r.type, icmp6.mtu(ptb.b, 40)], [OK, 2, 1400]);
    const echo = parsed(V.echo);
    assert.deepEqual(
      [echo.st, echo.r.type, icmp6.echoId(echo.b, 40), icmp6.echoSeq(echo.b, 40)],
      [OK, 128, 0x4242, 3],
    );
    for (const x of [ns, na, ptb, echo]) {
      const end = x.b.length;
      assert.equal(icmp6.verifyChecksum(x.b, 0, 40, end), true);
      icmp6.fillChecksum(x.b, 0, 40, end);
      assert.equal(icmp6.checksumField(x.b, 40), x.r.checksum);
      x.b[end - 1]! ^= 2;
      assert.equal(icmp6.verifyChecksum(x.b, 0, 40, end), false);
    }
    // emit reproduces scapy's NS/NA bytes
    for (const [h, x] of [
      [V.ns, ns],
      [V.na, na],
    ] as const) {
      const out = new Uint8Array(icmp6.reprHeaderLen(x.r));
      icmp6.emit(x.r, out, 0);
      assert.equal(hex(out), h.slice(80));
    }
  });

  it('neighbor discovery validity checks (RFC 4861 §7.1)', () => {
    const ns = parsed(V.ns);
    assert.equal(icmp6.checkNd(ns.b, 0, 40, ns.b.length, ns.r), OK);
    const na = parsed(V.na);
    assert.equal(icmp6.checkNd(na.b, 0, 40, na.b.length, na.r), OK);
    const hop = fromHex(V.ns);
    hop[7] = 64;
    assert.equal(icmp6.checkNd(hop, 0, 40, hop.length, ns.r), BAD_FIELD);
    // NS from :: carrying a source link-layer option
    const dad = fromHex(V.ns);
    dad.fill(0, 8, 24);
    assert.equal(icmp6.checkNd(dad, 0, 40, dad.length, ns.r), BAD_OPTION);
    // NA with S set, to all-nodes multicast
    const mna = fromHex(V.na);
    mna.set(ipv6.addr('ff02::1'), 24);
    assert.equal(icmp6.checkNd(mna, 0, 40, mna.length, na.r), BAD_FLAGS);
    // multicast target
    const mt = parsed(V.ns);
    mt.r.target[0] = 0xff;
    assert.equal(icmp6.checkNd(mt.b, 0, 40, mt.b.length, mt.r), BAD_FIELD);
  });

  it('round-trips random reprs', () => {
    fc.assert(
      fc.property(arbRepr, (r) => void roundTrip(icmp6.codec, r)),
      { numRuns: 300 },
    );
  });

  it('hostile input: truncated NS, zero-length and overlong options, fuzz', () => {
    const b = fromHex(V.ns);
    const r = icmp6.newRepr();
    const msg = b.subarray(40);
    const st = truncations(icmp6.codec, msg, 8);
    assert.deepEqual(new Set(st.slice(0, 24)), new Set([TRUNCATED]));
    assert.deepEqual(new Set(st.slice(25, 32)), new Set([BAD_OPTION])); // option cut short
    const zero = msg.slice();
    zero[25] = 0;
    assert.equal(icmp6.parse(zero, 0, zero.length, r), BAD_OPTION);
    const long = msg.slice();
    long[25] = 2;
    assert.equal(icmp6.parse(long, 0, long.length, r), BAD_OPTION);
    fuzz(
      icmp6.codec,
      Object.values(V).map((h) => fromHex(h).subarray(40)),
    );
  });

  it('scapy ND messages with random fields parse to the same values', { skip: needScapy() }, () => {
    const specs = fc.sample(
      fc.record({
        ns: fc.boolean(),
        tgt: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => formatIpv6(a, 0)),
        mac: arbMac.map((m) => formatMac(m, 0)),
        flags: fc.integer({ min: 0, max: 7 }),
        opt: fc.boolean(),
      }),
      { numRuns: 60, seed: 31 },
    );
    const lines = pyEach(
      specs,
      `    ip = IPv6(src='fe80::a', dst='ff02::1', hlim=255)
    m = ICMPv6ND_NS(tgt=s['tgt']) if s['ns'] else ICMPv6ND_NA(tgt=s['tgt'], R=s['flags'] >> 2, S=(s['flags'] >> 1) & 1, O=s['flags'] & 1)
    if s['opt']: m = m / (ICMPv6NDOptSrcLLAddr(lladdr=s['mac']) if s['ns'] else ICMPv6NDOptDstLLAddr(lladdr=s['mac']))
    print(bytes(ip/m).hex())`,
    );
    lines.forEach((line, i) => {
      const s = specs[i]!;
      const x = parsed(line);
      assert.equal(x.st, OK);
      assert.equal(x.r.type, s.ns ? 135 : 136);
      assert.equal(formatIpv6(x.r.target, 0), s.tgt);
      if (!s.ns) assert.equal(x.r.rest >>> 29, s.flags);
      assert.equal(s.ns ? x.r.hasSll : x.r.hasTll, s.opt);
      if (s.opt) assert.equal(formatMac(s.ns ? x.r.sll : x.r.tll, 0), s.mac);
      assert.equal(icmp6.verifyChecksum(x.b, 0, 40, x.b.length), true, `message ${i}`);
    });
  });

  it('messages emitted by nvo dissect in tshark to the same fields, checksum good', {
    skip: needTshark(),
  }, () => {
    const cases = fc.sample(
      fc.record({
        kind: fc.constantFrom('ns', 'na', 'ptb', 'echo'),
        a: fc.integer({ min: 0, max: 0xffff }),
        b: fc.integer({ min: 1280, max: 0xffffffff }),
        tgt: fc
          .uint8Array({ minLength: 16, maxLength: 16 })
          .map((t) => Uint8Array.of(0x20, ...t.subarray(1))),
        mac: arbMac,
        opt: fc.boolean(),
      }),
      { numRuns: 60, seed: 32 },
    );
    const quote = fromHex(V.ptb).subarray(48); // the quoted IPv6+UDP packet from the PTB vector
    const frames = cases.map((c) => {
      const r = icmp6.newRepr();
      let data: Uint8Array = new Uint8Array(0);
      if (c.kind === 'echo') {
        r.type = icmp6.ECHO_REQUEST;
        r.rest = icmp6.echoRest(c.a, c.b & 0xffff);
        data = Uint8Array.of(1, 2, 3);
      } else if (c.kind === 'ptb') {
        r.type = icmp6.PACKET_TOO_BIG;
        r.rest = c.b;
        data = quote;
      } else {
        r.type = c.kind === 'ns' ? icmp6.NEIGHBOR_SOLICIT : icmp6.NEIGHBOR_ADVERT;
        r.target.set(c.tgt);
        if (c.kind === 'na') r.rest = (c.a & 7) << 29;
        if (c.opt) {
          if (c.kind === 'ns') r.hasSll = true;
          else r.hasTll = true;
          (c.kind === 'ns' ? r.sll : r.tll).set(c.mac);
        }
      }
      const hl = icmp6.reprHeaderLen(r);
      const p = new Uint8Array(40 + hl + data.length);
      const ip = ipv6.newRepr();
      ip.src.set(ipv6.addr('fe80::1'));
      ip.dst.set(ipv6.addr('fe80::2'));
      ip.hopLimit = 255;
      ip.nextHeader = ipProto.ICMPV6;
      ip.payloadLen = hl + data.length;
      ipv6.emit(ip, p, 0);
      icmp6.emit(r, p, 40);
      p.set(data, 40 + hl);
      icmp6.fillChecksum(p, 0, 40, p.length);
      return ethFrame(0x86dd, p);
    });
    tshark(frames).forEach((l, i) => {
      const c = cases[i]!;
      const one = (n: string) => fields(l['icmpv6'], n)[0];
      assert.equal(one('icmpv6.checksum.status'), '1', `frame ${i}`);
      if (c.kind === 'echo') {
        assert.equal(Number(one('icmpv6.echo.identifier')), c.a);
        assert.equal(Number(one('icmpv6.echo.sequence_number')), c.b & 0xffff);
      } else if (c.kind === 'ptb') assert.equal(Number(one('icmpv6.mtu')), c.b);
      else {
        assert.equal(one(`icmpv6.nd.${c.kind}.target_address`), formatIpv6(c.tgt, 0), `frame ${i}`);
        if (c.kind === 'na') assert.equal(Number(one('icmpv6.nd.na.flag')), ((c.a & 7) << 29) >>> 0);
        const ll = one(c.kind === 'ns' ? 'icmpv6.opt.src_linkaddr' : 'icmpv6.opt.target_linkaddr');
        assert.equal(ll, c.opt ? formatMac(c.mac, 0) : undefined);
      }
      assert.equal(tsharkMalformed(l), undefined, `frame ${i}`);
    });
  });
});
