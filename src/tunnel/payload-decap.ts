// Decapsulation of a UDP payload, for the socket underlay: the kernel has already taken off the outer
// IP and UDP headers (and checked the UDP checksum when there was one) and says who sent the datagram;
// what is left is the tunnel header and the inner frame. The tunnel header is validated by its codec
// with the same rules as decap-frame.ts (the raw path), so both paths accept and refuse the same bytes.
//
//   encap (by the socket's port)  header                         inner
//   vxlan, vxlan-soe              8 B, I set; S set → SOE + MSS  Ethernet
//   vxlan-gpe                     8 B, Ver 0, I set              Ethernet only (NP 3, or P clear)
//   geneve                        8 B + options (skipped)        Ethernet only (protocol 0x6558)
// Bare inner IP (GPE NP 1/2, Geneve 0x0800/0x86dd) is refused with a named reason: nvo's tunnel ports
// carry Ethernet frames.
import { ENCAP_GENEVE, ENCAP_VXLAN, ENCAP_VXLAN_GPE, ENCAP_VXLAN_SOE } from '../packet/packet.ts';
import * as etherType from '../wire/ether-type.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as geneve from '../wire/geneve.ts';
import { OK, TRUNCATED, UNSUPPORTED } from '../wire/status.ts';
import * as vxlan from '../wire/vxlan.ts';
import * as gpe from '../wire/vxlan-gpe.ts';
import * as soe from '../wire/vxlan-soe.ts';
import * as R from './decap-reasons.ts';

export interface PayloadDecap {
  /** The encapsulation found (VXLAN-SOE when a VXLAN header has S set). */
  encap: number;
  /** Where the inner Ethernet frame starts (it ends where the datagram does). */
  inner: number;
  vni: number;
  /** VXLAN-SOE: the MSS the inner frame is to be cut to (0: not an SOE superframe). */
  mss: number;
}

export function newPayloadDecap(): PayloadDecap {
  return { encap: 0, inner: -1, vni: 0, mss: 0 };
}

const geneveRepr = geneve.newRepr();

/**
 * Reads the tunnel header at b[o..end) for a socket of encapsulation `encap` (VXLAN-SOE sockets are
 * VXLAN sockets: the S bit says which). Returns R.OK or a decap reason (R.reasonName names it).
 */
export function decapPayload(
  b: Uint8Array,
  o: number,
  end: number,
  encap: number,
  out: PayloadDecap,
): number {
  out.inner = -1;
  out.vni = 0;
  out.mss = 0;
  out.encap = encap;
  let st: number;
  switch (encap) {
    case ENCAP_VXLAN:
    case ENCAP_VXLAN_SOE:
      if (end - o >= soe.HEADER_LEN && soe.soe(b, o)) {
        st = soe.check(b, o, end);
        if (st !== OK) return R.layerReason(R.L_VXLAN_SOE, st);
        out.encap = ENCAP_VXLAN_SOE;
        out.mss = soe.mss(b, o);
      } else {
        st = vxlan.check(b, o, end);
        if (st !== OK) return R.layerReason(R.L_VXLAN, st);
        out.encap = ENCAP_VXLAN;
      }
      out.vni = vxlan.vni(b, o);
      out.inner = o + vxlan.HEADER_LEN;
      break;
    case ENCAP_VXLAN_GPE: {
      st = gpe.check(b, o, end);
      if (st !== OK) return R.layerReason(R.L_VXLAN_GPE, st);
      const np = b[o]! & gpe.FLAG_P ? gpe.nextProtocol(b, o) : gpe.NP_ETHERNET;
      if (gpe.etherTypeOf(np) !== etherType.TEB) return R.layerReason(R.L_VXLAN_GPE, UNSUPPORTED);
      out.vni = gpe.vni(b, o);
      out.inner = o + gpe.HEADER_LEN;
      break;
    }
    case ENCAP_GENEVE:
      st = geneve.parse(b, o, end, geneveRepr);
      if (st !== OK) return R.layerReason(R.L_GENEVE, st);
      if (geneveRepr.protocol !== etherType.TEB) return R.layerReason(R.L_GENEVE, UNSUPPORTED);
      out.vni = geneveRepr.vni;
      out.inner = o + geneve.HEADER_LEN + geneveRepr.optLen;
      break;
    default:
      return R.NOT_ENCAPSULATED;
  }
  if (ethernet.check(b, out.inner, end) !== OK) return R.layerReason(R.L_INNER, TRUNCATED);
  return R.OK;
}
