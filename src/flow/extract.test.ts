// Flow-key extraction checked against independent implementations: frames built by scapy, dissected by
// tshark; every key field must equal what tshark reads from the same bytes. Plus hostile input: random
// and truncated frames never throw and never read outside the frame.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fields, needScapy, needTshark, scapy, tshark } from '../../test/harness/tools.ts';
import { ENCAP_VXLAN, Packet } from '../packet/packet.ts';
import { fromHex } from '../wire/bytes.ts';
import { OK, TRUNCATED } from '../wire/status.ts';
import { extractFrame, extractKey } from './extract.ts';
import { fieldByName, getField } from './fields.ts';
import * as K from './key.ts';
import { shapeEnd, shapeOf } from './key-shape.ts';

const FRAMES = `
frames = [
  Ether(src='00:11:22:33:44:55', dst='66:77:88:99:aa:bb')/IP(src='10.1.2.3', dst='192.168.7.9', tos=0xb9, ttl=17)/TCP(sport=1234, dport=80, flags='SA'),
  Ether(src='00:11:22:33:44:56', dst='ff:ff:ff:ff:ff:ff')/Dot1Q(vlan=100, prio=5)/IP(src='1.1.1.1', dst='2.2.2.2')/UDP(sport=53, dport=33000)/(b'x'*10),
  Ether()/Dot1AD(vlan=7, prio=1)/Dot1Q(vlan=300, prio=3)/IP(src='3.3.3.3', dst='4.4.4.4')/UDP(sport=1, dport=2),
  Ether(src='00:00:00:00:00:0a')/ARP(op=2, hwsrc='00:00:00:00:00:0a', psrc='10.0.0.1', hwdst='00:00:00:00:00:0b', pdst='10.0.0.2'),
  Ether()/IP(src='5.5.5.5', dst='6.6.6.6', ttl=1)/ICMP(type=8, code=0),
  Ether()/IP(src='5.5.5.5', dst='6.6.6.6', flags='MF', frag=0)/UDP(sport=7, dport=9)/(b'y'*16),
  Ether()/IP(src='5.5.5.5', dst='6.6.6.6', frag=100, proto=17)/(b'z'*16),
  Ether()/IPv6(src='2001:db8::1', dst='2001:db8::2', tc=0x2e, fl=0x12345, hlim=9)/IPv6ExtHdrHopByHop()/TCP(sport=22, dport=2222, flags='FPU'),
  Ether()/IPv6(src='fe80::1', dst='ff02::1:ff00:2')/ICMPv6ND_NS(tgt='fe80::2')/ICMPv6NDOptSrcLLAddr(lladdr='00:00:00:00:00:01'),
  Ether()/IPv6(src='fe80::2', dst='fe80::1')/ICMPv6ND_NA(tgt='fe80::2')/ICMPv6NDOptDstLLAddr(lladdr='00:00:00:00:00:02'),
  Ether()/IPv6(src='2001:db8::1', dst='2001:db8::2')/IPv6ExtHdrFragment(offset=0, m=1, nh=17)/UDP(sport=5, dport=6),
  Ether()/IPv6(src='2001:db8::1', dst='2001:db8::2')/IPv6ExtHdrFragment(offset=10, m=0, nh=17)/(b'q'*8),
  Ether()/IP(src='7.7.7.7', dst='8.8.8.8')/SCTP(sport=3868, dport=3869),
  Ether()/IPv6(src='::1', dst='::2')/ICMPv6EchoRequest(),
  Ether(dst='01:80:c2:00:00:00')/LLC(dsap=0x42, ssap=0x42, ctrl=3)/b'stp-ish-payload',
]
for f in frames: print(bytes(f).hex())
`;

function packetOf(bytes: Uint8Array): Packet {
  const p = new Packet(new Uint8Array(2048), 0, 256);
  p.buf.set(bytes, p.start);
  p.end = p.start + bytes.length;
  p.inPort = 7;
  return p;
}

