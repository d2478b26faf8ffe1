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
import { sum } from '../wire/checksum.ts';
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
  /** IPv4 outer header (else IPv6). */
  readonly ipv4: boolean;
  /** NVGRE: the FlowID byte takes the flow entropy. */
  readonly nvgre: boolean;
  /** Sum of the IPv4 header with total length, ID and checksum zero (unfolded). */
  readonly ipv4Base: number;
  /** Checksum the outer UDP / GRE header (IPv6 UDP always). */
  readonly l4Csum: boolean;
  /**
   * The 50-byte layout [Ethernet][IPv4][UDP][8-byte tunnel header] (VXLAN, GPE, Geneve without options)
   * as twelve big-endian words and the last two bytes, with every per-packet field zero: applyTemplate
   * writes it through the packet's DataView with those fields merged in (null for other layouts).
   */
  readonly udp4Words: Int32Array | null;
  readonly udp4Tail: number;

  constructor(spec: OuterSpec) {
    this.spec = spec;
    this.isUdp = spec.encap !== ENCAP_GRE && spec.encap !== ENCAP_NVGRE;
    this.ipv4 = spec.ipVersion === 4;
    this.nvgre = spec.encap === ENCAP_NVGRE;
    const l3len = spec.ipVersion === 4 ? ipv4.HEADER_LEN : ipv6.HEADER_LEN;
    const tunLen = tunnelHeaderLen(spec);
    this.l3 = ethernet.HEADER_LEN;
    this.l4 = this.l3 + l3len;
    this.tunnel = this.l4 + (this.isUdp ? udp.HEADER_LEN : 0);
    this.len = this.tunnel + tunLen;
    // NVGRE has no checksum field (RFC 7637 §3.2: C is 0); a GRE checksum written there overwrote the
    // VSID when csum was set on an NVGRE port.
    this.l4Csum = this.isUdp ? spec.udpCsum || spec.ipVersion === 6 : spec.greCsum && !this.nvgre;
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
    if (this.ipv4 && this.isUdp && this.len === UDP4_LEN) {
      const dv = new DataView(b.buffer);
      const w = new Int32Array(12);
      for (let i = 0; i < 12; i++) w[i] = dv.getInt32(4 * i);
      // Per-packet halves cleared (udp.emit wrote Length 8): the IPv4 total length and ID (word 4), the
      // IPv4 checksum (high half of word 6), the UDP source port and length (low halves of 8 and 9).
      w[4] = 0;
      w[6]! &= 0xffff;
      w[8]! &= ~0xffff;
      w[9]! &= ~0xffff;
      this.udp4Words = w;
      this.udp4Tail = dv.getUint16(48);
    } else {
      this.udp4Words = null;
      this.udp4Tail = 0;
    }
  }
}

/** 14 + 20 + 8 + 8: Ethernet, IPv4, UDP and an 8-byte tunnel header. */
const UDP4_LEN = 50;

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
  v: DataView,
  start: number,
  end: number,
  ident: number,
  srcPort: number,
): number {
  if (t.udp4Words !== null) return applyUdp4(t, t.udp4Words, b, v, start, end, ident, srcPort);
  const o = start - t.len;
  // One memmove of the whole template (~10 ns for 50 B here; a byte loop took ~27 ns), then byte stores
  // of the per-packet fields from flat fields (no `spec` reads, no fold call): 25 → 15 ns per call.
  b.set(t.bytes, o);
  const l3 = o + t.l3;
  const l4 = o + t.l4;
  const ipPayload = end - l4;
  if (t.ipv4) {
    const total = end - l3;
    b[l3 + ipv4.TOTAL_LEN] = total >>> 8;
    b[l3 + ipv4.TOTAL_LEN + 1] = total;
    b[l3 + ipv4.IDENT] = ident >>> 8;
    b[l3 + ipv4.IDENT + 1] = ident;
    const s = ipv4Checksum(t, total, ident);
    b[l3 + ipv4.CHECKSUM] = s >>> 8;
    b[l3 + ipv4.CHECKSUM + 1] = s;
  } else {
    setU16(b, l3 + ipv6.PAYLOAD_LEN, ipPayload);
  }
  if (t.isUdp) {
    b[l4] = srcPort >>> 8;
    b[l4 + 1] = srcPort;
    b[l4 + 4] = ipPayload >>> 8;
    b[l4 + 5] = ipPayload;
    if (t.l4Csum) udp.fillChecksum(b, l3, l4);
  } else {
    if (t.nvgre) b[o + t.tunnel + nvgre.HEADER_LEN - 1] = srcPort;
    if (t.l4Csum) gre.fillChecksum(b, l4, end);
  }
  return o;
}

/**
 * applyTemplate for the 50-byte IPv4/UDP layout: thirteen stores through the packet's DataView, the
 * per-packet fields merged into their words (13 vs 15 ns a call here, against memmove + byte patches).
 * `v` views the same bytes as `b`; start ≥ 50 (the caller checked headroom), so no store can throw.
 */
function applyUdp4(
  t: OuterTemplate,
  w: Int32Array,
  b: Uint8Array,
  v: DataView,
  start: number,
  end: number,
  ident: number,
  srcPort: number,
): number {
  const o = start - UDP4_LEN;
  const total = end - o - 14;
  const s = ipv4Checksum(t, total, ident);
  v.setInt32(o, w[0]!);
  v.setInt32(o + 4, w[1]!);
  v.setInt32(o + 8, w[2]!);
  v.setInt32(o + 12, w[3]!);
  v.setInt32(o + 16, (total << 16) | ident);
  v.setInt32(o + 20, w[5]!);
  v.setInt32(o + 24, (s << 16) | w[6]!);
  v.setInt32(o + 28, w[7]!);
  v.setInt32(o + 32, w[8]! | srcPort);
  v.setInt32(o + 36, w[9]! | (total - 20));
  v.setInt32(o + 40, w[10]!);
  v.setInt32(o + 44, w[11]!);
  v.setUint16(o + 48, t.udp4Tail);
  if (t.l4Csum) udp.fillChecksum(b, o + 14, o + 34);
  return o;
}

/**
 * The outer IPv4 header checksum for a packet: ~(base + total length + ID) folded (RFC 1071). base ≤
 * 7 × 0xffff (three of the ten words are zero) and total, ident ≤ 0xffff, so s < 2^20 and two end-around
 * folds bring it to 16 bits (≤ 0xf + 0xffff after the first, ≤ 0xffff after the second).
 */
function ipv4Checksum(t: OuterTemplate, total: number, ident: number): number {
  let s = t.ipv4Base + total + ident;
  s = (s >>> 16) + (s & 0xffff);
  return ~((s >>> 16) + (s & 0xffff)) & 0xffff;
}

/**
 * UDP source port from a flow hash, as Linux udp_flow_src_port() with the default range 32768–60999
 * (net.ipv4.ip_local_port_range): port = min + (hash * range) >> 32.
 */
export function sourcePort(hash: number): number {
  // (h × range) >> 32 in 32-bit integer steps, h = hi·2^16 + lo: floor((hi·range + lo·range/2^16) / 2^16)
  // = (hi·range + ((lo·range) >>> 16)) >>> 16, exact because hi·range is an integer; every term stays
  // below 2^16 × 28,232 < 2^31. (The float form, Math.floor(h × range / 2^32), cost a few ns more.)
  const h = hash >>> 0;
  return PORT_MIN + (((h >>> 16) * PORT_RANGE + (((h & 0xffff) * PORT_RANGE) >>> 16)) >>> 16);
}

const PORT_MIN = 32768;
const PORT_RANGE = 61000 - 32768;
