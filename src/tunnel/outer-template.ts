// Precomputed outer headers for encapsulation (VPP's rewrite strings): built once per (tunnel port,
// remote, key), copied into each packet's headroom, then patched in four places: lengths, the IPv4 ID
// and header checksum, the UDP source port, and (when enabled) the UDP checksum.
//
//   [Ethernet 14][IPv4 20 | IPv6 40][UDP 8][VXLAN/GPE 8 | Geneve 8+opts]      UDP encapsulations
//   [Ethernet 14][IPv4 20 | IPv6 40][GRE 4..16]                              GRE, NVGRE
//
// IPv4 header checksum per packet, without summing the header again (RFC 1071 §2(B): the sum is
// linear): the template's header is summed once with total length, ID and checksum set to zero, giving
// `base`; per packet, checksum = ~fold(base + totalLen + id). Two adds and a fold instead of ten.
import {
  ENCAP_GENEVE,
  ENCAP_GRE,
  ENCAP_NVGRE,
  ENCAP_VXLAN,
  ENCAP_VXLAN_GPE,
  ENCAP_VXLAN_SOE,
} from '../packet/packet.ts';
import { setU16 } from '../wire/bytes.ts';
import { fold, sum } from '../wire/checksum.ts';
import * as etherType from '../wire/ether-type.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as geneve from '../wire/geneve.ts';
import * as gre from '../wire/gre.ts';
import * as ipProto from '../wire/ip-proto.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import * as nvgre from '../wire/nvgre.ts';
import * as udp from '../wire/udp.ts';
import * as vxlan from '../wire/vxlan.ts';
import * as gpe from '../wire/vxlan-gpe.ts';

export interface OuterSpec {
  encap: number;
  /** 4 or 6; src and dst are 4 or 16 bytes to match. */
  ipVersion: number;
  src: Uint8Array;
  dst: Uint8Array;
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  /** UDP destination port (UDP encapsulations). */
  dstPort: number;
  /** VNI (24 bits), GRE key (32 bits), NVGRE VSID (24 bits) in idLo; STT's upper context word in idHi. */
  idHi: number;
  idLo: number;
  ttl: number;
  tos: number;
  df: boolean;
  /** Compute the outer UDP checksum (else 0; IPv6 always computes, RFC 8200 §8.1 / RFC 6935). */
  udpCsum: boolean;
  /** GRE checksum bit (RFC 2784 C). */
  greCsum: boolean;
  /** Geneve option TLV bytes (a multiple of 4). */
  geneveOptions?: Uint8Array;
}

export class OuterTemplate {
  readonly spec: OuterSpec;
  readonly bytes: Uint8Array;
  /** Offsets within `bytes`. */
  readonly l3: number;
  readonly l4: number;
  readonly tunnel: number;
  readonly len: number;
  readonly isUdp: boolean;
  /** Sum of the IPv4 header with total length, ID and checksum zero (unfolded). */
  readonly ipv4Base: number;
  /** Checksum the outer UDP / GRE header (IPv6 UDP always). */
  readonly l4Csum: boolean;

  constructor(spec: OuterSpec) {
    this.spec = spec;
    this.isUdp = spec.encap !== ENCAP_GRE && spec.encap !== ENCAP_NVGRE;
    const l3len = spec.ipVersion === 4 ? ipv4.HEADER_LEN : ipv6.HEADER_LEN;
    const tunLen = tunnelHeaderLen(spec);
    this.l3 = ethernet.HEADER_LEN;
    this.l4 = this.l3 + l3len;
    this.tunnel = this.l4 + (this.isUdp ? udp.HEADER_LEN : 0);
    this.len = this.tunnel + tunLen;
    this.l4Csum = this.isUdp ? spec.udpCsum || spec.ipVersion === 6 : spec.greCsum;
    const b = new Uint8Array(this.len);
    b.set(spec.dstMac, 0);
    b.set(spec.srcMac, 6);
    setU16(b, 12, spec.ipVersion === 4 ? etherType.IPV4 : etherType.IPV6);
    const proto = this.isUdp ? ipProto.UDP : ipProto.GRE;
    if (spec.ipVersion === 4) {
      const r = ipv4.newRepr();
      r.dscp = spec.tos >>> 2;
      r.ecn = spec.tos & 3;
      r.df = spec.df;
      r.ttl = spec.ttl;
      r.protocol = proto;
      r.src = ((spec.src[0]! << 24) | (spec.src[1]! << 16) | (spec.src[2]! << 8) | spec.src[3]!) >>> 0;
      r.dst = ((spec.dst[0]! << 24) | (spec.dst[1]! << 16) | (spec.dst[2]! << 8) | spec.dst[3]!) >>> 0;
      r.payloadLen = 0;
      ipv4.emit(r, b, this.l3);
      setU16(b, this.l3 + ipv4.TOTAL_LEN, 0);
      setU16(b, this.l3 + ipv4.IDENT, 0);
      setU16(b, this.l3 + ipv4.CHECKSUM, 0);
      this.ipv4Base = sum(b, this.l3, this.l3 + ipv4.HEADER_LEN);
    } else {
      const r = ipv6.newRepr();
      r.trafficClass = spec.tos;
      r.nextHeader = proto;
      r.hopLimit = spec.ttl;
      r.src.set(spec.src);
      r.dst.set(spec.dst);
      ipv6.emit(r, b, this.l3);
      this.ipv4Base = 0;
    }
    if (this.isUdp) {
      const u = udp.newRepr();
      u.dstPort = spec.dstPort;
      udp.emit(u, b, this.l4);
    }
    emitTunnelHeader(spec, b, this.tunnel);
    this.bytes = b;
  }
}

