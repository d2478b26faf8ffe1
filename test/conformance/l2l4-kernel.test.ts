// The L2–L4 codecs of src/wire against real Linux traffic: test/vectors/kernel-l2l4.pcap (written by
// test/vectors/make-kernel-l2l4.sh: two namespaces, a veth pair, checksum offload off, tcpdump on the
// receiving end). Every frame is dissected by nvo (Ethernet → ARP / IPv4 / IPv6 + extension headers →
// TCP + options / UDP / ICMP / ICMPv6 + ND) and by tshark, and every field both produce must agree,
// checksum verdicts included (ours vs tshark's Good/Bad; tshark's "unverified" is skipped).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as arp from '../../src/wire/arp.ts';
import { formatIpv4, formatIpv6, formatMac, u32le } from '../../src/wire/bytes.ts';
import * as eth from '../../src/wire/ethernet.ts';
import * as icmp from '../../src/wire/icmpv4.ts';
import * as icmp6 from '../../src/wire/icmpv6.ts';
import * as ipProto from '../../src/wire/ip-proto.ts';
import * as ipv4 from '../../src/wire/ipv4.ts';
import * as ipv6 from '../../src/wire/ipv6.ts';
import * as ext from '../../src/wire/ipv6-ext.ts';
import { OK, statusName } from '../../src/wire/status.ts';
import * as tcp from '../../src/wire/tcp.ts';
import * as topt from '../../src/wire/tcp-options.ts';
import * as udp from '../../src/wire/udp.ts';
import * as vlan from '../../src/wire/vlan.ts';
import { fields, type Layers, needTshark, tshark } from '../harness/tools.ts';

const PCAP = new URL('../vectors/kernel-l2l4.pcap', import.meta.url);

/** Classic little-endian µs pcap → frames (the file is tcpdump's; nothing else is accepted). */
function readPcap(bytes: Uint8Array): Uint8Array[] {
  assert.equal(u32le(bytes, 0), 0xa1b2c3d4);
  const out: Uint8Array[] = [];
  for (let o = 24; o + 16 <= bytes.length; ) {
    const len = u32le(bytes, o + 8);
    out.push(bytes.slice(o + 16, o + 16 + len));
    o += 16 + len;
  }
  return out;
}

/** nvo's view of one frame: tshark field name → value as tshark prints it. */
type View = Map<string, string>;

const bit = (x: boolean) => (x ? '1' : '0');

function csumVerdict(v: View, key: string, ok: boolean) {
  v.set(key, ok ? '1' : '0');
}

