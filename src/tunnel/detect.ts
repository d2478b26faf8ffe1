// Which encapsulation a captured frame carries, found from its outer headers alone:
//
//   Ethernet [802.1Q/802.1ad tags ≤ 4], raw IP (link types 1, 101, 228, 229) or Linux cooked SLL/SLL2
//   (113, 276: what `tcpdump -i any` writes)
//     IPv4 (header checksum verified; fragments reported) | IPv6 (extension headers walked, ≤ 8)
//       UDP dst 4789 → VXLAN, or VXLAN-SOE when the S bit (byte 0, 0x80) is set
//       UDP dst 8472 → VXLAN (Linux's pre-IANA default port)
//       UDP dst 4790 → VXLAN-GPE          UDP dst 6081 → Geneve
//       TCP dst 7471 → STT                IP protocol 47 → GRE (NVGRE once the GRE header is read)
//
// Ports are matched on the destination only, as receivers do (RFC 7348 §5, RFC 8926 §3.3). The result
// is a reason id (decap-reasons.ts): OK with `out` filled, or why the frame is not a tunnel packet.
// Outer L4 checksums are verified only when asked: captures taken on a sending host carry partial
// checksums (checksum offload), and a capture tool should not drop those.
import {
  ENCAP_GENEVE,
  ENCAP_GRE,
  ENCAP_NONE,
  ENCAP_STT,
  ENCAP_VXLAN,
  ENCAP_VXLAN_GPE,
  ENCAP_VXLAN_SOE,
} from '../packet/packet.ts';
import { u16 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipProto from '../wire/ip-proto.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { BAD_CHECKSUM, OK, TOO_MANY, TRUNCATED } from '../wire/status.ts';
import * as tcp from '../wire/tcp.ts';
import { GENEVE_PORT, STT_PORT, VXLAN_GPE_PORT, VXLAN_LINUX_PORT, VXLAN_PORT } from '../wire/tunnel-ports.ts';
import * as udp from '../wire/udp.ts';
import * as vlan from '../wire/vlan.ts';
import * as vxlanSoe from '../wire/vxlan-soe.ts';
import * as R from './decap-reasons.ts';

/** More than vlan.MAX_TAGS (2, what OVS parses): captures from provider networks stack a few more. */
export const MAX_VLAN_TAGS = 4;
export const MAX_IPV6_EXT_HEADERS = 8;

export interface DetectOptions {
  /** Verify non-zero outer UDP / TCP (STT) / GRE checksums and drop on mismatch. */
  verifyChecksums: boolean;
}

/** Caller-owned and reused: offsets are absolute indexes into the frame's buffer. */
export interface Outer {
  encap: number;
  vlanTags: number;
  ipVersion: number;
  l3: number;
  l4: number;
  /** End of the outer IP payload (not the frame end: Ethernet pads short frames). */
  l4End: number;
  protocol: number;
  srcPort: number;
  dstPort: number;
  /** Offset of the tunnel header: UDP payload, TCP payload (STT) or the GRE header. */
  tunnel: number;
}

export function newOuter(): Outer {
  return {
    encap: ENCAP_NONE,
    vlanTags: 0,
    ipVersion: 0,
    l3: -1,
    l4: -1,
    l4End: -1,
    protocol: 0,
    srcPort: 0,
    dstPort: 0,
    tunnel: -1,
  };
}

/** Link types a capture may use for the outer frame. */
export const LT_ETHERNET = 1;
export const LT_RAW = 101;
export const LT_IPV4 = 228;
export const LT_IPV6 = 229;
export const LT_LINUX_SLL = 113;
export const LT_LINUX_SLL2 = 276;

export function detect(
  b: Uint8Array,
  o: number,
  end: number,
  linktype: number,
  opts: DetectOptions,
  out: Outer,
): number {
  out.encap = ENCAP_NONE;
  out.vlanTags = 0;
  out.l3 = out.l4 = out.l4End = out.tunnel = -1;
  out.srcPort = out.dstPort = out.protocol = 0;
  let type: number;
  let l3: number;
  if (linktype === LT_ETHERNET) {
    const st = ethernet.check(b, o, end);
    if (st !== OK) return R.layerReason(R.L_ETHERNET, st);
    type = ethernet.etherType(b, o);
    l3 = o + ethernet.HEADER_LEN;
    while (etherType.isVlanTpid(type)) {
      if (out.vlanTags === MAX_VLAN_TAGS) return R.layerReason(R.L_VLAN, TOO_MANY);
      const st = vlan.check(b, l3, end);
      if (st !== OK) return R.layerReason(R.L_VLAN, st);
      type = vlan.innerType(b, l3);
      l3 += vlan.HEADER_LEN;
      out.vlanTags++;
    }
  } else if (linktype === LT_LINUX_SLL || linktype === LT_LINUX_SLL2) {
    // `tcpdump -i any` captures. SLL (16 bytes): packet type, ARPHRD, address length, 8 address bytes,
    // protocol at 14. SLL2 (20 bytes): protocol at 0, then reserved, ifindex, ARPHRD, packet type,
    // address length, 8 address bytes (tcpdump.org/linktypes/LINKTYPE_LINUX_SLL{,2}.html).
    const hlen = linktype === LT_LINUX_SLL ? 16 : 20;
    if (end - o < hlen) return R.layerReason(R.L_ETHERNET, TRUNCATED);
    type = u16(b, linktype === LT_LINUX_SLL ? o + 14 : o);
    l3 = o + hlen;
  } else if (linktype === LT_RAW || linktype === LT_IPV4 || linktype === LT_IPV6) {
    if (end - o < 1) return R.layerReason(R.L_IPV4, TRUNCATED);
    type = b[o]! >>> 4 === 6 ? etherType.IPV6 : etherType.IPV4;
    l3 = o;
  } else return R.UNSUPPORTED_LINKTYPE;
  out.l3 = l3;

  let proto: number;
  let l4: number;
  let l4End: number;
  if (type === etherType.IPV4) {
    const st = ipv4.check(b, l3, end);
    if (st !== OK) return R.layerReason(R.L_IPV4, st);
    if (!ipv4.verifyChecksum(b, l3)) return R.layerReason(R.L_IPV4, BAD_CHECKSUM);
    out.ipVersion = 4;
    proto = ipv4.protocol(b, l3);
    if (!isTunnelProto(proto)) return R.NOT_ENCAPSULATED;
    if (ipv4.isFragment(b, l3)) return R.OUTER_FRAGMENT;
    l4 = ipv4.payloadOffset(b, l3);
    l4End = ipv4.payloadEnd(b, l3);
  } else if (type === etherType.IPV6) {
    const st = ipv6.check(b, l3, end);
    if (st !== OK) return R.layerReason(R.L_IPV6, st);
    out.ipVersion = 6;
    l4End = ipv6.payloadEnd(b, l3);
    proto = ipv6.nextHeader(b, l3);
    l4 = l3 + ipv6.HEADER_LEN;
    // RFC 8200 §4: walk the chain to the upper-layer header; a Fragment header means the tunnel packet
    // was fragmented (or is an atomic fragment, RFC 8021) and needs reassembly before we can look in.
    for (let n = 0; ; n++) {
      if (proto === ipProto.FRAGMENT) return R.OUTER_FRAGMENT;
      if (!ipProto.isGenericExtHeader(proto) && proto !== ipProto.AH) break;
      if (n === MAX_IPV6_EXT_HEADERS) return R.layerReason(R.L_IPV6, TOO_MANY);
      if (l4End - l4 < 8) return R.layerReason(R.L_IPV6, TRUNCATED);
      // generic: (Hdr Ext Len + 1) × 8 octets; AH (RFC 4302 §2.2): (Payload Len + 2) × 4 octets
      const len = proto === ipProto.AH ? (b[l4 + 1]! + 2) * 4 : (b[l4 + 1]! + 1) * 8;
      if (l4End - l4 < len) return R.layerReason(R.L_IPV6, TRUNCATED);
      proto = b[l4]!;
      l4 += len;
    }
    if (!isTunnelProto(proto)) return R.NOT_ENCAPSULATED;
  } else return R.NOT_ENCAPSULATED;
  out.protocol = proto;
  out.l4 = l4;
  out.l4End = l4End;

  if (proto === ipProto.UDP) {
    const st = udp.check(b, l4, l4End);
    if (st !== OK) return R.layerReason(R.L_UDP, st);
    const dport = udp.dstPort(b, l4);
    out.srcPort = udp.srcPort(b, l4);
    out.dstPort = dport;
    out.tunnel = l4 + udp.HEADER_LEN;
    // The UDP Length, not the IP length, ends the datagram (trailing bytes ignored, as Linux trims).
    out.l4End = l4 + udp.length(b, l4);
    if (dport === VXLAN_PORT) {
      out.encap = out.tunnel < out.l4End && vxlanSoe.soe(b, out.tunnel) ? ENCAP_VXLAN_SOE : ENCAP_VXLAN;
    } else if (dport === VXLAN_LINUX_PORT) out.encap = ENCAP_VXLAN;
    else if (dport === VXLAN_GPE_PORT) out.encap = ENCAP_VXLAN_GPE;
    else if (dport === GENEVE_PORT) out.encap = ENCAP_GENEVE;
    else return R.NOT_ENCAPSULATED;
    if (opts.verifyChecksums && udp.verifyChecksum(b, l3, l4) !== OK)
      return R.layerReason(R.L_UDP, BAD_CHECKSUM);
    return R.OK;
  }
  if (proto === ipProto.TCP) {
    const st = tcp.check(b, l4, l4End);
    if (st !== OK) return R.layerReason(R.L_TCP, st);
    if (tcp.dstPort(b, l4) !== STT_PORT) return R.NOT_ENCAPSULATED;
    out.srcPort = tcp.srcPort(b, l4);
    out.dstPort = STT_PORT;
    out.tunnel = l4 + tcp.headerLen(b, l4);
    out.encap = ENCAP_STT;
    if (opts.verifyChecksums && !tcp.verifyChecksum(b, l3, l4, l4End))
      return R.layerReason(R.L_TCP, BAD_CHECKSUM);
    return R.OK;
  }
  // GRE; the GRE header decides between plain GRE and NVGRE.
  out.tunnel = l4;
  out.encap = ENCAP_GRE;
  return R.OK;
}

const isTunnelProto = (p: number): boolean => p === ipProto.UDP || p === ipProto.TCP || p === ipProto.GRE;
