import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, guarded, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { py } from '../../test/harness/wire-oracles.ts';
import { fromHex, hex } from './bytes.ts';
import * as ipv4 from './ipv4.ts';
import { BAD_CHECKSUM, BAD_LENGTH, BAD_OPTION, BAD_VERSION, OK, TRUNCATED } from './status.ts';

// Provenance:
//  - "wikipedia": the worked example of https://en.wikipedia.org/wiki/Internet_checksum (IPv4 header
//    4500 0073 … checksum 0xb861), itself a capture of a UDP datagram 192.168.0.1 → 192.168.0.199.
//  - "scapy": built by scapy 2.5 (Debian python3-scapy), with the command in the comment; scapy's IP
//    layer computes IHL, total length and the header checksum itself.
const VECTORS = [
  {
    name: 'wikipedia internet-checksum example',
    // The 20-byte header, followed by 0x73 − 20 = 95 zero bytes standing in for the UDP datagram.
    hex: '450000730000400040 11b861c0a80001c0a800c7' + '00'.repeat(95),
    fields: { payloadLen: 0x73 - 20, ident: 0, df: true, mf: false, fragOffset: 0, ttl: 64, protocol: 17 },
    src: '192.168.0.1',
    dst: '192.168.0.199',
    totalLen: 0x73,
  },
  {
    // IP(src='10.0.0.1',dst='10.0.0.2',options=[IPOption_RR(routers=['1.2.3.4']),IPOption_NOP(),IPOption_EOL()],
    //    flags='DF+evil',ttl=3,tos=0xb9,id=7,proto=253)/Raw(b'abcd')
    name: 'scapy: record-route option, evil+DF, tos 0xb9',
    hex: '48b900240007c00003fdce0e0a0000010a00000207070401020304010000000061626364',
    fields: {
      dscp: 46,
      ecn: 1,
      payloadLen: 4,
      ident: 7,
      reservedFlag: true,
      df: true,
      ttl: 3,
      protocol: 253,
      optionsLen: 12,
    },
    src: '10.0.0.1',
    dst: '10.0.0.2',
    totalLen: 36,
  },
];

function filled(over: Partial<ipv4.Ipv4Repr> = {}): ipv4.Ipv4Repr {
  return Object.assign(ipv4.newRepr(), over);
}

// Options that are structurally valid: NOP, EOL, or type/len/data with len ≥ 2, padded to 4 bytes.
const arbOptions = fc
  .array(
    fc.oneof(
      fc.constant([1]),
      fc
        .tuple(fc.integer({ min: 2, max: 255 }), fc.uint8Array({ maxLength: 8 }))
        .map(([t, d]) => [t === 1 ? 2 : t, d.length + 2, ...d]),
    ),
    { maxLength: 4 },
  )
  .map((opts) => {
    const flat = opts.flat().slice(0, 40);
    // A truncated last option would be malformed: cut back to whole options.
    let i = 0;
    let ok = 0;
    while (i < flat.length) {
      const len = flat[i] === 1 ? 1 : (flat[i + 1] ?? 99);
      if (i + len > flat.length) break;
      i += len;
      ok = i;
    }
    const bytes = flat.slice(0, ok);
    while (bytes.length % 4) bytes.push(0);
    return Uint8Array.from(bytes);
  });

const arbRepr = fc
  .record({
    dscp: fc.integer({ min: 0, max: 63 }),
    ecn: fc.integer({ min: 0, max: 3 }),
    payloadLen: fc.integer({ min: 0, max: 65535 - 60 }),
    ident: fc.integer({ min: 0, max: 0xffff }),
    reservedFlag: fc.boolean(),
    df: fc.boolean(),
    mf: fc.boolean(),
    fragOffset: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8),
    ttl: fc.integer({ min: 0, max: 255 }),
    protocol: fc.integer({ min: 0, max: 255 }),
    src: fc.integer({ min: 0, max: 0xffffffff }),
    dst: fc.integer({ min: 0, max: 0xffffffff }),
    opts: arbOptions,
  })
  .map(({ opts, ...r }) => {
    const out = filled(r);
    out.options.set(opts);
    out.optionsLen = opts.length;
    return out;
  });

