// Whole-frame encapsulation for `nvo pcap encap`: inner frame in, complete outer frame out, with the
// header codecs of src/wire and every length and checksum computed in full (no templates, no
// incremental update: the datapath's encap does that; this one is the plain reference).
//
//   outer Ethernet (src/dst MAC from config, type 0x0800 / 0x86dd)
//   IPv4: ID from a per-encapsulator counter, TTL 64, DF set except for VXLAN-SOE (whose point is that
//         the outer IP layer fragments, draft-zhou-li-vxlan-soe-01 §3) | IPv6: hop limit 64, flow label 0
//   then, per encapsulation:
//     vxlan      UDP → dst 4789, VXLAN I + VNI (RFC 7348 §5)
//     vxlan-soe  UDP → 4789, S + MSS when the inner TCP/UDP payload exceeds the MSS, else plain VXLAN
//     vxlan-gpe  UDP → 4790, I|P, NP 3 (Ethernet) / 1 (IPv4) / 2 (IPv6) by the inner type
//     geneve     UDP → 6081, no options, Protocol Type 0x6558 / 0x0800 / 0x86dd
//     gre        GRE C|K, key = N (32 bits), Protocol Type as Geneve; checksum over GRE header + payload
//     nvgre      GRE K, type 0x6558, key = VSID N << 8 | FlowID (low 8 bits of the inner flow hash)
//     stt        TCP → 7471, SEQ = frame length << 16 (offset 0), ACK = frame id, ACK|PSH, window 65535
//                (as OVS), then the 18-byte STT header (flags 0, context N) and the inner frame
//   UDP source port: from the inner flow hash the way Linux udp_flow_src_port() maps it onto the default
//   ip_local_port_range 32768–60999: port = 32768 + ((h ^ h << 16) × (60999 − 32768) >> 32), so
//   32768..60998. STT's TCP source port uses the same mapping. UDP and TCP checksums are always computed
//   (Linux's default `udpcsum`, and required over IPv6).
// Returns the frame length, or a negative decap-reasons id (too-big, inner-unsupported).
import {
  ENCAP_GRE,
  ENCAP_NVGRE,
  ENCAP_STT,
  ENCAP_VXLAN,
  ENCAP_VXLAN_GPE,
  ENCAP_VXLAN_SOE,
} from '../packet/packet.ts';
import { setU16, setU32, u16 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as geneve from '../wire/geneve.ts';
import * as gre from '../wire/gre.ts';
import * as ipProto from '../wire/ip-proto.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { OK } from '../wire/status.ts';
import * as stt from '../wire/stt.ts';
import * as tcp from '../wire/tcp.ts';
import { GENEVE_PORT, STT_PORT, VXLAN_GPE_PORT, VXLAN_PORT } from '../wire/tunnel-ports.ts';
import * as udp from '../wire/udp.ts';
import * as vxlan from '../wire/vxlan.ts';
import * as gpe from '../wire/vxlan-gpe.ts';
import * as soe from '../wire/vxlan-soe.ts';
import * as R from './decap-reasons.ts';
import { innerFlowHash } from './flow-hash.ts';

export interface EncapConfig {
  encap: number;
  /** Tunnel id: STT context as hi/lo u32; VNI / GRE key / NVGRE VSID in idLo. */
  idHi: number;
  idLo: number;
  /** 4 or 6; addresses in the first 4 or all 16 bytes. */
  ipVersion: number;
  local: Uint8Array;
  remote: Uint8Array;
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  /** UDP/TCP destination port; 0 = the encapsulation's default. */
  dstPort: number;
  /** Largest outer IP packet (outer Ethernet not counted); 0 = only the 65535-byte IP limit. */
  mtu: number;
  /** VXLAN-SOE overlay MSS. */
  mss: number;
}

export const STT_HEADER_LEN = stt.HEADER_LEN;
const PORT_LOW = 32768;
const PORT_HIGH = 60999;

/** Linux udp_flow_src_port(): fold the hash, then scale onto [low, high). */
export function sourcePort(hash: number): number {
  const h = (hash ^ (hash << 16)) >>> 0;
  return PORT_LOW + Math.floor((h * (PORT_HIGH - PORT_LOW)) / 2 ** 32);
}

export class FrameEncap {
  readonly cfg: EncapConfig;
  private ipId = 0;
  private frameId = 0;
  // Tunnel header Reprs, made once and reused per frame (only the id and payload type change).
  private readonly vxlanRepr = vxlan.newRepr();
  private readonly soeRepr = soe.newRepr();
  private readonly gpeRepr = gpe.newRepr(); // I | P, version 0
  private readonly geneveRepr = geneve.newRepr(); // no options
  private readonly sttRepr = stt.newRepr(); // flags 0: inner checksums complete, no offload asked

  constructor(cfg: EncapConfig) {
    this.cfg = cfg;
  }

  /** Outer bytes in front of the inner frame. */
  overhead(): number {
    const c = this.cfg;
    const ip = c.ipVersion === 6 ? ipv6.HEADER_LEN : ipv4.HEADER_LEN;
    let t: number;
    if (c.encap === ENCAP_GRE) t = 12;
    else if (c.encap === ENCAP_NVGRE) t = 8;
    else if (c.encap === ENCAP_STT) t = tcp.HEADER_LEN + STT_HEADER_LEN;
    else t = udp.HEADER_LEN + 8;
    return ethernet.HEADER_LEN + ip + t;
  }

  /**
   * Encapsulates in[io, iend), an Ethernet frame (innerType TEB) or a bare IPv4/IPv6 packet, into
   * out at o (the caller provides overhead() + (iend − io) bytes). Returns the outer frame length or
   * −reason.
   */
  encap(inb: Uint8Array, io: number, iend: number, innerType: number, out: Uint8Array, o: number): number {
    const c = this.cfg;
    const isEth = innerType === etherType.TEB;
    const ethOnly =
      c.encap === ENCAP_VXLAN ||
      c.encap === ENCAP_VXLAN_SOE ||
      c.encap === ENCAP_NVGRE ||
      c.encap === ENCAP_STT;
    if (!isEth && ethOnly) return -R.INNER_UNSUPPORTED;
    if (isEth && ethernet.check(inb, io, iend) !== OK)
      return -R.layerReason(R.L_INNER, ethernet.check(inb, io, iend));
    const innerLen = iend - io;
    const hdr = this.overhead();
    const ipLen = hdr - ethernet.HEADER_LEN + innerLen;
    const limit = c.mtu > 0 ? Math.min(c.mtu, 65535) : 65535;
    // IPv6 Payload Length excludes the 40-byte header, so 65535 + 40 would fit, but keep one rule.
    if (ipLen > limit) return -R.TOO_BIG;
    if (c.encap === ENCAP_STT && STT_HEADER_LEN + innerLen > 0xffff) return -R.TOO_BIG;
    const hash = innerFlowHash(inb, io, iend, isEth);

    out.set(inb.subarray(io, iend), o + hdr);
    // Ethernet
    out.set(c.dstMac, o);
    out.set(c.srcMac, o + 6);
    setU16(out, o + 12, c.ipVersion === 6 ? etherType.IPV6 : etherType.IPV4);
    const l3 = o + ethernet.HEADER_LEN;
    const proto =
      c.encap === ENCAP_STT
        ? ipProto.TCP
        : c.encap === ENCAP_GRE || c.encap === ENCAP_NVGRE
          ? ipProto.GRE
          : ipProto.UDP;
    let l4: number;
    if (c.ipVersion === 6) {
      ipv6.setVersionClassFlow(out, l3, 0, 0);
      ipv6.setPayloadLen(out, l3, ipLen - ipv6.HEADER_LEN);
      ipv6.setNextHeader(out, l3, proto);
      ipv6.setHopLimit(out, l3, 64);
      out.set(c.local.subarray(0, 16), l3 + ipv6.SRC);
      out.set(c.remote.subarray(0, 16), l3 + ipv6.DST);
      l4 = l3 + ipv6.HEADER_LEN;
    } else {
      out[l3] = 0x45;
      out[l3 + 1] = 0;
      ipv4.setTotalLen(out, l3, ipLen);
      this.ipId = (this.ipId + 1) & 0xffff;
      ipv4.setIdent(out, l3, this.ipId);
      ipv4.setFrag(out, l3, c.encap !== ENCAP_VXLAN_SOE, false, 0);
      ipv4.setTtl(out, l3, 64);
      ipv4.setProtocol(out, l3, proto);
      out.set(c.local.subarray(0, 4), l3 + ipv4.SRC);
      out.set(c.remote.subarray(0, 4), l3 + ipv4.DST);
      ipv4.fillChecksum(out, l3);
      l4 = l3 + ipv4.HEADER_LEN;
    }
    const end = o + hdr + innerLen;
    const sport = sourcePort(hash);

    if (proto === ipProto.UDP) {
      const t = l4 + udp.HEADER_LEN;
      udp.setSrcPort(out, l4, sport);
      udp.setLength(out, l4, end - l4);
      if (c.encap === ENCAP_VXLAN) {
        udp.setDstPort(out, l4, c.dstPort || VXLAN_PORT);
        this.vxlanRepr.vni = c.idLo;
        vxlan.emit(this.vxlanRepr, out, t);
      } else if (c.encap === ENCAP_VXLAN_SOE) {
        udp.setDstPort(out, l4, c.dstPort || VXLAN_PORT);
        // S + MSS only when the inner payload needs cutting (draft -01 §3: S clear for frames that are
        // already small enough; then the header is plain VXLAN).
        const r = this.soeRepr;
        r.vni = c.idLo;
        r.soe = innerL4Payload(inb, io, iend) > c.mss;
        r.mss = c.mss;
        soe.emit(r, out, t);
      } else if (c.encap === ENCAP_VXLAN_GPE) {
        udp.setDstPort(out, l4, c.dstPort || VXLAN_GPE_PORT);
        const r = this.gpeRepr;
        r.vni = c.idLo;
        r.nextProto = isEth ? gpe.NP_ETHERNET : innerType === etherType.IPV4 ? gpe.NP_IPV4 : gpe.NP_IPV6;
        gpe.emit(r, out, t);
      } else {
        udp.setDstPort(out, l4, c.dstPort || GENEVE_PORT);
        const r = this.geneveRepr;
        r.vni = c.idLo;
        r.protocol = innerType;
        geneve.emit(r, out, t);
      }
      udp.fillChecksum(out, l3, l4);
    } else if (proto === ipProto.GRE) {
      if (c.encap === ENCAP_NVGRE) {
        setU16(out, l4, gre.FLAG_K);
        setU16(out, l4 + 2, etherType.TEB);
        setU32(out, l4 + 4, ((c.idLo << 8) | (hash & 0xff)) >>> 0);
      } else {
        setU16(out, l4, gre.FLAG_C | gre.FLAG_K);
        setU16(out, l4 + 2, innerType);
        setU32(out, l4 + 4, 0);
        setU32(out, l4 + 8, c.idLo >>> 0);
        gre.fillChecksum(out, l4, end);
      }
    } else {
      const t = l4 + tcp.HEADER_LEN;
      const frameLen = STT_HEADER_LEN + innerLen;
      this.frameId = (this.frameId + 1) >>> 0;
      tcp.setSrcPort(out, l4, sport);
      tcp.setDstPort(out, l4, c.dstPort || STT_PORT);
      tcp.setSeq(out, l4, (frameLen << 16) >>> 0);
      tcp.setAck(out, l4, this.frameId);
      out[l4 + tcp.OFFSET_FLAGS] = 5 << 4;
      out[l4 + tcp.OFFSET_FLAGS + 1] = tcp.ACK_FLAG | tcp.PSH;
      tcp.setWindow(out, l4, 0xffff);
      tcp.setUrgent(out, l4, 0);
      this.sttRepr.ctxHi = c.idHi >>> 0;
      this.sttRepr.ctxLo = c.idLo >>> 0;
      stt.emit(this.sttRepr, out, t);
      tcp.fillChecksum(out, l3, l4, end);
    }
    return end - o;
  }
}

/** TCP or UDP payload bytes of the inner frame (0 if it is neither, or unparseable). */
function innerL4Payload(b: Uint8Array, o: number, end: number): number {
  if (end - o < ethernet.HEADER_LEN) return 0;
  let type = u16(b, o + 12);
  let l3 = o + ethernet.HEADER_LEN;
  while (etherType.isVlanTpid(type) && end - l3 >= 4) {
    type = u16(b, l3 + 2);
    l3 += 4;
  }
  let proto: number;
  let l4: number;
  let l4End: number;
  if (type === etherType.IPV4 && ipv4.check(b, l3, end) === OK) {
    proto = ipv4.protocol(b, l3);
    l4 = ipv4.payloadOffset(b, l3);
    l4End = ipv4.payloadEnd(b, l3);
  } else if (type === etherType.IPV6 && ipv6.check(b, l3, end) === OK) {
    proto = ipv6.nextHeader(b, l3);
    l4 = l3 + ipv6.HEADER_LEN;
    l4End = ipv6.payloadEnd(b, l3);
  } else return 0;
  if (proto === ipProto.TCP && tcp.check(b, l4, l4End) === OK) return l4End - l4 - tcp.headerLen(b, l4);
  if (proto === ipProto.UDP && l4End - l4 >= udp.HEADER_LEN) return l4End - l4 - udp.HEADER_LEN;
  return 0;
}