const F = (n: string) => fieldByName(n)!;
const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
const macBig = (s: string) => BigInt(`0x${s.replace(/:/g, '')}`);
const ip4Big = (s: string) => s.split('.').reduce((a, x) => (a << 8n) | BigInt(x), 0n);
const ip6Big = (s: string) => {
  const out = new Uint8Array(16);
  const halves = s.split('::');
  const h = halves[0] ? halves[0].split(':') : [];
  const t = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const g = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  g.forEach((x, i) => {
    out[2 * i] = Number.parseInt(x, 16) >> 8;
    out[2 * i + 1] = Number.parseInt(x, 16) & 0xff;
  });
  return out.reduce((a, x) => (a << 8n) | BigInt(x), 0n);
};

test('flow key == tshark dissection of scapy-built frames', { skip: needScapy() || needTshark() }, () => {
  const frames = scapy(FRAMES).trim().split('\n').map(fromHex);
  const dissected = tshark(frames);
  assert.equal(dissected.length, frames.length);
  for (let i = 0; i < frames.length; i++) {
    const L = dissected[i]!;
    const k = K.newKey();
    const p = packetOf(frames[i]!);
    const st = extractKey(p, k);
    assert.equal(st, OK, `frame ${i}`);
    const get = (n: string) => getField(k, F(n));
    const eq = (n: string, want: bigint | undefined, what = n) => {
      if (want !== undefined) assert.equal(get(n), want, `frame ${i}: ${what}`);
    };
    const one = (n: string) => fields(L, n)[0];
    const last = (n: string) => fields(L, n).at(-1);
    eq('in_port', 7n);
    eq('eth_src', macBig(one('eth.src')!));
    eq('eth_dst', macBig(one('eth.dst')!));
    // VLAN tags, outermost first.
    // tshark names an 802.1ad (0x88a8) tag ieee8021ad.*, an 802.1Q one vlan.*; the S-tag is outer.
    const vids = [...fields(L, 'ieee8021ad.id'), ...fields(L, 'vlan.id')];
    const pcps = [...fields(L, 'ieee8021ad.priority'), ...fields(L, 'vlan.priority')];
    if (vids.length) {
      assert.equal(k[K.VLAN_TCI]! & 0xfff, Number(vids[0]), `frame ${i}: vid`);
      assert.equal(k[K.VLAN_TCI]! >> 13, Number(pcps[0]), `frame ${i}: pcp`);
      assert.ok(k[K.VLAN_TCI]! & K.VLAN_CFI);
      if (vids.length > 1) assert.equal(k[K.VLAN2_TCI]! & 0xfff, Number(vids[1]));
    } else assert.equal(k[K.VLAN_TCI], 0);
    const etype = last('vlan.etype') ?? one('eth.type');
    if (etype) eq('eth_type', BigInt(etype));
    else eq('eth_type', BigInt(K.DL_TYPE_NONE), 'eth_type of an 802.3 frame');
    if (one('ip.src')) {
      eq('ip_src', ip4Big(one('ip.src')!));
      eq('ip_dst', ip4Big(one('ip.dst')!));
      eq('nw_proto', BigInt(one('ip.proto')!));
      assert.equal(k[K.NW_TOS], Number(one('ip.dsfield')), `frame ${i}: tos`);
      assert.equal(k[K.NW_TTL], Number(one('ip.ttl')));
      const mf = one('ip.flags.mf') === '1' || one('ip.flags.mf') === 'True';
      const off = Number(one('ip.frag_offset') ?? 0);
      assert.equal(k[K.NW_FRAG], (mf || off ? K.FRAG_ANY : 0) | (off ? K.FRAG_LATER : 0), `frame ${i}: frag`);
    }
    if (one('ipv6.src')) {
      eq('ipv6_src', ip6Big(one('ipv6.src')!));
      eq('ipv6_dst', ip6Big(one('ipv6.dst')!));
      eq('ipv6_label', BigInt(one('ipv6.flow')!));
      assert.equal(k[K.NW_TOS], Number(one('ipv6.tclass')));
      assert.equal(k[K.NW_TTL], Number(one('ipv6.hlim')));
      // The last next-header in the chain is the transport protocol.
      const nxt: string[] = [];
      JSON.stringify(L, (key, v) => {
        if (/^ipv6\..*nxt$/.test(key) && typeof v === 'string') nxt.push(v);
        return v;
      });
      if (!one('ipv6.fraghdr.offset') || one('ipv6.fraghdr.offset') === '0')
        assert.ok(nxt.includes(String(k[K.NW_PROTO])), `frame ${i}: ipv6 proto ${k[K.NW_PROTO]} in ${nxt}`);
      const foff = Number(one('ipv6.fraghdr.offset') ?? 0);
      const fmore = one('ipv6.fraghdr.more') === '1' || one('ipv6.fraghdr.more') === 'True';
      assert.equal(
        k[K.NW_FRAG],
        (foff || fmore ? K.FRAG_ANY : 0) | (foff ? K.FRAG_LATER : 0),
        `frame ${i}: v6 frag`,
      );
    }
    eq('tcp_src', num(one('tcp.srcport')) === undefined ? undefined : BigInt(one('tcp.srcport')!));
    eq('tcp_dst', one('tcp.dstport') === undefined ? undefined : BigInt(one('tcp.dstport')!));
    if (one('tcp.flags')) assert.equal(k[K.TCP_FLAGS], Number(one('tcp.flags')) & 0xfff);
    if (one('udp.srcport')) {
      eq('udp_src', BigInt(one('udp.srcport')!));
      eq('udp_dst', BigInt(one('udp.dstport')!));
    }
    if (one('sctp.srcport')) {
      eq('sctp_src', BigInt(one('sctp.srcport')!));
      eq('sctp_dst', BigInt(one('sctp.dstport')!));
    }
    if (one('icmp.type')) {
      eq('icmp_type', BigInt(one('icmp.type')!));
      eq('icmp_code', BigInt(one('icmp.code')!));
    }
    if (one('icmpv6.type')) {
      eq('icmpv6_type', BigInt(one('icmpv6.type')!));
      eq('icmpv6_code', BigInt(one('icmpv6.code')!));
      if (one('icmpv6.nd.ns.target_address')) eq('nd_target', ip6Big(one('icmpv6.nd.ns.target_address')!));
      if (one('icmpv6.nd.na.target_address')) eq('nd_target', ip6Big(one('icmpv6.nd.na.target_address')!));
      const ll = one('icmpv6.opt.linkaddr');
      if (ll && one('icmpv6.type') === '135') eq('nd_sll', macBig(ll));
      if (ll && one('icmpv6.type') === '136') eq('nd_tll', macBig(ll));
    }
    if (one('arp.opcode')) {
      eq('arp_op', BigInt(one('arp.opcode')!));
      eq('arp_spa', ip4Big(one('arp.src.proto_ipv4')!));
      eq('arp_tpa', ip4Big(one('arp.dst.proto_ipv4')!));
      eq('arp_sha', macBig(one('arp.src.hw_mac')!));
      eq('arp_tha', macBig(one('arp.dst.hw_mac')!));
    }
    // Offsets for the actions: l3/l4 point at the headers tshark found.
    if (one('ip.src') || one('ipv6.src') || one('arp.opcode')) assert.ok(p.l3 > p.l2, `frame ${i}: l3`);
  }
});