function tunnelHeaderLen(s: OuterSpec): number {
  switch (s.encap) {
    case ENCAP_VXLAN:
    case ENCAP_VXLAN_SOE:
      return vxlan.HEADER_LEN;
    case ENCAP_VXLAN_GPE:
      return gpe.HEADER_LEN;
    case ENCAP_GENEVE:
      return geneve.HEADER_LEN + (s.geneveOptions?.length ?? 0);
    case ENCAP_GRE:
      return gre.BASE_LEN + 4 + (s.greCsum ? 4 : 0);
    case ENCAP_NVGRE:
      return nvgre.HEADER_LEN;
    default:
      throw new Error(`no outer template for encapsulation ${s.encap}`);
  }
}

function emitTunnelHeader(s: OuterSpec, b: Uint8Array, o: number): void {
  switch (s.encap) {
    case ENCAP_VXLAN:
    case ENCAP_VXLAN_SOE: {
      // SOE's S bit and MSS are per packet (soe-tx patches them); the template is plain VXLAN.
      const r = vxlan.newRepr();
      r.vni = s.idLo & vxlan.VNI_MAX;
      vxlan.emit(r, b, o);
      return;
    }
    case ENCAP_VXLAN_GPE: {
      const r = gpe.newRepr();
      r.flags = gpe.FLAG_P;
      r.nextProto = gpe.NP_ETHERNET;
      r.vni = s.idLo & 0xffffff;
      gpe.emit(r, b, o);
      return;
    }
    case ENCAP_GENEVE: {
      const r = geneve.newRepr();
      r.protocol = geneve.PROTO_ETHERNET;
      r.vni = s.idLo & geneve.VNI_MAX;
      const opts = s.geneveOptions ?? new Uint8Array(0);
      r.optLen = opts.length;
      r.options.set(opts);
      geneve.emit(r, b, o);
      return;
    }
    case ENCAP_GRE: {
      const r = gre.newRepr();
      r.csumPresent = s.greCsum;
      r.keyPresent = true;
      r.protocol = gre.PROTO_TEB;
      r.key = s.idLo >>> 0;
      gre.emit(r, b, o);
      return;
    }
    case ENCAP_NVGRE: {
      const r = nvgre.newRepr();
      // tun_id is the VSID; the FlowID byte (RFC 7637 §3.2: per-flow entropy for ECMP) is patched per
      // packet by applyTemplate.
      r.vsid = s.idLo & 0xffffff;
      r.flowId = 0;
      nvgre.emit(r, b, o);
      return;
    }
  }
}

/**
 * Puts the template in front of the frame at p.start..p.end (the caller checked headroom), patches the
 * per-packet fields and returns the new start. `ident` is the IPv4 ID (ignored for IPv6), `srcPort` the
 * UDP source port (flow entropy, RFC 7348 §5).
 */
export function applyTemplate(
  t: OuterTemplate,
  b: Uint8Array,
  start: number,
  end: number,
  ident: number,
  srcPort: number,
): number {
  const o = start - t.len;
  b.set(t.bytes, o);
  const l3 = o + t.l3;
  const l4 = o + t.l4;
  const ipPayload = end - l4;
  if (t.spec.ipVersion === 4) {
    const total = end - l3;
    setU16(b, l3 + ipv4.TOTAL_LEN, total);
    setU16(b, l3 + ipv4.IDENT, ident);
    setU16(b, l3 + ipv4.CHECKSUM, ~fold(t.ipv4Base + total + ident) & 0xffff);
  } else {
    setU16(b, l3 + ipv6.PAYLOAD_LEN, ipPayload);
  }
  if (t.isUdp) {
    udp.setSrcPort(b, l4, srcPort);
    udp.setLength(b, l4, ipPayload);
    if (t.l4Csum) udp.fillChecksum(b, l3, l4);
  } else {
    if (t.spec.encap === ENCAP_NVGRE) b[o + t.tunnel + nvgre.HEADER_LEN - 1] = srcPort;
    if (t.l4Csum) gre.fillChecksum(b, l4, end);
  }
  return o;
}

/**
 * UDP source port from a flow hash, as Linux udp_flow_src_port() with the default range 32768–60999
 * (net.ipv4.ip_local_port_range): port = min + (hash * range) >> 32.
 */
export function sourcePort(hash: number): number {
  const min = 32768;
  const range = 61000 - 32768;
  return min + Math.floor(((hash >>> 0) * range) / 0x100000000);
}
