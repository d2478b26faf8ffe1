// A packet-in record as `ovs-ofctl -O OpenFlow13 monitor` prints an OFPT_PACKET_IN, on one line:
//
//   OFPT_PACKET_IN (OF1.3) (xid=0x0): table_id=1 cookie=0x5 total_len=98 tun_id=0x2a,tun_src=10.0.0.2,
//   tun_dst=10.0.0.1,in_port=3 (via action) data_len=98 (unbuffered) icmp,vlan_tci=0x0000,dl_src=…
//
// (ovs-ofctl puts the frame summary on a second line; here it follows a space, one record a line.)
// The frame summary is OVS's flow_format of the extracted packet: protocol name, VLAN, MACs, L3
// fields, L4 ports / ICMP type and code / ND fields, then the L4 checksum. test/control/packet-in.test.ts
// checks every line against `ovs-ofctl ofp-print` of the same message (src/openflow/packet-in.ts).
// Control-plane code: it allocates strings freely.
import { formatIpv4, formatIpv6, formatMac, u16, u32 } from '../wire/bytes.ts';
import type { PacketInJson } from './packet-in-feed.ts';

export function formatPacketIn(j: PacketInJson): string {
  const data = hexBytes(j.data);
  let s = 'OFPT_PACKET_IN (OF1.3) (xid=0x0): ';
  if (j.tableId !== 0) s += `table_id=${j.tableId} `;
  s += `cookie=${j.cookie} total_len=${j.totalLen} `;
  if (j.tunnel) {
    const p = j.tunnel.ipv6 ? 'tun_ipv6_' : 'tun_';
    s += `tun_id=${j.tunnel.id},${p}src=${j.tunnel.src},${p}dst=${j.tunnel.dst},`;
  }
  s += `in_port=${j.inPort} (via ${j.reason}) data_len=${data.length} (unbuffered)`;
  if (data.length !== j.totalLen) s += ' (***total_len != data_len***)';
  return `${s} ${formatFrame(data)}`;
}