function dissect(f: Uint8Array, kinds: Set<string>): View {
  const v: View = new Map();
  const st = vlan.newStack();
  assert.equal(vlan.parseStack(f, 0, f.length, st), OK);
  v.set('eth.dst', formatMac(f, eth.DST));
  v.set('eth.src', formatMac(f, eth.SRC));
  const l3 = st.offset;
  if (st.etherType === 0x0806) {
    const r = arp.newRepr();
    assert.equal(arp.parse(f, l3, f.length, r), OK);
    v.set('arp.opcode', String(r.op));
    v.set('arp.src.hw_mac', formatMac(r.sha, 0));
    v.set('arp.src.proto_ipv4', ipv4.addrText(r.spa));
    v.set('arp.dst.hw_mac', formatMac(r.tha, 0));
    v.set('arp.dst.proto_ipv4', ipv4.addrText(r.tpa));
    kinds.add('arp');
    return v;
  }
  let proto: number;
  let l4: number;
  let end: number;
  let first = true; // does this packet hold the L4 header?
  let whole = true; // is the L4 segment complete (not a fragment)?
  if (st.etherType === 0x0800) {
    const r = ipv4.newRepr();
    assert.equal(ipv4.parse(f, l3, f.length, r), OK);
    v.set('ip.src', formatIpv4(f, l3 + ipv4.SRC));
    v.set('ip.dst', formatIpv4(f, l3 + ipv4.DST));
    v.set('ip.ttl', String(r.ttl));
    v.set('ip.id', `0x${r.ident.toString(16).padStart(4, '0')}`);
    v.set('ip.len', String(ipv4.totalLen(f, l3)));
    v.set('ip.hdr_len', String(ipv4.headerLen(f, l3)));
    v.set('ip.flags.df', bit(r.df));
    v.set('ip.flags.mf', bit(r.mf));
    v.set('ip.frag_offset', String(r.fragOffset / 8));
    v.set('ip.proto', String(r.protocol));
    csumVerdict(v, 'ip.checksum.status', ipv4.verifyChecksum(f, l3));
    proto = r.protocol;
    l4 = ipv4.payloadOffset(f, l3);
    end = ipv4.payloadEnd(f, l3);
    first = r.fragOffset === 0;
    whole = !ipv4.isFragment(f, l3);
    if (!whole) kinds.add('ipv4-fragment');
  } else {
    assert.equal(st.etherType, 0x86dd);
    const r = ipv6.newRepr();
    assert.equal(ipv6.parse(f, l3, f.length, r), OK);
    v.set('ipv6.src', formatIpv6(f, l3 + ipv6.SRC));
    v.set('ipv6.dst', formatIpv6(f, l3 + ipv6.DST));
    v.set('ipv6.plen', String(r.payloadLen));
    v.set('ipv6.nxt', String(r.nextHeader));
    v.set('ipv6.hlim', String(r.hopLimit));
    v.set('ipv6.flow', `0x${r.flowLabel.toString(16).padStart(5, '0')}`);
    end = ipv6.payloadEnd(f, l3);
    const c = ext.newChain();
    assert.equal(ext.walk(f, l3, end, c), OK);
    if (c.hopByHop >= 0) kinds.add('ipv6-hop-by-hop');
    if (c.fragHeader >= 0) {
      kinds.add('ipv6-fragment');
      v.set('ipv6.fraghdr.offset', String(c.fragOffset / 8));
      v.set('ipv6.fraghdr.more', bit(c.fragMore));
      v.set('ipv6.fraghdr.ident', `0x${c.fragId.toString(16).padStart(8, '0')}`);
    }
    proto = c.proto;
    l4 = c.offset;
    first = c.fragOffset === 0;
    whole = c.fragHeader < 0;
  }
  if (!first) return v;
  if (proto === ipProto.TCP) {
    const r = tcp.newRepr();
    assert.equal(tcp.parse(f, l4, end, r), OK);
    v.set('tcp.srcport', String(r.srcPort));
    v.set('tcp.dstport', String(r.dstPort));
    v.set('tcp.seq_raw', String(r.seq));
    v.set('tcp.ack_raw', String(r.ack));
    v.set('tcp.hdr_len', String(tcp.headerLen(f, l4)));
    v.set('tcp.flags', `0x${((r.reserved << 9) | r.flags).toString(16).padStart(4, '0')}`);
    v.set('tcp.window_size_value', String(r.window));
    v.set('tcp.len', String(end - l4 - tcp.headerLen(f, l4)));
    csumVerdict(v, 'tcp.checksum.status', tcp.verifyChecksum(f, l3, l4, end));
    const o = topt.newRepr();
    assert.equal(topt.parse(f, l4 + 20, l4 + tcp.headerLen(f, l4), o), OK);
    if (o.mss >= 0) v.set('tcp.options.mss_val', String(o.mss));
    if (o.wscale >= 0) v.set('tcp.options.wscale.shift', String(o.wscale));
    if (o.hasTimestamp) {
      v.set('tcp.options.timestamp.tsval', String(o.tsVal));
      v.set('tcp.options.timestamp.tsecr', String(o.tsEcr));
    }
    if (r.flags & tcp.SYN) kinds.add('tcp-syn-options');
    kinds.add(`tcp-ipv${f[l3]! >>> 4}`);
  } else if (proto === ipProto.UDP) {
    const r = udp.newRepr();
    // A first fragment holds the UDP header but not the whole datagram: check against the datagram's
    // Length is impossible, so read the header fields directly.
    if (whole) assert.equal(udp.parse(f, l4, end, r), OK);
    v.set('udp.srcport', String(udp.srcPort(f, l4)));
    v.set('udp.dstport', String(udp.dstPort(f, l4)));
    v.set('udp.length', String(udp.length(f, l4)));
    if (whole) csumVerdict(v, 'udp.checksum.status', udp.verifyChecksum(f, l3, l4) === OK);
    kinds.add('udp');
  } else if (proto === ipProto.ICMP) {
    const r = icmp.newRepr();
    assert.equal(icmp.parse(f, l4, end, r), OK);
    v.set('icmp.type', String(r.type));
    v.set('icmp.code', String(r.code));
    csumVerdict(v, 'icmp.checksum.status', icmp.verifyChecksum(f, l4, end));
    if (r.type === icmp.ECHO_REQUEST || r.type === icmp.ECHO_REPLY) {
      v.set('icmp.ident', String(icmp.echoId(f, l4)));
      v.set('icmp.seq', String(icmp.echoSeq(f, l4)));
    }
    if (icmp.isError(r.type)) kinds.add('icmp-error');
  } else if (proto === ipProto.ICMPV6) {
    const r = icmp6.newRepr();
    const s = icmp6.parse(f, l4, end, r);
    assert.equal(s, OK, statusName(s));
    v.set('icmpv6.type', String(r.type));
    v.set('icmpv6.code', String(r.code));
    csumVerdict(v, 'icmpv6.checksum.status', icmp6.verifyChecksum(f, l3, l4, end));
    if (icmp6.optionsStart(r.type) >= 0) {
      assert.equal(icmp6.checkNd(f, l3, l4, end, r), OK, 'a kernel ND message fails RFC 4861 checks');
      if (icmp6.hasTarget(r.type))
        v.set(`icmpv6.nd.${r.type === 135 ? 'ns' : 'na'}.target_address`, formatIpv6(r.target, 0));
      if (r.hasSll) v.set('icmpv6.opt.src_linkaddr', formatMac(r.sll, 0));
      if (r.hasTll) v.set('icmpv6.opt.target_linkaddr', formatMac(r.tll, 0));
      kinds.add(`icmpv6-${icmp6.types.name(r.type)}`);
      if (r.type === 135 && f.subarray(l3 + 8, l3 + 24).every((x) => x === 0))
        kinds.add('ns-from-unspecified');
    }
    if (r.type === icmp6.ECHO_REQUEST || r.type === icmp6.ECHO_REPLY) {
      v.set('icmpv6.echo.identifier', `0x${icmp6.echoId(f, l4).toString(16).padStart(4, '0')}`);
      v.set('icmpv6.echo.sequence_number', String(icmp6.echoSeq(f, l4)));
    }
    if (icmp6.isError(r.type)) kinds.add('icmpv6-error');
  }
  return v;
}

