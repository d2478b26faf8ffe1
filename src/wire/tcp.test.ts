import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark } from '../../test/harness/tools.ts';
import { ethFrame, pyEach } from '../../test/harness/wire-oracles.ts';
import { fromHex } from './bytes.ts';
import * as ipProto from './ip-proto.ts';
import * as ipv4 from './ipv4.ts';
import * as ipv6 from './ipv6.ts';
import { BAD_LENGTH, BAD_OPTION, OK, TOO_MANY, TRUNCATED } from './status.ts';
import * as tcp from './tcp.ts';
import * as topt from './tcp-options.ts';

// Provenance: scapy 2.5 —
//   IP(src='1.1.1.1',dst='2.2.2.2')/TCP(sport=1000,dport=2000,seq=5,ack=7,flags=0x1ff,reserved=5,window=999,
//     urgptr=3,options=[('MSS',1460),('SAckOK',b''),('Timestamp',(11,22)),('NOP',None),('WScale',7),
//     ('NOP',None),('NOP',None),('SAck',(100,200,300,400))])/Raw(b'x')          → the TCP segment below
//   tshark 4.0 agrees: hdr_len 60, flags 0x0bff, checksum 0x541e good, mss 1460, TS 11/22, wscale 7, 2 SACK blocks.
const VECTOR = {
  segment:
    '03e807d00000000500000007fbff03e7541e0003020405b40402080a0000000b00000016010303070101051200000064000000c80000012c0000019078',
  ipSrc: '1.1.1.1',
  ipDst: '2.2.2.2',
};

const arbOptions = fc.record({
  mss: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffff })),
  wscale: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 14 })),
  sackPermitted: fc.boolean(),
  hasTimestamp: fc.boolean(),
  tsVal: fc.integer({ min: 0, max: 0xffffffff }),
  tsEcr: fc.integer({ min: 0, max: 0xffffffff }),
  sack: fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), {
    maxLength: 4,
  }),
});

/** A TcpOptions value from the arbitrary, trimmed to fit 40 bytes the way a sender would (fewer SACK blocks). */
type OptSpec = typeof arbOptions extends fc.Arbitrary<infer T> ? T : never;

function options(a: OptSpec) {
  const o = topt.newRepr();
  o.mss = a.mss;
  o.wscale = a.wscale;
  o.sackPermitted = a.sackPermitted;
  o.hasTimestamp = a.hasTimestamp;
  o.tsVal = a.hasTimestamp ? a.tsVal : 0;
  o.tsEcr = a.hasTimestamp ? a.tsEcr : 0;
  let blocks = a.sack.length;
  const base = () => topt.emitLen({ ...o, sackCount: 0 });
  while (blocks > 0 && base() + 4 + 8 * blocks > 40) blocks--;
  for (let k = 0; k < blocks; k++) {
    o.sackLeft[k] = a.sack[k]![0];
    o.sackRight[k] = a.sack[k]![1];
  }
  o.sackCount = blocks;
  return o;
}

const arbTcp = fc
  .record({
    srcPort: fc.integer({ min: 0, max: 0xffff }),
    dstPort: fc.integer({ min: 0, max: 0xffff }),
    seq: fc.integer({ min: 0, max: 0xffffffff }),
    ack: fc.integer({ min: 0, max: 0xffffffff }),
    flags: fc.integer({ min: 0, max: 0x1ff }),
    reserved: fc.integer({ min: 0, max: 7 }),
    window: fc.integer({ min: 0, max: 0xffff }),
    checksum: fc.integer({ min: 0, max: 0xffff }),
    urgent: fc.integer({ min: 0, max: 0xffff }),
    opts: arbOptions,
  })
  .map(({ opts, ...h }) => {
    const r = Object.assign(tcp.newRepr(), h);
    const o = options(opts);
    r.optionsLen = topt.emitLen(o);
    topt.emit(o, r.options, 0);
    return { r, o };
  });

