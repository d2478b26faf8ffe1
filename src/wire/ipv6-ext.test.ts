import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { guarded } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark } from '../../test/harness/tools.ts';
import { ethFrame, pyEach } from '../../test/harness/wire-oracles.ts';
import { fromHex, hex } from './bytes.ts';
import * as ipProto from './ip-proto.ts';
import * as ipv6 from './ipv6.ts';
import * as ext from './ipv6-ext.ts';
import { BAD_OPTION, OK, TOO_MANY, TRUNCATED } from './status.ts';

// Provenance: scapy 2.5 —
//   IPv6(src='2001:db8::1',dst='ff02::1',hlim=255,tc=0xb8,fl=0x12345)/IPv6ExtHdrHopByHop(options=[RouterAlert()])
//   /IPv6ExtHdrDestOpt()/IPv6ExtHdrRouting(addresses=['2001:db8::7'])
//   /IPv6ExtHdrFragment(id=0xdeadbeef,offset=0,m=1)/UDP(sport=1,dport=2)/Raw(b'ab')      (98 bytes)
// Layout by scapy's own lengths: IPv6 40 | HbH 8 @40 | DestOpt 8 @48 | Routing 24 @56 | Frag 8 @80 | UDP @88
const CHAIN_VECTOR =
  '6b812345003a00ff20010db8000000000000000000000001ff0200000000000000000000000000013c000502000001002b00010400000000' +
  '2c0200010000000020010db800000000000000000000000711000001deadbeef00010002000a42fb6162';

function walkOf(b: Uint8Array): [number, ext.Ipv6Chain] {
  const c = ext.newChain();
  return [ext.walk(b, 0, b.length, c), c];
}

/** An IPv6 header followed by the given extension-header bytes; `first` is the IPv6 Next Header. */
function packet(first: number, chain: number[]): Uint8Array {
  const b = new Uint8Array(40 + chain.length);
  const r = ipv6.newRepr();
  r.nextHeader = first;
  r.payloadLen = chain.length;
  ipv6.emit(r, b, 0);
  b.set(chain, 40);
  return b;
}

