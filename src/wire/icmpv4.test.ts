import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { ethFrame, pyEach } from '../../test/harness/wire-oracles.ts';
import { fromHex, hex } from './bytes.ts';
import * as icmp from './icmpv4.ts';
import * as ipProto from './ip-proto.ts';
import * as ipv4 from './ipv4.ts';
import { OK, TRUNCATED } from './status.ts';

// Provenance: scapy 2.5, the ICMP part of —
//   echo:   IP(src='10.0.0.1',dst='10.0.0.2')/ICMP(type=8,id=0x1234,seq=7)/Raw(b'hello')
//   frag:   IP(src='10.0.0.254',dst='10.0.0.1')/ICMP(type=3,code=4,nexthopmtu=1400)
//           /IP(src='10.0.0.1',dst='10.9.9.9',flags='DF')/UDP(sport=5,dport=6)
//   param:  IP(…)/ICMP(type=12,ptr=9)/IP(src='10.0.0.1',dst='10.9.9.9')/UDP(sport=5,dport=6)
// tshark 4.0 agrees on type, code, checksum good, id 4660 seq 7, mtu 1400, pointer 9.
const VECTORS = [
  {
    name: 'echo request',
    hex: '0800a1f21234000768656c6c6f',
    type: 8,
    code: 0,
    csum: 0xa1f2,
    id: 0x1234,
    seq: 7,
  },
  {
    name: 'fragmentation needed, MTU 1400',
    hex: '030414b0000005784500001c0001400040111dbe0a0000010a090909000500060008e2c0',
    type: 3,
    code: 4,
    csum: 0x14b0,
    mtu: 1400,
  },
  {
    name: 'parameter problem, pointer 9',
    hex: '0c00082c090000004500001c0001000040115dbe0a0000010a090909000500060008e2c0',
    type: 12,
    code: 0,
    csum: 0x082c,
    pointer: 9,
  },
];

const arbRepr = fc
  .record({
    type: fc.integer({ min: 0, max: 255 }),
    code: fc.integer({ min: 0, max: 255 }),
    checksum: fc.integer({ min: 0, max: 0xffff }),
    rest: fc.integer({ min: 0, max: 0xffffffff }),
  })
  .map((r) => ({ ...r }));

