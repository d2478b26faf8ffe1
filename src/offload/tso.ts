// TCP segmentation (TSO in software) for TCPV4 / TCPV6 superframes: the TCP-specific admission rules.
// The cutting itself is segment-core.ts `cut` (seq advance, FIN/PSH on the last segment only, CWR on
// the first only, IPv4 ID + k, per-segment checksums), the entry point gso.ts `Segmenter`.
//
// Admission follows what Linux accepts from an untrusted virtio_net_hdr (include/linux/virtio_net.h
// virtio_net_hdr_to_skb, net/ipv4/tcp_offload.c tcp_gso_segment):
// - gso_type TCPV4 only over IPv4, TCPV6 only over IPv6 (the ECN bit 0x80 may be added to either);
// - with NEEDS_CSUM, csum_start must be the TCP header and csum_offset 16 (offsetof(tcphdr, check));
// - SYN and RST segments are never GSO (a TCP stack never builds them; cutting a SYN would make n SYNs).
import { GSO_ECN, GSO_TCPV4, GSO_TCPV6, NEEDS_CSUM, type Packet } from '../packet/packet.ts';
import * as ipp from '../wire/ip-proto.ts';
import { type Layout, TCP_RST, TCP_SYN } from './frame-layout.ts';
import { DROP_BAD_CSUM_OFFSETS, DROP_BAD_TCP_FLAGS, DROP_TYPE_MISMATCH } from './gso-reasons.ts';

/** TCP checksum field offset in the TCP header (RFC 9293 §3.1). */
export const TCP_CSUM_OFFSET = 16;

/** -1 when `lay` (the TCP layer to cut: plain, or inner of a tunnel) may be segmented; else a drop index. */
export function checkTcpGso(p: Packet, lay: Layout, gsoType: number): number {
  const base = gsoType & ~GSO_ECN;
  if (lay.l4Proto !== ipp.TCP) return DROP_TYPE_MISMATCH;
  if (!((base === GSO_TCPV4 && lay.ipVersion === 4) || (base === GSO_TCPV6 && lay.ipVersion === 6))) {
    return DROP_TYPE_MISMATCH;
  }
  if ((p.flags & NEEDS_CSUM) !== 0 && (p.csumStart !== lay.l4 || p.csumOffset !== TCP_CSUM_OFFSET)) {
    return DROP_BAD_CSUM_OFFSETS;
  }
  if ((p.buf[lay.l4 + 13]! & (TCP_SYN | TCP_RST)) !== 0) return DROP_BAD_TCP_FLAGS;
  return -1;
}