describe('ipv6 extension headers', () => {
  it('walks the scapy chain: upper layer, offsets, fragment fields', () => {
    const [st, c] = walkOf(fromHex(CHAIN_VECTOR));
    assert.equal(st, OK);
    assert.equal(c.proto, ipProto.UDP);
    assert.equal(c.offset, 88);
    assert.equal(c.protoField, 80);
    assert.equal(c.count, 4);
    assert.equal(c.hopByHop, 40);
    assert.equal(c.routing, 56);
    assert.equal(c.fragHeader, 80);
    assert.equal(c.fragOffset, 0);
    assert.equal(c.fragMore, true);
    assert.equal(c.fragId, 0xdeadbeef);
  });

  it('no extension headers: upper layer right after the fixed header', () => {
    const [st, c] = walkOf(packet(ipProto.TCP, new Array(20).fill(0)));
    assert.equal(st, OK);
    assert.deepEqual([c.proto, c.offset, c.protoField, c.count, c.fragHeader], [6, 40, 6, 0, -1]);
  });

  it('a non-first fragment stops the walk at the fragment data', () => {
    // Fragment header: next UDP, offset 1448 (181 × 8), M=1, id 7; then data that is not a header.
    const [st, c] = walkOf(packet(ipProto.FRAGMENT, [17, 0, 0x05, 0xa9, 0, 0, 0, 7, 0x3c, 0x00, 0x00, 0x00]));
    assert.equal(st, OK);
    assert.deepEqual([c.proto, c.offset, c.fragOffset, c.fragMore, c.fragId], [17, 48, 1448, true, 7]);
  });

  it('rejects hostile chains with the right status', () => {
    const pad = [1, 4, 0, 0, 0, 0]; // PadN, 4 bytes of data: fills an 8-byte options header
    const opts = (nh: number) => [nh, 0, ...pad];
    // Hop-by-Hop after Destination Options (RFC 8200 §4.1)
    assert.equal(walkOf(packet(60, [...opts(0), ...opts(59)]))[0], BAD_OPTION);
    // Two Fragment headers
    const frag = (nh: number) => [nh, 0, 0, 1, 0, 0, 0, 1];
    assert.equal(walkOf(packet(44, [...frag(44), ...frag(17), 0, 0, 0, 0, 0, 0, 0, 8]))[0], BAD_OPTION);
    // Options TLV running past its header
    assert.equal(walkOf(packet(60, [59, 0, 1, 5, 0, 0, 0, 0]))[0], BAD_OPTION);
    // Options: a lone type byte at the end
    assert.equal(walkOf(packet(60, [59, 0, 0, 0, 0, 0, 0, 5]))[0], BAD_OPTION);
    // Nine Destination Options headers (bound 8)
    const nine: number[] = [];
    for (let k = 0; k < 9; k++) nine.push(...opts(k === 8 ? 59 : 60));
    assert.equal(walkOf(packet(60, nine))[0], TOO_MANY);
    const eight = nine.slice(8);
    eight[eight.length - 8] = 59;
    assert.equal(walkOf(packet(60, eight))[0], OK);
    // A header whose length runs past the payload
    assert.equal(walkOf(packet(43, [59, 1, 0, 0, 0, 0, 0, 0]))[0], TRUNCATED);
    // AH length (len + 2) × 4: 5 → 28 bytes, only 12 present
    assert.equal(walkOf(packet(51, [59, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))[0], TRUNCATED);
    // ESP and No Next Header end the walk
    assert.deepEqual(walkOf(packet(50, [1, 2, 3, 4])).slice(0, 1), [OK]);
    assert.equal(walkOf(packet(50, [1, 2, 3, 4]))[1].proto, ipProto.ESP);
    assert.equal(walkOf(packet(59, []))[1].proto, ipProto.NONE);
  });

  it('every truncation of the chain is TRUNCATED, never a throw or a read outside', () => {
    const b = fromHex(CHAIN_VECTOR);
    const c = ext.newChain();
    for (let end = 40; end < 88; end++)
      assert.equal(ext.walk(guarded(b, 0, end), 0, end, c), TRUNCATED, `end ${end}`);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 0, max: 255 }), (tail, nh) => {
        const p = new Uint8Array(40 + tail.length);
        p[6] = nh;
        p.set(tail, 40);
        ext.walk(guarded(p, 0, p.length), 0, p.length, c);
      }),
      { numRuns: 500 },
    );
  });

  it('fragment header codec round-trips', () => {
    roundTrip(ext.fragmentCodec, {
      nextHeader: 6,
      offset: 65528,
      more: true,
      ident: 0xffffffff,
      reserved: 0,
      res2: 0,
    });
    fc.assert(
      fc.property(
        fc.record({
          nextHeader: fc.integer({ min: 0, max: 255 }),
          offset: fc.integer({ min: 0, max: 8191 }).map((x) => x * 8),
          more: fc.boolean(),
          ident: fc.integer({ min: 0, max: 0xffffffff }),
          reserved: fc.integer({ min: 0, max: 255 }),
          res2: fc.integer({ min: 0, max: 3 }),
        }),
        (r) => void roundTrip(ext.fragmentCodec, { ...r }),
      ),
    );
    const b = new Uint8Array(16);
    ext.emitPadOptionsHeader(b, 0, 17, 16);
    assert.equal(hex(b), '1101010c000000000000000000000000');
    assert.equal(ext.checkOptions(b, 2, 16), OK);
  });

  it('random chains built by scapy walk to scapy’s upper layer and offsets', { skip: needScapy() }, () => {
    const arbHdr = fc.oneof(
      fc.record({ k: fc.constant('dst'), n: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ k: fc.constant('rt'), n: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ k: fc.constant('frag'), n: fc.integer({ min: 0, max: 20 }) }),
    );
    const specs = fc.sample(
      fc.record({
        hbh: fc.boolean(),
        hdrs: fc.array(arbHdr, { maxLength: 5 }),
        up: fc.constantFrom('UDP', 'TCP', 'ICMPv6EchoRequest', 'NoNext'),
        id: fc.integer({ min: 0, max: 0xffffffff }),
        m: fc.boolean(),
      }),
      { numRuns: 80, seed: 71 },
    );
    // Keep at most one fragment header (the walker rejects two, as it should).
    for (const s of specs) {
      let seen = false;
      s.hdrs = s.hdrs.filter((h) => (h.k === 'frag' ? !seen && (seen = true) : true));
    }
    const lines = pyEach(
      specs,
      `    p = IPv6(src='2001:db8::1', dst='2001:db8::2')
    layers = []
    if s['hbh']: layers.append(IPv6ExtHdrHopByHop(options=[PadN(optdata=b'\\0' * 4)]))
    for h in s['hdrs']:
        if h['k'] == 'dst': layers.append(IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\\0' * (4 + 8 * h['n']))]))
        elif h['k'] == 'rt': layers.append(IPv6ExtHdrRouting(addresses=['2001:db8::%d' % i for i in range(h['n'])]))
        else: layers.append(IPv6ExtHdrFragment(id=s['id'], m=int(s['m']), offset=h['n']))
    up = {'UDP': UDP(sport=5, dport=6), 'TCP': TCP(), 'ICMPv6EchoRequest': ICMPv6EchoRequest(), 'NoNext': Raw(b'')}[s['up']]
    for l in layers: p = p / l
    p = p / up / Raw(b'payload!')
    b = bytes(p)
    lens = [len(bytes(l)) - len(bytes(l.payload)) for l in p.payload.iterpayloads()][:len(layers)]
    print(b.hex(), ','.join(map(str, lens)))`,
    );
    const c = ext.newChain();
    lines.forEach((line, i) => {
      const s = specs[i]!;
      const [h, lensText] = line.split(' ');
      const b = fromHex(h!);
      const lens = lensText ? lensText.split(',').map(Number) : [];
      assert.equal(ext.walk(b, 0, ipv6.payloadEnd(b, 0), c), OK, `chain ${i}`);
      // Expected: walk the lengths scapy reports, stopping after a fragment header with offset ≠ 0.
      // The Next Header naming the upper layer sits in the last header walked (scapy filled them in).
      let at = 40;
      let field = 6;
      let k = 0;
      const kinds = (s.hbh ? [{ k: 'hbh', n: 0 }] : []).concat(s.hdrs);
      for (; k < kinds.length; k++) {
        field = at;
        at += lens[k]!;
        if (kinds[k]!.k === 'frag' && kinds[k]!.n !== 0) {
          k++;
          break;
        }
      }
      assert.equal(c.offset, at, `chain ${i}: offset`);
      assert.equal(c.protoField, field, `chain ${i}: protoField`);
      assert.equal(c.proto, b[field], `chain ${i}: proto`);
      if (k === kinds.length && s.up !== 'NoNext')
        assert.equal(c.proto, { UDP: 17, TCP: 6, ICMPv6EchoRequest: 58 }[s.up], `chain ${i}: upper layer`);
      assert.equal(c.count, k, `chain ${i}: count`);
      const fi = kinds.findIndex((x) => x.k === 'frag');
      assert.equal(c.fragHeader >= 0, fi >= 0);
      if (fi >= 0) {
        assert.equal(c.fragOffset, kinds[fi]!.n * 8);
        assert.equal(c.fragMore, s.m);
        assert.equal(c.fragId, s.id);
      }
    });
  });

  it('fragment headers emitted by nvo dissect in tshark to the same fields', { skip: needTshark() }, () => {
    const reprs = fc.sample(
      fc.record({
        offset: fc.integer({ min: 0, max: 8191 }).map((x) => x * 8),
        more: fc.boolean(),
        ident: fc.integer({ min: 0, max: 0xffffffff }),
      }),
      { numRuns: 40, seed: 72 },
    );
    const frames = reprs.map((f) => {
      const p = packet(ipProto.FRAGMENT, new Array(8 + 16).fill(0x77));
      ext.emitFragment({ ...f, nextHeader: 59, reserved: 0, res2: 0 }, p, 40);
      return ethFrame(0x86dd, p);
    });
    tshark(frames, { prefs: ['ipv6.defragment:FALSE'] }).forEach((l, i) => {
      const f = reprs[i]!;
      const one = (n: string) => fields(l, n)[0];
      // tshark 4.0 shows the offset field in 8-byte units (as for IPv4)
      assert.equal(Number(one('ipv6.fraghdr.offset')) * 8, f.offset, `frame ${i}`);
      assert.equal(one('ipv6.fraghdr.more'), f.more ? '1' : '0');
      assert.equal(Number(one('ipv6.fraghdr.ident')), f.ident);
      assert.equal(Number(one('ipv6.fraghdr.nxt')), 59);
    });
  });
});
