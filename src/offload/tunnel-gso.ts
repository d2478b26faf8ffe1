// Tunnel GSO: a superframe whose inner TCP (or UDP_L4) payload is up to 64 KB, already encapsulated
// (VXLAN, VXLAN-GPE, Geneve over UDP; GRE/NVGRE), is cut into MTU frames with the outer headers
// replicated — what Linux __skb_udp_tunnel_segment / gre_gso_segment do (encapsulations.md §7.1):
// the bytes from the outer Ethernet header to the inner L4 header are copied opaquely, then per segment
// the inner headers are fixed as in plain GSO and the outer IPv4 length/ID/checksum (IPv6 payload
// length), outer UDP length and outer UDP checksum (zero stays zero; non-zero is recomputed from the
// headers by LCO) are fixed. GRE: checksum (C bit) per segment, likewise by LCO; GRE with sequence
// numbers (S bit) is refused, as Linux refuses GSO on such tunnels.
//
// This file finds the two layers. The inner start comes from the packet's innerL2/innerL3 (set by
// encap) when present, else from the tunnel header at the well-known port; either way the inner headers
// are walked and must end exactly at the frame end, so a lying offset cannot point outside the frame.
//
//   VXLAN (RFC 7348)        8 B, inner Ethernet.
//   VXLAN-GPE (draft -12)   8 B, next protocol @3: 1 IPv4, 2 IPv6, 3 Ethernet.
//   Geneve (RFC 8926 §3.4)  8 B + opt len (byte 0 low 6 bits, 4-byte words); protocol type @2.
//   GRE (RFC 2784/2890)     4 B + 4 per C, K, S bit; protocol type @2 (0x6558 Ethernet = NVGRE/gretap).

import type { Packet } from '../packet/packet.ts';
import { u16 } from '../wire/bytes.ts';
import * as et from '../wire/ether-type.ts';
import * as ipp from '../wire/ip-proto.ts';
import { OK } from '../wire/status.ts';
import { GENEVE_PORT, VXLAN_GPE_PORT, VXLAN_LINUX_PORT, VXLAN_PORT } from '../wire/tunnel-ports.ts';
import { type Layout, parseFrame, parseIp } from './frame-layout.ts';
import { DROP_BAD_TUNNEL, DROP_UNSUPPORTED } from './gso-reasons.ts';
import type { Outer } from './segment-core.ts';

/** virtio_net_hdr gso_type bits for UDP-tunnel GSO (virtio 1.3 / Linux 2025), OR-ed onto the inner type. */
export const GSO_UDP_TUNNEL_IPV4 = 0x20;
export const GSO_UDP_TUNNEL_IPV6 = 0x40;
export const GSO_UDP_TUNNEL = GSO_UDP_TUNNEL_IPV4 | GSO_UDP_TUNNEL_IPV6;

const GRE_C = 0x8000;
const GRE_K = 0x2000;
const GRE_S = 0x1000;
const GRE_VERSION = 0x0007;

/**
 * Given the outer walk `o` (UDP or GRE), fills `outer` and walks the inner frame into `inner`.
 * Returns -1 or a drop index.
 */
export function locateTunnel(p: Packet, o: Layout, outer: Outer, inner: Layout): number {
  const b = p.buf;
  outer.present = true;
  outer.l3 = o.l3;
  outer.ipVersion = o.ipVersion;
  outer.ipHdrLen = o.ipHdrLen;
  outer.l4 = o.l4;
  outer.isGre = o.l4Proto === ipp.GRE;
  outer.udpCsum = false;
  outer.greCsum = false;
  const end = o.ipEnd;
  let at = -1; //    inner start
  let type = -1; //  EtherType of what starts there (TEB = Ethernet)
  if (outer.isGre) {
    if (end - o.l4 < 4) return DROP_BAD_TUNNEL;
    const f = u16(b, o.l4);
    if ((f & GRE_VERSION) !== 0 || (f & GRE_S) !== 0) return DROP_UNSUPPORTED;
    outer.greCsum = (f & GRE_C) !== 0;
    at = o.l4 + 4 + ((f & GRE_C) !== 0 ? 4 : 0) + ((f & GRE_K) !== 0 ? 4 : 0);
    type = u16(b, o.l4 + 2);
  } else if (o.l4Proto === ipp.UDP) {
    outer.udpCsum = u16(b, o.l4 + 6) !== 0;
    if (p.innerL2 > o.l4 && p.innerL2 < end) {
      at = p.innerL2;
      type = et.TEB;
    } else if (p.innerL3 > o.l4 && p.innerL3 < end) {
      at = p.innerL3;
      type = (b[at]! >>> 4 === 6 ? et.IPV6 : et.IPV4) as number;
    } else {
      const t = o.l4 + 8;
      if (end - t < 8) return DROP_BAD_TUNNEL;
      const port = u16(b, o.l4 + 2);
      if (port === VXLAN_PORT || port === VXLAN_LINUX_PORT) {
        at = t + 8;
        type = et.TEB;
      } else if (port === VXLAN_GPE_PORT) {
        at = t + 8;
        const np = b[t + 3]!;
        type = np === 1 ? et.IPV4 : np === 2 ? et.IPV6 : np === 3 ? et.TEB : -1;
      } else if (port === GENEVE_PORT) {
        at = t + 8 + ((b[t]! & 0x3f) << 2);
        type = u16(b, t + 2);
      } else {
        return DROP_BAD_TUNNEL;
      }
    }
  } else {
    return DROP_BAD_TUNNEL;
  }
  if (at >= end) return DROP_BAD_TUNNEL;
  let st: number;
  if (type === et.TEB) st = parseFrame(b, at, end, inner);
  else if (type === et.IPV4 || type === et.IPV6) st = parseIp(b, at, type, end, inner);
  else return DROP_UNSUPPORTED;
  if (st !== OK || inner.ipEnd !== end) return DROP_BAD_TUNNEL;
  // The opaque outer part is copied with the inner headers; the inner checksum region must start at an
  // even distance from the outer L4 header for the LCO sums to pair bytes correctly.
  if (((inner.l4 - o.l4) & 1) !== 0) return DROP_BAD_TUNNEL;
  return -1;
}