/** IPv4 or IPv6 + the TCP header `r` + data; the TCP checksum filled in. */
function segment(v6: boolean, r: tcp.TcpRepr, data: Uint8Array) {
  const l3len = v6 ? 40 : 20;
  const hl = tcp.reprHeaderLen(r);
  const b = new Uint8Array(l3len + hl + data.length);
  if (v6) {
    const ip = ipv6.newRepr();
    ip.src.set(ipv6.addr('2001:db8::1'));
    ip.dst.set(ipv6.addr('2001:db8:ffff::2'));
    ip.nextHeader = ipProto.TCP;
    ip.payloadLen = hl + data.length;
    ipv6.emit(ip, b, 0);
  } else {
    const ip = ipv4.newRepr();
    ip.src = ipv4.addr('192.0.2.1');
    ip.dst = ipv4.addr('198.51.100.200');
    ip.protocol = ipProto.TCP;
    ip.payloadLen = hl + data.length;
    ipv4.emit(ip, b, 0);
  }
  tcp.emit(r, b, l3len);
  b.set(data, l3len + hl);
  tcp.fillChecksum(b, 0, l3len, b.length);
  return { b, l4: l3len };
}

describe('tcp', () => {
  it('parses the scapy vector: header, flags, options, checksum', () => {
    const seg = fromHex(VECTOR.segment);
    const b = new Uint8Array(20 + seg.length);
    const ip = ipv4.newRepr();
    ip.src = ipv4.addr(VECTOR.ipSrc);
    ip.dst = ipv4.addr(VECTOR.ipDst);
    ip.protocol = 6;
    ip.payloadLen = seg.length;
    ipv4.emit(ip, b, 0);
    b.set(seg, 20);
    const r = tcp.newRepr();
    assert.equal(tcp.parse(b, 20, b.length, r), OK);
    assert.deepEqual(
      [r.srcPort, r.dstPort, r.seq, r.ack, r.flags, r.reserved, r.window, r.checksum, r.urgent, r.optionsLen],
      [1000, 2000, 5, 7, 0x1ff, 5, 999, 0x541e, 3, 40],
    );
    assert.equal(tcp.headerLen(b, 20), 60);
    assert.equal(tcp.verifyChecksum(b, 0, 20, b.length), true);
    const o = topt.newRepr();
    assert.equal(topt.parse(b, 40, 80, o), OK);
    assert.deepEqual(
      [o.mss, o.sackPermitted, o.hasTimestamp, o.tsVal, o.tsEcr, o.wscale, o.sackCount],
      [1460, true, true, 11, 22, 7, 2],
    );
    assert.deepEqual([...o.sackLeft.subarray(0, 2), ...o.sackRight.subarray(0, 2)], [100, 300, 200, 400]);
    assert.equal(
      topt.format(b, 40, 80),
      '[mss 1460,sackOK,TS val 11 ecr 22,wscale 7,sack 2 {100:200}{300:400}]',
    );
    // our checksum equals scapy's; a flipped data bit breaks it
    tcp.fillChecksum(b, 0, 20, b.length);
    assert.equal(tcp.checksumField(b, 20), 0x541e);
    b[b.length - 1]! ^= 1;
    assert.equal(tcp.verifyChecksum(b, 0, 20, b.length), false);
    assert.match(
      tcp.format(b, 20, b.length),
      /TCP 1000 > 2000 \[SFRPUEWN\.\] seq=5 ack=7 win=999 len=1 opts=40/,
    );
  });

  it('round-trips random headers and option sets', () => {
    fc.assert(
      fc.property(arbTcp, ({ r, o }) => {
        roundTrip(tcp.codec, r, { trailing: Uint8Array.of(1, 2, 3) });
        roundTrip(topt.codec, o);
      }),
      { numRuns: 300 },
    );
  });

  it('a reused repr keeps [optionsLen, 40) zero', () => {
    const r = tcp.newRepr();
    const long = fromHex(VECTOR.segment);
    const short = long.slice();
    short[12] = 0x60 | (short[12]! & 0x0f); // data offset 6: 4 option bytes
    for (const b of [long, short, long, short]) {
      assert.equal(tcp.parse(b, 0, b.length, r), OK);
      assert.deepEqual(r.options.subarray(r.optionsLen), new Uint8Array(40 - r.optionsLen));
    }
  });

  it('setters keep the other bits', () => {
    const { r } = fc.sample(arbTcp, { numRuns: 1, seed: 3 })[0]!;
    const b = new Uint8Array(60);
    tcp.emit(r, b, 0);
    tcp.setFlags(b, 0, tcp.SYN | tcp.NS);
    assert.equal(tcp.flags(b, 0), tcp.SYN | tcp.NS);
    assert.equal(tcp.reserved(b, 0), r.reserved);
    assert.equal(tcp.headerLen(b, 0), tcp.reprHeaderLen(r));
    tcp.setSeq(b, 0, 0xfffffffe);
    assert.equal(tcp.seq(b, 0), 0xfffffffe);
  });

  it('hostile headers and options: right status, no throw, no read outside', () => {
    const seg = fromHex(VECTOR.segment);
    const r = tcp.newRepr();
    const bad = seg.slice();
    bad[12] = 0x40; // data offset 4
    assert.equal(tcp.parse(bad, 0, bad.length, r), BAD_LENGTH);
    const st = truncations(tcp.codec, seg, 60);
    assert.deepEqual(new Set(st.slice(0, 60)), new Set([TRUNCATED]));
    assert.deepEqual(new Set(st.slice(60)), new Set([OK]));
    fuzz(tcp.codec, [seg]);
    const o = topt.newRepr();
    const opt = (...x: number[]) => topt.parse(Uint8Array.from(x), 0, x.length, o);
    assert.equal(opt(2, 4, 5, 0xb4), OK);
    assert.equal(opt(2, 3, 5), BAD_OPTION); //          MSS with length 3
    assert.equal(opt(3, 3), BAD_OPTION); //             runs past the end
    assert.equal(opt(1, 1, 9), BAD_OPTION); //          kind without length byte
    assert.equal(opt(30, 1), BAD_OPTION); //            length < 2
    assert.equal(opt(5, 6, 0, 0, 0, 0), BAD_OPTION); // SACK with a partial block
    assert.equal(opt(8, 10, 0, 0, 0, 1, 0, 0, 0), BAD_OPTION);
    assert.equal(opt(0, 99, 99), OK); //               EOL: the rest is padding
    assert.equal(opt(30, 4, 7, 7, 253, 2), OK); //      unknown kinds kept by kind and place
    assert.deepEqual(
      [o.unknownCount, o.unknownKind[0], o.unknownAt[0], o.unknownLen[0], o.unknownKind[1]],
      [2, 30, 2, 2, 253],
    );
    assert.equal(opt(...new Array(9).fill([99, 2]).flat()), TOO_MANY);
    fuzz(topt.codec, [seg.subarray(20, 60)]);
  });

  it('scapy segments with random fields and options parse to the same values', { skip: needScapy() }, () => {
    const cases = fc.sample(arbTcp, { numRuns: 60, seed: 17 });
    const specs = cases.map(({ r, o }, i) => {
      const opts: [string, unknown][] = [];
      if (o.mss >= 0) opts.push(['MSS', o.mss]);
      if (o.sackPermitted) opts.push(['SAckOK', '']);
      if (o.hasTimestamp) opts.push(['Timestamp', [o.tsVal, o.tsEcr]]);
      if (o.wscale >= 0) opts.push(['WScale', o.wscale]);
      if (i % 3 === 0) opts.push(['NOP', null]);
      if (o.sackCount) {
        const s: number[] = [];
        for (let k = 0; k < o.sackCount; k++) s.push(o.sackLeft[k]!, o.sackRight[k]!);
        opts.push(['SAck', s]);
      }
      return { v6: i % 2 === 1, r: { ...r, options: undefined }, opts, data: 'ab'.repeat(i % 7) };
    });
    const lines = pyEach(
      specs,
      `    r = s['r']
    opts = [(k, tuple(v) if isinstance(v, list) else (b'' if v == '' else v)) for k, v in s['opts']]
    ip = IPv6(src='2001:db8::5', dst='2001:db8::6') if s['v6'] else IP(src='10.9.8.7', dst='10.0.0.1')
    t = TCP(sport=r['srcPort'], dport=r['dstPort'], seq=r['seq'], ack=r['ack'], flags=r['flags'], reserved=r['reserved'],
            window=r['window'], urgptr=r['urgent'], options=opts)
    print(bytes(ip/t/Raw(s['data'].encode())).hex())`,
    );
    const r = tcp.newRepr();
    const o = topt.newRepr();
    lines.forEach((line, i) => {
      const s = specs[i]!;
      const want = cases[i]!;
      const b = fromHex(line);
      const l4 = s.v6 ? 40 : 20;
      assert.equal(tcp.parse(b, l4, b.length, r), OK, `segment ${i}`);
      for (const k of ['srcPort', 'dstPort', 'seq', 'ack', 'flags', 'reserved', 'window', 'urgent'] as const)
        assert.equal(r[k], want.r[k], `segment ${i}: ${k}`);
      assert.equal(tcp.verifyChecksum(b, 0, l4, b.length), true, `segment ${i}: scapy's checksum`);
      const theirs = r.checksum;
      tcp.fillChecksum(b, 0, l4, b.length);
      assert.equal(tcp.checksumField(b, l4), theirs, `segment ${i}: our checksum`);
      assert.equal(b.length - l4 - tcp.headerLen(b, l4), s.data.length);
      assert.equal(topt.parse(b, l4 + 20, l4 + tcp.headerLen(b, l4), o), OK, `segment ${i}: options`);
      assert.deepEqual(
        { ...o, unknownKind: 0, unknownAt: 0, unknownLen: 0 },
        { ...want.o, unknownKind: 0, unknownAt: 0, unknownLen: 0 },
      );
    });
  });

  it('segments emitted by nvo dissect in tshark to the same fields, checksum good', {
    skip: needTshark(),
  }, () => {
    const cases = fc.sample(arbTcp, { numRuns: 60, seed: 18 });
    // Port 9 (discard) both ways so tshark has no payload dissector to run.
    const frames = cases.map(({ r }, i) => {
      r.srcPort = 9;
      r.dstPort = 9;
      const d = segment(i % 2 === 1, r, new Uint8Array(i % 5).fill(0x61));
      return ethFrame(i % 2 ? 0x86dd : 0x0800, d.b);
    });
    const layers = tshark(frames, {
      prefs: [
        'tcp.check_checksum:TRUE',
        'tcp.relative_sequence_numbers:FALSE',
        'tcp.analyze_sequence_numbers:FALSE',
      ],
    });
    layers.forEach((l, i) => {
      const { r, o } = cases[i]!;
      const t = l['tcp'];
      const one = (n: string) => fields(t, n)[0];
      assert.equal(Number(one('tcp.seq_raw')), r.seq, `frame ${i}`);
      assert.equal(Number(one('tcp.ack_raw')), r.ack);
      assert.equal(Number(one('tcp.hdr_len')), tcp.reprHeaderLen(r));
      // tcp.flags is the 12 bits after Data Offset: reserved (3) then NS..FIN (9)
      assert.equal(Number(one('tcp.flags')), (r.reserved << 9) | r.flags, `frame ${i}: flags`);
      assert.equal(Number(one('tcp.window_size_value')), r.window);
      assert.equal(Number(one('tcp.urgent_pointer')), r.urgent);
      assert.equal(one('tcp.checksum.status'), '1', `frame ${i}: tshark says bad checksum`);
      assert.equal(one('tcp.options.mss_val'), o.mss >= 0 ? String(o.mss) : undefined);
      assert.equal(one('tcp.options.wscale.shift'), o.wscale >= 0 ? String(o.wscale) : undefined);
      assert.equal(one('tcp.options.sack_perm') !== undefined, o.sackPermitted);
      assert.equal(one('tcp.options.timestamp.tsval'), o.hasTimestamp ? String(o.tsVal) : undefined);
      assert.equal(one('tcp.options.timestamp.tsecr'), o.hasTimestamp ? String(o.tsEcr) : undefined);
      const le = fields(t, 'tcp.options.sack_le').map(Number);
      const re = fields(t, 'tcp.options.sack_re').map(Number);
      assert.deepEqual(le, [...o.sackLeft.subarray(0, o.sackCount)], `frame ${i}: sack`);
      assert.deepEqual(re, [...o.sackRight.subarray(0, o.sackCount)]);
      // A SYN carrying a SACK block or URG with pointer… are odd but not errors; the dissection itself must be clean.
      assert.equal(fields(l, '_ws.malformed').length, 0, `frame ${i}: malformed`);
    });
  });
});