test('tunnel metadata + inner headers in one key (decapsulated packet)', () => {
  // Inner frame: 00:..:02 → 00:..:01, IPv4 10.0.0.1 → 10.0.0.2, UDP 1000 → 2000 (hand-assembled).
  const inner = fromHex(
    '000000000001 000000000002 0800 4500001c 0000 0000 4011 0000 0a000001 0a000002 03e8 07d0 0008 0000',
  );
  const p = packetOf(inner);
  p.tunEncap = ENCAP_VXLAN;
  p.tunIdLo = 5000;
  p.tunIpVersion = 4;
  p.tunSrc.set([192, 0, 2, 1]);
  p.tunDst.set([192, 0, 2, 2]);
  const k = K.newKey();
  assert.equal(extractKey(p, k), OK);
  assert.equal(getField(k, F('tun_id')), 5000n);
  assert.equal(getField(k, F('tun_src')), 0xc0000201n);
  assert.equal(getField(k, F('tun_dst')), 0xc0000202n);
  assert.equal(k[K.TUN_ENCAP], ENCAP_VXLAN);
  assert.equal(getField(k, F('ip_dst')), 0x0a000002n);
  assert.equal(getField(k, F('udp_dst')), 2000n);
  // A slot's next life: reset zeroes the version, not the address bytes (packet.ts); the key must not
  // see them, without a tunnel nor with one whose version is unset.
  p.reset(256);
  p.buf.set(inner, p.start);
  p.end = p.start + inner.length;
  assert.deepEqual([...p.tunDst.subarray(0, 4)], [192, 0, 2, 2]);
  assert.equal(extractKey(p, k), OK);
  assert.deepEqual(
    [getField(k, F('tun_src')), getField(k, F('tun_dst')), getField(k, F('tun_id'))],
    [0n, 0n, 0n],
  );
  p.tunEncap = ENCAP_VXLAN;
  assert.equal(extractKey(p, k), OK);
  assert.deepEqual([getField(k, F('tun_src')), getField(k, F('tun_dst'))], [0n, 0n]);
});

