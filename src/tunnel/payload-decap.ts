// Decapsulation of a UDP payload, for the socket underlay: the kernel has already taken off the outer
// IP and UDP headers (and checked the UDP checksum when there was one) and says who sent the datagram;
// what is left is the tunnel header and the inner frame. The tunnel header is judged by
// udp-tunnel-header.ts, as on the raw path (decap-frame.ts), so both accept and refuse the same bytes.
//
//   encap (by the socket's port)  header                         inner
//   vxlan, vxlan-soe              8 B, I set; S set → SOE + MSS  Ethernet
//   vxlan-gpe                     8 B, Ver 0, I set              Ethernet only (NP 3, or P clear)
//   geneve                        8 B + options (skipped)        Ethernet only (protocol 0x6558)
// Bare inner IP (GPE NP 1/2, Geneve 0x0800/0x86dd) is refused with a named reason: nvo's tunnel ports
// carry Ethernet frames.
import * as etherType from '../wire/ether-type.ts';
import * as ethernet from '../wire/ethernet.ts';
import { OK, TRUNCATED, UNSUPPORTED } from '../wire/status.ts';
import * as R from './decap-reasons.ts';
import { type UdpTunnelHeader, udpTunnelHeader, udpTunnelLayer } from './udp-tunnel-header.ts';

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

const header: UdpTunnelHeader = { encap: 0, inner: -1, innerType: 0, idLo: 0, mss: 0 };

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
  header.encap = encap;
  const r = udpTunnelHeader(b, o, end, header);
  out.encap = header.encap;
  if (r !== R.OK) return r;
  if (header.innerType !== etherType.TEB) return R.layerReason(udpTunnelLayer(header.encap), UNSUPPORTED);
  out.vni = header.idLo;
  out.mss = header.mss;
  out.inner = header.inner;
  if (ethernet.check(b, out.inner, end) !== OK) return R.layerReason(R.L_INNER, TRUNCATED);
  return R.OK;
}
