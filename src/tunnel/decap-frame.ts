// Whole-frame decapsulation for `nvo pcap decap`: detect the encapsulation (detect.ts), validate the
// tunnel header with its codec, and say where the inner frame is and what it is. No copying: the
// result is offsets into the caller's buffer. The datapath's decap (header templates, tunnel table,
// reassembly) is a separate, faster thing; this one favours clarity and complete drop accounting.
//
//   encap       tunnel header              inner payload                    tunnel id
//   VXLAN       8 B, I set (RFC 7348 §5)   Ethernet                         VNI (24)
//   VXLAN-SOE   8 B, S set, MSS ≠ 0        Ethernet (one unsegmented frame)  VNI
//   VXLAN-GPE   8 B, Ver 0, I set          NP 3 Ethernet, 1 IPv4, 2 IPv6     VNI
//   Geneve      8 B + options (skipped)    Protocol Type: 0x6558 Ethernet, 0x0800, 0x86dd   VNI
//   GRE         4..16 B (RFC 2784/2890)    Protocol Type: 0x6558, 0x0800, 0x86dd   Key (32) or 0
//   NVGRE       GRE K only, 0x6558         Ethernet                         VSID(24)|FlowID(8) = Key
//   STT         18 B after the TCP header  Ethernet; whole frames (offset 0, full length): segments are
//                                          STT_SEGMENT, for frame-decapper.ts to reassemble
//
// Inner IP (GPE NP 1/2, Geneve/GRE with an IP protocol type) is reported with innerType IPv4/IPv6; the
// CLI puts an all-zero Ethernet header in front so the output stays one link type (Ethernet).
// A Geneve critical option is not a drop here: this is a capture tool, not the tunnel endpoint
// (RFC 8926 §3.5 binds endpoints), so options are skipped and counted nowhere.
import {
  ENCAP_GENEVE,
  ENCAP_GRE,
  ENCAP_NVGRE,
  ENCAP_STT,
  ENCAP_VXLAN,
  ENCAP_VXLAN_GPE,
  ENCAP_VXLAN_SOE,
} from '../packet/packet.ts';
import { u32 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as gre from '../wire/gre.ts';
import { BAD_CHECKSUM, BAD_LENGTH, OK, TRUNCATED, UNSUPPORTED } from '../wire/status.ts';
import * as stt from '../wire/stt.ts';
import * as sttTcp from '../wire/stt-tcp.ts';
import * as R from './decap-reasons.ts';
import { type DetectOptions, detect, newOuter, type Outer } from './detect.ts';
import { udpTunnelHeader } from './udp-tunnel-header.ts';

export interface Decap extends Outer {
  /** Inner payload [inner, innerEnd). */
  inner: number;
  innerEnd: number;
  /** etherType.TEB for an Ethernet frame, IPV4 / IPV6 for a bare IP packet. */
  innerType: number;
  /** Tunnel id: STT's 64-bit context as hi/lo; VNI, GRE key or NVGRE VSID|FlowID in idLo. */
  idHi: number;
  idLo: number;
  /** VXLAN-SOE MSS (0 otherwise). */
  mss: number;
}

export function newDecap(): Decap {
  return { ...newOuter(), inner: -1, innerEnd: -1, innerType: 0, idHi: 0, idLo: 0, mss: 0 };
}

export function decapFrame(
  b: Uint8Array,
  o: number,
  end: number,
  linktype: number,
  opts: DetectOptions,
  out: Decap,
): number {
  out.inner = out.innerEnd = -1;
  out.innerType = 0;
  out.idHi = out.idLo = out.mss = 0;
  const r = detect(b, o, end, linktype, opts, out);
  if (r !== R.OK) return r;
  const t = out.tunnel;
  const tEnd = out.l4End;
  out.innerEnd = tEnd;
  out.innerType = etherType.TEB;
  switch (out.encap) {
    case ENCAP_VXLAN:
    case ENCAP_VXLAN_SOE:
    case ENCAP_VXLAN_GPE:
    case ENCAP_GENEVE: {
      const rr = udpTunnelHeader(b, t, tEnd, out);
      if (rr !== R.OK) return rr;
      break;
    }
    case ENCAP_GRE: {
      const rr = decapGre(b, t, tEnd, opts, out);
      if (rr !== R.OK) return rr;
      break;
    }
    case ENCAP_STT: {
      const rr = decapStt(b, t, tEnd, out);
      if (rr !== R.OK) return rr;
      break;
    }
    default:
      return R.NOT_ENCAPSULATED;
  }
  if (out.innerType === etherType.TEB && ethernet.check(b, out.inner, out.innerEnd) !== OK)
    return R.layerReason(R.L_INNER, TRUNCATED);
  if (out.innerType !== etherType.TEB && out.innerEnd - out.inner < 1)
    return R.layerReason(R.L_INNER, TRUNCATED);
  return R.OK;
}

// ---- GRE (gre.ts: RFC 2784 + RFC 2890) and NVGRE (RFC 7637 §3.2: the K-only form, type 0x6558) ----
// The GRE checksum (C) is verified only with verifyChecksums, like the outer UDP/TCP ones.
function decapGre(b: Uint8Array, t: number, end: number, opts: DetectOptions, out: Decap): number {
  const st = gre.checkHeader(b, t, end);
  if (st !== OK) return R.layerReason(R.L_GRE, st);
  const w = gre.flagsWord(b, t);
  const proto = gre.protocol(b, t);
  if (proto !== etherType.TEB && proto !== etherType.IPV4 && proto !== etherType.IPV6)
    return R.layerReason(R.L_GRE, UNSUPPORTED);
  if (opts.verifyChecksums && w & gre.FLAG_C && !gre.checksumOk(b, t, end))
    return R.layerReason(R.L_GRE, BAD_CHECKSUM);
  out.idLo = w & gre.FLAG_K ? u32(b, t + gre.keyOffset(w)) : 0;
  const kOnly = (w & (gre.FLAG_C | gre.FLAG_K | gre.FLAG_S)) === gre.FLAG_K;
  out.encap = kOnly && proto === etherType.TEB ? ENCAP_NVGRE : ENCAP_GRE;
  out.innerType = proto;
  out.inner = t + gre.lengthOf(w);
  return R.OK;
}

// ---- STT (stt-tcp.ts: the TCP-like header; stt.ts: the 18-byte frame header) ----
// SEQ carries frame length << 16 | offset of this segment, so a whole frame in one segment has offset 0
// and a length equal to the TCP payload. The STT header is judged by stt.ts (version, C+P, L4 offset).

function decapStt(b: Uint8Array, t: number, end: number, out: Decap): number {
  const l4 = out.l4;
  const frameLen = sttTcp.frameLen(b, l4);
  const offset = sttTcp.fragOffset(b, l4);
  const segLen = end - t;
  if (offset !== 0 || frameLen !== segLen) {
    if (frameLen === 0 || offset + segLen > frameLen) return R.layerReason(R.L_STT, BAD_LENGTH);
    return R.STT_SEGMENT;
  }
  return sttFrame(b, t, end, out);
}

/** A complete STT frame [t, end) (one segment, or the output of STT reassembly): header, then inner. */
export function sttFrame(b: Uint8Array, t: number, end: number, out: Decap): number {
  const st = stt.check(b, t, end);
  if (st !== OK) return R.layerReason(R.L_STT, st);
  out.encap = ENCAP_STT;
  out.idHi = stt.contextHi(b, t);
  out.idLo = stt.contextLo(b, t);
  out.mss = stt.mss(b, t);
  out.inner = t + stt.HEADER_LEN;
  out.innerEnd = end;
  out.innerType = etherType.TEB;
  if (ethernet.check(b, out.inner, end) !== OK) return R.layerReason(R.L_INNER, TRUNCATED);
  return R.OK;
}
