// Which UDP packets GRO treats as tunnels, and where their inner frame starts (Linux: the UDP socket's
// gro_receive hook — vxlan_gro_receive, geneve_gro_receive; encapsulations.md §7.2).
//
// Choice: nvo coalesces tunnel traffic into ONE BIG ENCAPSULATED superframe (outer headers of the first
// packet, inner TCP payloads concatenated), as Linux does for UDP tunnels, rather than a decapsulated
// inner superframe. Why: decap of the superframe then costs one strip and one flow lookup per 64 KB
// (DESIGN.md: one lookup on tunnel metadata + inner headers); transit traffic (underlay to underlay)
// keeps its outer headers; tunnel-gso.ts cuts it back into exactly the wire packets it came from; and a
// TAP/AF_PACKET with virtio UDP-tunnel GSO (gso_type | 0x20/0x40) can take it unchanged.
//
// Same-flow rule for the tunnel header: the bytes between the outer UDP header and the inner frame must
// be identical (VXLAN: flags + VNI words, vxlan_gro_receive; Geneve: whole header with options,
// geneve_gro_receive / RFC 8926 §4.6; GPE: flags, next protocol, VNI) — compared in gro-match.ts.
// Refused (packet passes unmerged): VXLAN without the I flag; Geneve version ≠ 0 or O (control) bit;
// GPE version ≠ 0, O bit, or a next protocol other than IPv4/IPv6/Ethernet; unknown inner protocol.

import { ENCAP_GENEVE, ENCAP_NONE, ENCAP_VXLAN, ENCAP_VXLAN_GPE } from '../packet/packet.ts';
import { u16 } from '../wire/bytes.ts';
import * as et from '../wire/ether-type.ts';
import { GENEVE_PORT, VXLAN_GPE_PORT, VXLAN_PORT } from '../wire/tunnel-ports.ts';

/** UDP destination port → ENCAP_* kind (0 = not a tunnel). */
export class TunnelPorts {
  readonly kind = new Uint8Array(65536);

  constructor(
    ports: Record<number, number> = {
      [VXLAN_PORT]: ENCAP_VXLAN,
      [VXLAN_GPE_PORT]: ENCAP_VXLAN_GPE,
      [GENEVE_PORT]: ENCAP_GENEVE,
    },
  ) {
    for (const [port, kind] of Object.entries(ports)) this.kind[Number(port)] = kind;
  }
}

export interface InnerStart {
  /** Absolute offset of the inner frame (Ethernet) or inner IP header. */
  at: number;
  /** et.TEB for Ethernet, et.IPV4 / et.IPV6 for a bare IP payload. */
  type: number;
}

export const NOT_TUNNEL = 0;
export const TUNNEL_OK = 1;
export const TUNNEL_REFUSED = 2;

/** udp: the outer UDP header offset; end: IP end. */
export function groTunnel(
  b: Uint8Array,
  udp: number,
  end: number,
  ports: TunnelPorts,
  out: InnerStart,
): number {
  const kind = ports.kind[u16(b, udp + 2)]!;
  if (kind === ENCAP_NONE) return NOT_TUNNEL;
  const t = udp + 8;
  if (end - t < 8) return TUNNEL_REFUSED;
  out.at = t + 8;
  if (kind === ENCAP_VXLAN) {
    if ((b[t]! & 0x08) === 0) return TUNNEL_REFUSED;
    out.type = et.TEB;
  } else if (kind === ENCAP_VXLAN_GPE) {
    const f = b[t]!;
    if ((f & 0x30) !== 0 || (f & 0x01) !== 0) return TUNNEL_REFUSED;
    const np = b[t + 3]!;
    out.type = np === 1 ? et.IPV4 : np === 2 ? et.IPV6 : np === 3 ? et.TEB : -1;
  } else if (kind === ENCAP_GENEVE) {
    if (b[t]! >>> 6 !== 0 || (b[t + 1]! & 0x80) !== 0) return TUNNEL_REFUSED;
    out.at += (b[t]! & 0x3f) << 2;
    out.type = u16(b, t + 2);
  } else {
    return TUNNEL_REFUSED;
  }
  if (out.type !== et.TEB && out.type !== et.IPV4 && out.type !== et.IPV6) return TUNNEL_REFUSED;
  return out.at < end ? TUNNEL_OK : TUNNEL_REFUSED;
}