function hexBytes(h: string): Uint8Array {
  const b = new Uint8Array(h.length >>> 1);
  for (let i = 0; i < b.length; i++) b[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return b;
}

const TCP_FLAGS = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr', 'ns'];

/** OVS flow_format of the frame's extracted flow (Ethernet, one 802.1Q tag, ARP, IPv4, IPv6). */
export function formatFrame(b: Uint8Array): string {
  if (b.length < 14) return `(frame of ${b.length} bytes)`;
  let type = u16(b, 12);
  let o = 14;
  let vlan = 'vlan_tci=0x0000';
  if (type === 0x8100 && b.length >= 18) {
    const tci = u16(b, 14);
    vlan = `dl_vlan=${tci & 0xfff},dl_vlan_pcp=${tci >>> 13},vlan_tci1=0x0000`;
    type = u16(b, 16);
    o = 18;
  }
  const l2 = `${vlan},dl_src=${formatMac(b, 6)},dl_dst=${formatMac(b, 0)}`;
  if (type === 0x0806 && b.length >= o + 28)
    return `arp,${l2},arp_spa=${formatIpv4(b, o + 14)},arp_tpa=${formatIpv4(b, o + 24)},arp_op=${u16(b, o + 6)},arp_sha=${formatMac(b, o + 8)},arp_tha=${formatMac(b, o + 18)}`;
  if (type === 0x0800) return ipv4(b, o, l2);
  if (type === 0x86dd) return ipv6(b, o, l2);
  return `${l2},dl_type=0x${type.toString(16).padStart(4, '0')}`;
}

function ipv4(b: Uint8Array, o: number, l2: string): string {
  const ihl = ((b[o] ?? 0) & 15) * 4;
  const len = b.length - o >= 20 ? u16(b, o + 2) : 0;
  if (b.length - o < 20 || b[o]! >>> 4 !== 4 || ihl < 20 || len < ihl || len > b.length - o)
    return `ip,${l2},nw_src=0.0.0.0,nw_dst=0.0.0.0,nw_proto=0,nw_tos=0,nw_ecn=0,nw_ttl=0,nw_frag=no`;
  const proto = b[o + 9]!;
  const fragOff = u16(b, o + 6) & 0x1fff;
  const mf = (b[o + 6]! & 0x20) !== 0;
  const frag = fragOff !== 0 ? 'later' : mf ? 'first' : 'no';
  const l3 = `nw_src=${formatIpv4(b, o + 12)},nw_dst=${formatIpv4(b, o + 16)}`;
  const tos = `nw_tos=${b[o + 1]! & 0xfc},nw_ecn=${b[o + 1]! & 3},nw_ttl=${b[o + 8]},nw_frag=${frag}`;
  return l4(b, o + ihl, o + len, proto, fragOff !== 0, false, l2, l3, tos);
}

function ipv6(b: Uint8Array, o: number, l2: string): string {
  const plen = b.length - o >= 40 ? u16(b, o + 4) : 0;
  if (b.length - o < 40 || b[o]! >>> 4 !== 6 || plen > b.length - o - 40)
    return `ipv6,${l2},ipv6_src=::,ipv6_dst=::,ipv6_label=0x00000,nw_proto=0,nw_tos=0,nw_ecn=0,nw_ttl=0,nw_frag=no`;
  const tc = ((b[o]! & 15) << 4) | (b[o + 1]! >>> 4);
  const label = u32(b, o) & 0xfffff;
  const l3 = `ipv6_src=${formatIpv6(b, o + 8)},ipv6_dst=${formatIpv6(b, o + 24)},ipv6_label=0x${label.toString(16).padStart(5, '0')}`;
  const tos = `nw_tos=${tc & 0xfc},nw_ecn=${tc & 3},nw_ttl=${b[o + 7]},nw_frag=no`;
  return l4(b, o + 40, o + 40 + plen, b[o + 6]!, false, true, l2, l3, tos);
}

function l4(
  b: Uint8Array,
  o: number,
  end: number,
  proto: number,
  later: boolean,
  v6: boolean,
  l2: string,
  l3: string,
  tos: string,
): string {
  const six = v6 ? '6' : '';
  const name =
    proto === 6 ? `tcp${six}` : proto === 17 ? `udp${six}` : proto === (v6 ? 58 : 1) ? `icmp${six}` : '';
  if (name === '') return `${v6 ? 'ipv6' : 'ip'},${l2},${l3},nw_proto=${proto},${tos}`;
  const head = `${name},${l2},${l3},${tos}`;
  // OVS prints the L4 checksum wherever the L4 header would be, even in a later fragment.
  const sum = csum(b, o, end, proto, v6);
  if (later) return `${head}${sum}`;
  if (proto === 6 && end - o >= 20)
    return `${head},tp_src=${u16(b, o)},tp_dst=${u16(b, o + 2)},tcp_flags=${tcpFlags(u16(b, o + 12) & 0x1ff)}${sum}`;
  if (proto === 17 && end - o >= 8) return `${head},tp_src=${u16(b, o)},tp_dst=${u16(b, o + 2)}${sum}`;
  if (proto !== 6 && proto !== 17 && end - o >= 4) {
    const t = b[o]!;
    let s = `${head},icmp_type=${t},icmp_code=${b[o + 1]}`;
    if (v6 && (t === 135 || t === 136) && end - o >= 24) {
      const sll = ndOption(b, o + 24, end, 1);
      const tll = ndOption(b, o + 24, end, 2);
      s += `,nd_target=${formatIpv6(b, o + 8)},nd_sll=${sll},nd_tll=${tll}`;
    }
    return `${s}${sum}`;
  }
  return head;
}

/** " tcp_csum:…" etc. when the L4 region holds that header (OVS ofp_packet_to_string's size checks). */
function csum(b: Uint8Array, o: number, end: number, proto: number, v6: boolean): string {
  const n = end - o;
  if (proto === 6 && n >= 20) return ` tcp_csum:${u16(b, o + 16).toString(16)}`;
  if (proto === 17 && n >= 8) return ` udp_csum:${u16(b, o + 6).toString(16)}`;
  if (!v6 && proto === 1 && n >= 8) return ` icmp_csum:${u16(b, o + 2).toString(16)}`;
  if (v6 && proto === 58 && n >= 4) return ` icmp6_csum:${u16(b, o + 2).toString(16)}`;
  return '';
}

function tcpFlags(f: number): string {
  if (f === 0) return '0';
  const names: string[] = [];
  for (let i = 0; i < TCP_FLAGS.length; i++) if ((f & (1 << i)) !== 0) names.push(TCP_FLAGS[i]!);
  return names.join('|');
}

function ndOption(b: Uint8Array, o: number, end: number, kind: number): string {
  for (let i = o; i + 8 <= end && b[i + 1]! > 0; i += b[i + 1]! * 8)
    if (b[i] === kind && b[i + 1] === 1) return formatMac(b, i + 2);
  return '00:00:00:00:00:00';
}