test('hostile input: random bytes and every truncation never throw and stay in bounds', () => {
  const base = fromHex(
    '000000000001 000000000002 8100 2064 86dd 6000000000140601 20010db8000000000000000000000001 20010db8000000000000000000000002 04d2 0050 00000000 00000000 5002 ffff 0000 0000',
  );
  for (let n = 0; n <= base.length; n++) {
    const k = K.newKey();
    const st = extractKey(packetOf(base.subarray(0, n)), k);
    assert.ok(st === OK || st === TRUNCATED);
    if (n < base.length) assert.equal(st, TRUNCATED, `length ${n}`);
  }
  // Reads past `end` would see the tail: extract the same frame with a 0x00 tail and a 0xff tail (and
  // 0xff headroom) and require identical keys. Random bytes, and random bytes behind real headers.
  const frame = (bytes: Uint8Array, fill: number) => {
    const p = new Packet(new Uint8Array(256 + bytes.length + 64).fill(fill), 0, 256);
    p.buf.set(bytes, 256);
    p.end = 256 + bytes.length;
    return p;
  };
  const eth = '000000000001000000000002';
  const prefixes = [
    '',
    eth,
    `${eth}8100`,
    `${eth}88a800018100`,
    `${eth}08004500`,
    `${eth}0800450000000000000040060000`, // IPv4, proto TCP, not a fragment
    `${eth}0800450000000000200040110000`, // IPv4 first fragment, UDP
    `${eth}86dd6000`,
    `${eth}86dd600000000000ff3aff`, // IPv6 → ICMPv6
    `${eth}86dd600000000000ff00ff`, // IPv6 → hop-by-hop
    `${eth}0806000108000604`, // Ethernet/IPv4 ARP
    `${eth}0026aaaa030000000800`, // 802.3 LLC/SNAP carrying IPv4
  ].map(fromHex);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: prefixes.length - 1 }),
      fc.uint8Array({ maxLength: 100, size: 'max' }),
      (pi, tail) => {
        const bytes = new Uint8Array([...prefixes[pi]!, ...tail]);
        const k0 = K.newKey();
        const k1 = K.newKey();
        const s0 = extractKey(frame(bytes, 0x00), k0);
        const s1 = extractKey(frame(bytes, 0xff), k1);
        assert.equal(s0, s1);
        assert.deepEqual(k0, k1);
      },
    ),
    { numRuns: 4000 },
  );
});

