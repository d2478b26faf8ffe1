// The UDP tunnel headers (what follows the outer UDP header), judged the same way wherever they come
// from: a whole captured frame (decap-frame.ts) or a datagram a UDP socket handed over
// (payload-decap.ts). One function, so both paths accept and refuse the same bytes.
//
//   encap       header (RFC / draft)                 inner (innerType)                    id
//   VXLAN       8 B, I set (RFC 7348 §5)             Ethernet                             VNI
//   VXLAN-SOE   8 B, S set, MSS ≠ 0 (-01 §3)         Ethernet, one unsegmented frame      VNI
//   VXLAN-GPE   8 B, Ver 0, I set (draft §3.2)       NP 3 Ethernet, 1 IPv4, 2 IPv6        VNI
//   Geneve      8 B + options, skipped (RFC 8926 §3) 0x6558 Ethernet, 0x0800, 0x86dd      VNI
// A VXLAN port's datagram with the S bit set is VXLAN-SOE (the two share port 4789).
import { ENCAP_GENEVE, ENCAP_VXLAN, ENCAP_VXLAN_GPE, ENCAP_VXLAN_SOE } from '../packet/packet.ts';
import * as etherType from '../wire/ether-type.ts';
import * as geneve from '../wire/geneve.ts';
import { OK, UNSUPPORTED } from '../wire/status.ts';
import * as vxlan from '../wire/vxlan.ts';
import * as gpe from '../wire/vxlan-gpe.ts';
import * as soe from '../wire/vxlan-soe.ts';
import * as R from './decap-reasons.ts';

export interface UdpTunnelHeader {
  /** In: the port's encapsulation. Out: what the header says (VXLAN → VXLAN-SOE when S is set). */
  encap: number;
  /** Where the inner payload starts. */
  inner: number;
  /** etherType.TEB for Ethernet, IPV4 / IPV6 for bare IP. */
  innerType: number;
  /** The VNI. */
  idLo: number;
  /** VXLAN-SOE: the MSS the inner frame is to be cut to (0 otherwise). */
  mss: number;
}

const geneveRepr = geneve.newRepr();

/**
 * Reads the tunnel header at b[t..end) of a datagram of encapsulation `out.encap`. Returns R.OK or a
 * decap reason; R.NOT_ENCAPSULATED when out.encap is not a UDP encapsulation.
 */
export function udpTunnelHeader(b: Uint8Array, t: number, end: number, out: UdpTunnelHeader): number {
  out.innerType = etherType.TEB;
  out.mss = 0;
  let st: number;
  switch (out.encap) {
    case ENCAP_VXLAN:
    case ENCAP_VXLAN_SOE:
      if (end - t >= soe.HEADER_LEN && soe.soe(b, t)) {
        st = soe.check(b, t, end);
        if (st !== OK) return R.layerReason(R.L_VXLAN_SOE, st);
        out.encap = ENCAP_VXLAN_SOE;
        out.mss = soe.mss(b, t);
      } else {
        st = vxlan.check(b, t, end);
        if (st !== OK) return R.layerReason(R.L_VXLAN, st);
        out.encap = ENCAP_VXLAN;
      }
      out.idLo = vxlan.vni(b, t);
      out.inner = t + vxlan.HEADER_LEN;
      return R.OK;
    case ENCAP_VXLAN_GPE: {
      st = gpe.check(b, t, end);
      if (st !== OK) return R.layerReason(R.L_VXLAN_GPE, st);
      // P clear: the payload is Ethernet and NP is 0 (check enforced it), draft §3.2.
      const np = b[t]! & gpe.FLAG_P ? gpe.nextProtocol(b, t) : gpe.NP_ETHERNET;
      const et = gpe.etherTypeOf(np);
      if (et !== etherType.TEB && et !== etherType.IPV4 && et !== etherType.IPV6)
        return R.layerReason(R.L_VXLAN_GPE, UNSUPPORTED);
      out.innerType = et;
      out.idLo = gpe.vni(b, t);
      out.inner = t + gpe.HEADER_LEN;
      return R.OK;
    }
    case ENCAP_GENEVE: {
      st = geneve.parse(b, t, end, geneveRepr);
      if (st !== OK) return R.layerReason(R.L_GENEVE, st);
      const et = geneveRepr.protocol;
      if (et !== etherType.TEB && et !== etherType.IPV4 && et !== etherType.IPV6)
        return R.layerReason(R.L_GENEVE, UNSUPPORTED);
      out.innerType = et;
      out.idLo = geneveRepr.vni;
      out.inner = t + geneve.HEADER_LEN + geneveRepr.optLen;
      return R.OK;
    }
    default:
      return R.NOT_ENCAPSULATED;
  }
}

/** The decap layer of a UDP encapsulation (for naming a refusal of its inner payload). */
export function udpTunnelLayer(encap: number): number {
  return encap === ENCAP_VXLAN_GPE
    ? R.L_VXLAN_GPE
    : encap === ENCAP_GENEVE
      ? R.L_GENEVE
      : encap === ENCAP_VXLAN_SOE
        ? R.L_VXLAN_SOE
        : R.L_VXLAN;
}