/** The outermost layer object of a protocol (a repeated layer comes back as an array, outer first). */
function layer(l: Layers, name: string): unknown {
  const x = l[name];
  return Array.isArray(x) ? x[0] : x;
}

describe('L2–L4 codecs on a Linux kernel capture', { skip: needTshark() }, () => {
  it('every frame parses, and every field agrees with tshark', () => {
    const frames = readPcap(new Uint8Array(readFileSync(PCAP)));
    assert.ok(frames.length >= 50, `only ${frames.length} frames`);
    const ts = tshark(frames, {
      prefs: [
        'ip.check_checksum:TRUE',
        'tcp.check_checksum:TRUE',
        'udp.check_checksum:TRUE',
        'ip.defragment:FALSE',
        'ipv6.defragment:FALSE',
        'tcp.relative_sequence_numbers:FALSE',
        'tcp.analyze_sequence_numbers:FALSE',
      ],
    });
    const kinds = new Set<string>();
    let compared = 0;
    frames.forEach((f, i) => {
      const mine = dissect(f, kinds);
      for (const [k, want] of mine) {
        const proto = k.split('.')[0]!;
        const theirs = fields(
          layer(ts[i]!, proto === 'ipv6' && k.startsWith('ipv6.fraghdr') ? 'ipv6' : proto),
          k,
        )[0];
        // tshark's "2" = unverified (e.g. an ICMP error quoting a datagram it cannot check): no verdict.
        if (k.endsWith('checksum.status') && theirs === '2') continue;
        const num = (x: string | undefined) =>
          x !== undefined && /^(0x[0-9a-f]+|\d+)$/.test(x) ? Number(x) : x;
        assert.equal(num(want), num(theirs), `frame ${i + 1}: ${k} (nvo ${want}, tshark ${theirs})`);
        compared++;
      }
    });
    assert.ok(compared > 800, `compared only ${compared} fields`);
    for (const k of [
      'arp',
      'ipv4-fragment',
      'ipv6-fragment',
      'ipv6-hop-by-hop',
      'tcp-ipv4',
      'tcp-ipv6',
      'tcp-syn-options',
      'udp',
      'icmp-error',
      'icmpv6-error',
      'icmpv6-neighbor-solicitation',
      'icmpv6-neighbor-advertisement',
      'icmpv6-router-solicitation',
      'ns-from-unspecified',
    ])
      assert.ok(kinds.has(k), `the capture has no ${k}`);
  });
});