// The straight-line IPv4 path (ipv4Fast) against the general parser (extractFrame), on IPv4 frames with
// every header byte that decides between them drawn at random: ethertype, version/IHL, fragment bits,
// protocol, total length, and the frame cut short anywhere. The keys must be equal word for word.
test('IPv4 fast path == general parser on random IPv4 headers and lengths', () => {
  const frame = fc.record({
    type: fc.constantFrom(0x0800, 0x0800, 0x8100, 0x86dd),
    vihl: fc.constantFrom(0x45, 0x45, 0x46, 0x44, 0x55),
    tos: fc.integer({ min: 0, max: 255 }),
    tot: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constant(50)),
    frag: fc.constantFrom(0, 0, 0x4000, 0x2000, 0x0001, 0x8000),
    ttl: fc.integer({ min: 0, max: 255 }),
    proto: fc.constantFrom(6, 17, 132, 1, 58, 47),
    rest: fc.uint8Array({ minLength: 40, maxLength: 40 }),
    len: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constant(80)),
    tunnel: fc.constantFrom(0, 4, 6),
    tun: fc.uint8Array({ minLength: 36, maxLength: 36 }),
  });
  let fastOnes = 0;
  fc.assert(
    fc.property(frame, (f) => {
      const b = new Uint8Array(80);
      b.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
      b.set(f.rest, 26);
      const dv = new DataView(b.buffer);
      dv.setUint16(12, f.type);
      b[14] = f.vihl;
      b[15] = f.tos;
      dv.setUint16(16, f.tot);
      dv.setUint16(20, f.frag);
      b[22] = f.ttl;
      b[23] = f.proto;
      const bytes = b.subarray(0, f.len);
      const p = packetOf(bytes);
      if (f.tunnel) {
        p.tunEncap = ENCAP_VXLAN;
        p.tunIpVersion = f.tunnel;
        p.tunIdLo = (f.tun[0]! << 16) | (f.tun[1]! << 8) | f.tun[2]!;
        p.tunSrc.set(f.tun.subarray(4, 20));
        p.tunDst.set(f.tun.subarray(20, 36));
      }
      const fast = K.newKey();
      const st = extractKey(p, fast);
      // Frames the fast path takes: 20-byte header, TCP / UDP / SCTP / ICMP, no fragment, all there.
      if (
        st === OK &&
        f.type === 0x0800 &&
        f.vihl === 0x45 &&
        (f.frag & 0x3fff) === 0 &&
        f.proto !== 58 &&
        f.proto !== 47
      )
        fastOnes++;
      const general = K.newKey();
      const q = packetOf(bytes);
      if (f.tunnel) {
        q.tunEncap = ENCAP_VXLAN;
        q.tunIpVersion = f.tunnel;
        q.tunIdLo = p.tunIdLo;
        q.tunSrc.set(p.tunSrc);
        q.tunDst.set(p.tunDst);
        q.end = q.start; // no frame: extractKey sets only in_port and the tunnel words
        extractKey(q, general);
      }
      general[K.IN_PORT] = 7;
      assert.equal(extractFrame(bytes, 0, bytes.length, general), st);
      assert.deepEqual(Array.from(fast), Array.from(general));
    }),
    { numRuns: 3000 },
  );
  assert.ok(fastOnes > 50, `${fastOnes} frames for the fast path`);
});

test('a reused key: extraction with `clean` (the last shape end) == extraction into a fresh key', () => {
  const v6nd = fromHex(
    `333300000001000000000001 86dd 6000000000203aff ${'fe80'.padEnd(32, '0')} ${'ff02'.padEnd(32, '0')} 87000000 00000000 ${'fe80'.padEnd(30, '0')}02 0101000000000001`,
  );
  const arp = fromHex(
    'ffffffffffff00000000000a08060001080006040001 00000000000a 0a000001 000000000000 0a000002',
  );
  const v4 = fromHex(
    '000000000002000000000001 0800 4500001c 00000000 4011 0000 01010101 02020202 0035 0050 0008 0000',
  );
  const reused = K.newKey();
  let clean = K.KEY_WORDS;
  for (const bytes of [v6nd, v4, arp, v4, v6nd, v6nd, v4]) {
    const p = packetOf(bytes);
    extractKey(p, reused, clean);
    const fresh = K.newKey();
    extractKey(packetOf(bytes), fresh);
    assert.deepEqual(Array.from(reused), Array.from(fresh));
    clean = shapeEnd(shapeOf(reused, 0));
  }
});