describe('ipv4', () => {
  it('parses the vectors', () => {
    for (const v of VECTORS) {
      const b = fromHex(v.hex);
      const r = ipv4.newRepr();
      assert.equal(ipv4.parse(b, 0, b.length, r), OK, v.name);
      for (const [k, val] of Object.entries(v.fields))
        assert.equal(r[k as keyof typeof r], val, `${v.name}: ${k}`);
      assert.equal(r.src, ipv4.addr(v.src));
      assert.equal(r.dst, ipv4.addr(v.dst));
      assert.equal(ipv4.totalLen(b, 0), v.totalLen);
      assert.equal(ipv4.addrText(r.src), v.src);
      // emit reproduces the bytes, checksum included
      const again = new Uint8Array(ipv4.reprHeaderLen(r)).fill(0xa5);
      ipv4.emit(r, again, 0);
      assert.equal(hex(again), hex(b, 0, ipv4.headerLen(b, 0)), v.name);
    }
  });

  it('round-trips fixed and random reprs', () => {
    // parse insists on Total Length bytes being present: the payload goes in as `trailing`.
    const rt = (r: ipv4.Ipv4Repr) =>
      roundTrip(ipv4.codec, r, { trailing: new Uint8Array(r.payloadLen).fill(0x3c) });
    rt(filled({ protocol: 6, src: 0x0a000001, dst: 0xc0a80101, df: true, payloadLen: 1480 }));
    const withOpts = filled({ ttl: 1, mf: true, fragOffset: 1480 });
    withOpts.options.set([148, 4, 0, 0]); // Router Alert (RFC 2113)
    withOpts.optionsLen = 4;
    rt(withOpts);
    fc.assert(
      fc.property(arbRepr, (r) => {
        r.payloadLen %= 2000;
        rt(r);
      }),
      { numRuns: 200 },
    );
  });

  it('a reused repr keeps [optionsLen, 40) zero', () => {
    const r = ipv4.newRepr();
    for (const v of [VECTORS[1]!, VECTORS[0]!, VECTORS[1]!, VECTORS[0]!]) {
      const b = fromHex(v.hex);
      assert.equal(ipv4.parse(b, 0, b.length, r), OK);
      assert.deepEqual(r.options.subarray(r.optionsLen), new Uint8Array(40 - r.optionsLen));
    }
  });

  it('accessors agree with the repr and setters round-trip', () => {
    const r = filled({ df: true, mf: true, fragOffset: 8 * 100, ident: 0xbeef, ttl: 9, protocol: 47 });
    const b = new Uint8Array(20 + 10);
    r.payloadLen = 10;
    ipv4.emit(r, b, 0);
    assert.equal(ipv4.isFragment(b, 0), true);
    assert.equal(ipv4.fragOffset(b, 0), 800);
    assert.equal(ipv4.payloadEnd(b, 0), 30);
    ipv4.setFrag(b, 0, true, false, 0);
    assert.equal(ipv4.isFragment(b, 0), false);
    ipv4.setTtl(b, 0, 8);
    assert.equal(ipv4.verifyChecksum(b, 0), false);
    ipv4.fillChecksum(b, 0);
    assert.equal(ipv4.verifyChecksum(b, 0), true);
    assert.equal(ipv4.check(b, 0, b.length), OK);
    ipv4.setSrc(b, 0, 0xffffffff);
    assert.equal(ipv4.src(b, 0), 0xffffffff);
  });

  it('rejects bad headers with the right status', () => {
    const good = fromHex(VECTORS[1]!.hex);
    const r = ipv4.newRepr();
    const mut = (f: (b: Uint8Array) => void, fix = true) => {
      const b = good.slice();
      f(b);
      if (fix && ipv4.headerLen(b, 0) >= 20 && ipv4.headerLen(b, 0) <= b.length) ipv4.fillChecksum(b, 0);
      return ipv4.parse(b, 0, b.length, r);
    };
    assert.equal(
      mut((b) => (b[0] = 0x68)),
      BAD_VERSION,
    );
    assert.equal(
      mut((b) => (b[0] = 0x44)),
      BAD_LENGTH,
    ); // IHL 4
    assert.equal(
      mut((b) => (b[0] = 0x4f)),
      BAD_LENGTH,
    ); // IHL 15 = 60 bytes > total length 36
    assert.equal(
      mut((b) => {
        b[0] = 0x4f;
        b[3] = 60;
      }),
      TRUNCATED,
    ); // IHL 15 and total length 60, but only 36 bytes
    assert.equal(
      mut((b) => (b[3] = 30)),
      BAD_LENGTH,
    ); // total length 30 < IHL×4 = 32
    assert.equal(
      mut((b) => (b[3] = 37)),
      TRUNCATED,
    ); // total length past the buffer
    assert.equal(
      mut((b) => (b[10] ^= 1), false),
      BAD_CHECKSUM,
    );
    assert.equal(
      mut((b) => (b[21] = 1)),
      BAD_OPTION,
    ); // RR length 1
    assert.equal(
      mut((b) => (b[21] = 13)),
      BAD_OPTION,
    ); // RR runs past IHL
    // Lengths 0 and 1 are malformed even where the bytes after them would parse (a walker that accepted
    // them would loop forever on 0, or read [30, 1] as a 1-byte option and then NOP, EOL → OK).
    for (const opts of [
      [30, 1, 1, 0],
      [30, 0, 0, 0],
    ]) {
      const h = filled({ protocol: 253 });
      h.options.set(opts);
      h.optionsLen = 4;
      const b = new Uint8Array(24);
      ipv4.emit(h, b, 0);
      assert.equal(ipv4.parse(b, 0, 24, r), BAD_OPTION, `options ${opts}`);
    }
    // Ethernet padding after the datagram is fine: end beyond total length.
    const padded = new Uint8Array(60);
    padded.set(good);
    assert.equal(ipv4.parse(padded, 0, 60, r), OK);
    assert.equal(r.payloadLen, 4);
  });

  it('truncation at every length returns a status, never throws or reads outside', () => {
    for (const v of VECTORS) {
      const b = fromHex(v.hex);
      truncations(ipv4.codec, b, v.totalLen);
    }
    fuzz(
      ipv4.codec,
      VECTORS.map((v) => fromHex(v.hex)),
    );
    // check and the accessors used by format stay within a guarded, exactly-sized header
    const b = fromHex(VECTORS[0]!.hex);
    const g = guarded(b, 0, 20);
    assert.equal(ipv4.check(g, 0, 20), TRUNCATED);
  });

  it('scapy-built headers with random fields parse to scapy’s values', { skip: needScapy() }, () => {
    // scapy decodes known option numbers (low 5 bits: RR 7, TS 4, LSRR 3, …) structurally and fails on
    // random bodies: give it NOPs and numbers 22..31, which it treats as generic type/length/value.
    const reprs = fc.sample(arbRepr, { numRuns: 150, seed: 4242 }).map((r) => {
      for (let i = 0; i < r.optionsLen; ) {
        const t = r.options[i]!;
        if (t <= 1) {
          i++;
          continue;
        }
        r.options[i] = (t & 0xe0) | (22 + (t % 10));
        i += r.options[i + 1]!;
      }
      return r;
    });
    const specs = reprs.map((r) => ({
      tos: (r.dscp << 2) | r.ecn,
      id: r.ident,
      flags: (r.reservedFlag ? 4 : 0) | (r.df ? 2 : 0) | (r.mf ? 1 : 0),
      frag: r.fragOffset / 8,
      ttl: r.ttl,
      proto: r.protocol,
      src: ipv4.addrText(r.src),
      dst: ipv4.addrText(r.dst),
      opts: hex(r.options, 0, r.optionsLen),
      plen: r.payloadLen % 300,
    }));
    const out = py(`
import json
for s in json.loads('''${JSON.stringify(specs)}'''):
    p = IP(tos=s['tos'], id=s['id'], flags=s['flags'], frag=s['frag'], ttl=s['ttl'], proto=s['proto'],
           src=s['src'], dst=s['dst'], options=IPOption(bytes.fromhex(s['opts'])) if s['opts'] else [])
    b = bytes(p / Raw(b'x' * s['plen']))
    q = IP(b)
    print(b.hex(), q.ihl, q.len, q.chksum)
`);
    const lines = out.trim().split('\n');
    assert.equal(lines.length, specs.length);
    const r = ipv4.newRepr();
    lines.forEach((line, i) => {
      const [h, ihl, len, csum] = line.split(' ');
      const b = fromHex(h!);
      const s = specs[i]!;
      assert.equal(ipv4.parse(b, 0, b.length, r), OK, `frame ${i}`);
      assert.equal(ipv4.headerLen(b, 0), Number(ihl) * 4);
      assert.equal(ipv4.totalLen(b, 0), Number(len));
      assert.equal(ipv4.headerChecksum(b, 0), Number(csum));
      assert.equal(r.payloadLen, s.plen);
      assert.equal((r.dscp << 2) | r.ecn, s.tos);
      assert.equal(r.ident, s.id);
      assert.equal(r.reservedFlag, (s.flags & 4) !== 0);
      assert.equal(r.df, (s.flags & 2) !== 0);
      assert.equal(r.mf, (s.flags & 1) !== 0);
      assert.equal(r.fragOffset, s.frag * 8);
      assert.equal(r.ttl, s.ttl);
      assert.equal(r.protocol, s.proto);
      assert.equal(ipv4.addrText(r.src), s.src);
      assert.equal(ipv4.addrText(r.dst), s.dst);
      assert.equal(hex(r.options, 0, r.optionsLen), s.opts);
    });
  });

  it('headers emitted by nvo dissect in tshark to the same fields, checksum good', {
    skip: needTshark(),
  }, () => {
    const reprs = fc.sample(arbRepr, { numRuns: 150, seed: 99 });
    const frames = reprs.map((r) => {
      r.payloadLen %= 64;
      r.protocol = 253; // RFC 3692 experimental: tshark shows it as data, nothing to mis-dissect
      const hl = ipv4.reprHeaderLen(r);
      const f = new Uint8Array(14 + hl + r.payloadLen).fill(0x33);
      f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0]);
      ipv4.emit(r, f, 14);
      return f;
    });
    const layers = tshark(frames, { prefs: ['ip.check_checksum:TRUE', 'ip.defragment:FALSE'] });
    assert.equal(layers.length, frames.length);
    layers.forEach((l, i) => {
      const r = reprs[i]!;
      const ip = l['ip'];
      const one = (n: string) => fields(ip, n)[0];
      assert.equal(one('ip.version'), '4');
      assert.equal(Number(one('ip.hdr_len')), ipv4.reprHeaderLen(r), `frame ${i}`);
      assert.equal(Number(one('ip.dsfield.dscp')), r.dscp);
      assert.equal(Number(one('ip.dsfield.ecn')), r.ecn);
      assert.equal(Number(one('ip.len')), ipv4.reprHeaderLen(r) + r.payloadLen);
      assert.equal(Number(one('ip.id')), r.ident);
      assert.equal(one('ip.flags.rb'), r.reservedFlag ? '1' : '0');
      assert.equal(one('ip.flags.df'), r.df ? '1' : '0');
      assert.equal(one('ip.flags.mf'), r.mf ? '1' : '0');
      // tshark 4.0 shows the raw 13-bit field (8-byte units)
      assert.equal(Number(one('ip.frag_offset')) * 8, r.fragOffset);
      assert.equal(Number(one('ip.ttl')), r.ttl);
      assert.equal(Number(one('ip.proto')), r.protocol);
      assert.equal(one('ip.checksum.status'), '1', `frame ${i}: tshark says the header checksum is bad`);
      assert.equal(one('ip.src'), ipv4.addrText(r.src));
      assert.equal(one('ip.dst'), ipv4.addrText(r.dst));
      // Random option payloads may be semantically odd to tshark (e.g. bad RR pointers): only
      // option-free headers must come out clean.
      if (r.optionsLen === 0) assert.equal(tsharkMalformed(l), undefined, `frame ${i}`);
    });
  });
});