describe('icmpv4', () => {
  it('parses the vectors; checksum verifies and recomputes to scapy’s', () => {
    const r = icmp.newRepr();
    for (const v of VECTORS) {
      const b = fromHex(v.hex);
      assert.equal(icmp.parse(b, 0, b.length, r), OK);
      assert.deepEqual([r.type, r.code, r.checksum], [v.type, v.code, v.csum], v.name);
      if (v.id !== undefined) assert.deepEqual([icmp.echoId(b, 0), icmp.echoSeq(b, 0)], [v.id, v.seq]);
      if (v.mtu !== undefined) assert.equal(icmp.nextHopMtu(b, 0), v.mtu);
      if (v.pointer !== undefined) assert.equal(icmp.pointer(b, 0), v.pointer);
      assert.equal(icmp.verifyChecksum(b, 0, b.length), true, v.name);
      icmp.fillChecksum(b, 0, b.length);
      assert.equal(icmp.checksumField(b, 0), v.csum, v.name);
      b[b.length - 1]! ^= 0x10;
      assert.equal(icmp.verifyChecksum(b, 0, b.length), false);
    }
    assert.equal(icmp.isError(3) && icmp.isError(11) && !icmp.isError(8), true);
    // the quoted datagram of an error is a parseable IPv4 header
    const f = fromHex(VECTORS[1]!.hex);
    const ip = ipv4.newRepr();
    assert.equal(ipv4.parse(f, icmp.quoteOffset(0), f.length, ip), OK);
    assert.equal(ip.df, true);
  });

  it('round-trips random reprs; rest builders place the fields', () => {
    fc.assert(fc.property(arbRepr, (r) => void roundTrip(icmp.codec, r)));
    const b = new Uint8Array(8);
    icmp.emit({ type: 8, code: 0, checksum: 0, rest: icmp.echoRest(0xabcd, 0xfffe) }, b, 0);
    assert.deepEqual([icmp.echoId(b, 0), icmp.echoSeq(b, 0)], [0xabcd, 0xfffe]);
    icmp.emit({ type: 3, code: 4, checksum: 0, rest: icmp.fragNeededRest(1450) }, b, 0);
    assert.equal(hex(b, 4), '000005aa');
    icmp.emit({ type: 12, code: 0, checksum: 0, rest: icmp.pointerRest(20) }, b, 0);
    assert.equal(hex(b, 4), '14000000');
  });

  it('truncation and fuzz', () => {
    const b = fromHex(VECTORS[0]!.hex);
    const st = truncations(icmp.codec, b, 8);
    assert.deepEqual(new Set(st.slice(0, 8)), new Set([TRUNCATED]));
    fuzz(
      icmp.codec,
      VECTORS.map((v) => fromHex(v.hex)),
    );
  });

  it('scapy messages with random fields parse to the same values', { skip: needScapy() }, () => {
    const specs = fc.sample(
      fc.record({
        kind: fc.constantFrom('echo', 'frag', 'param', 'exceeded'),
        a: fc.integer({ min: 0, max: 0xffff }),
        b: fc.integer({ min: 0, max: 0xffff }),
        data: fc.uint8Array({ maxLength: 40 }).map((d) => hex(d)),
      }),
      { numRuns: 60, seed: 21 },
    );
    const lines = pyEach(
      specs,
      `    k = s['kind']
    m = {'echo': ICMP(type=8, id=s['a'], seq=s['b']), 'frag': ICMP(type=3, code=4, nexthopmtu=s['a']),
         'param': ICMP(type=12, ptr=s['a'] % 256), 'exceeded': ICMP(type=11, code=s['b'] % 2)}[k]
    print(bytes(m/Raw(bytes.fromhex(s['data']))).hex())`,
    );
    const r = icmp.newRepr();
    lines.forEach((line, i) => {
      const s = specs[i]!;
      const b = fromHex(line);
      assert.equal(icmp.parse(b, 0, b.length, r), OK);
      assert.equal(icmp.verifyChecksum(b, 0, b.length), true, `message ${i}`);
      const theirs = r.checksum;
      icmp.fillChecksum(b, 0, b.length);
      assert.equal(icmp.checksumField(b, 0), theirs);
      if (s.kind === 'echo') assert.deepEqual([r.type, icmp.echoId(b, 0), icmp.echoSeq(b, 0)], [8, s.a, s.b]);
      if (s.kind === 'frag') assert.deepEqual([r.type, r.code, icmp.nextHopMtu(b, 0)], [3, 4, s.a]);
      if (s.kind === 'param') assert.deepEqual([r.type, icmp.pointer(b, 0)], [12, s.a % 256]);
      if (s.kind === 'exceeded') assert.deepEqual([r.type, r.code, r.rest], [11, s.b % 2, 0]);
    });
  });

  it('messages emitted by nvo dissect in tshark to the same fields, checksum good', {
    skip: needTshark(),
  }, () => {
    const cases = fc.sample(
      fc.record({
        kind: fc.constantFrom('echo', 'frag', 'param'),
        a: fc.integer({ min: 0, max: 0xffff }),
        b: fc.integer({ min: 0, max: 0xffff }),
        data: fc.uint8Array({ maxLength: 32 }),
      }),
      { numRuns: 60, seed: 22 },
    );
    // Errors quote a real IPv4 + UDP header so tshark's quoted-datagram dissection is clean.
    const quote = new Uint8Array(28);
    const q = ipv4.newRepr();
    q.src = ipv4.addr('10.0.0.1');
    q.dst = ipv4.addr('10.9.9.9');
    q.protocol = ipProto.UDP;
    q.payloadLen = 8;
    ipv4.emit(q, quote, 0);
    quote.set([0, 5, 0, 6, 0, 8, 0, 0], 20);
    const frames = cases.map((c) => {
      const r: icmp.Icmpv4Repr =
        c.kind === 'echo'
          ? { type: 8, code: 0, checksum: 0, rest: icmp.echoRest(c.a, c.b) }
          : c.kind === 'frag'
            ? { type: 3, code: 4, checksum: 0, rest: icmp.fragNeededRest(c.a) }
            : { type: 12, code: 0, checksum: 0, rest: icmp.pointerRest(c.a) };
      const data = c.kind === 'echo' ? c.data : quote;
      const ip = ipv4.newRepr();
      ip.src = ipv4.addr('192.0.2.1');
      ip.dst = ipv4.addr('192.0.2.2');
      ip.protocol = ipProto.ICMP;
      ip.payloadLen = 8 + data.length;
      const p = new Uint8Array(20 + 8 + data.length);
      ipv4.emit(ip, p, 0);
      icmp.emit(r, p, 20);
      p.set(data, 28);
      icmp.fillChecksum(p, 20, p.length);
      return ethFrame(0x0800, p);
    });
    tshark(frames).forEach((l, i) => {
      const c = cases[i]!;
      const one = (n: string) => fields(l['icmp'], n)[0];
      assert.equal(one('icmp.checksum.status'), '1', `frame ${i}`);
      if (c.kind === 'echo') {
        assert.deepEqual(
          [one('icmp.type'), Number(one('icmp.ident')), Number(one('icmp.seq'))],
          ['8', c.a, c.b],
        );
      } else if (c.kind === 'frag') {
        assert.deepEqual([one('icmp.type'), one('icmp.code'), Number(one('icmp.mtu'))], ['3', '4', c.a]);
      } else assert.deepEqual([one('icmp.type'), Number(one('icmp.pointer'))], ['12', c.a & 0xff]);
      assert.equal(tsharkMalformed(l), undefined, `frame ${i}`);
    });
  });
});
