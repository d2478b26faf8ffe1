// UDP segmentation offload (UDP_SEGMENT / virtio GSO_UDP_L4, "USO"): a superframe holding one big UDP
// payload becomes ⌈P / gso_size⌉ independent UDP datagrams, each with its own UDP header, length and
// checksum; every one carries gso_size payload bytes except the last (net/ipv4/udp_offload.c
// __udp_gso_segment; encapsulations.md §8 rule 6). The IPv4 ID advances per datagram.
//
// Legacy UFO (virtio GSO_UDP = 3) is different — one datagram cut into IP fragments — and belongs to the
// IP fragmenter: see udp-fragment-gso.ts.
//
// Admission (virtio_net_hdr_to_skb): NEEDS_CSUM, when present, must point at the UDP checksum
// (csum_start = UDP header, csum_offset 6).
import { NEEDS_CSUM, type Packet } from '../packet/packet.ts';
import * as ipp from '../wire/ip-proto.ts';
import type { Layout } from './frame-layout.ts';
import { DROP_BAD_CSUM_OFFSETS, DROP_TYPE_MISMATCH } from './gso-reasons.ts';

export const UDP_CSUM_OFFSET = 6;

export function checkUdpGso(p: Packet, lay: Layout): number {
  if (lay.l4Proto !== ipp.UDP) return DROP_TYPE_MISMATCH;
  if ((p.flags & NEEDS_CSUM) !== 0 && (p.csumStart !== lay.l4 || p.csumOffset !== UDP_CSUM_OFFSET)) {
    return DROP_BAD_CSUM_OFFSETS;
  }
  return -1;
}
