// Cutting a guest superframe for a tunnel whose packets must fit a path MTU: the MSS is lowered when
// the guest's leaves no room for the tunnel overhead, then the software segmenter cuts it into
// sw.segOut (as Linux skb_udp_tunnel_segment would after the encapsulation):
//   outer IP length = overhead (outer IP .. inner Ethernet) + inner Eth/IP headers + TCP header + MSS ≤ mtu
// A UDP (USO) superframe keeps its size: its datagrams cannot be re-cut.
import { GSO_DROPPED } from '../offload/gso.ts';
import { GSO_ECN, GSO_UDP_L4, type Packet } from '../packet/packet.ts';
import type { Switch } from './switch.ts';

/**
 * Segments p (inner frame from `innerL2`, TCP header at `innerL4`, -1 if unknown) into sw.segOut.
 * Returns the count, GSO_PASSED (p goes as it is), or GSO_DROPPED (p freed, `drop-tunnel-gso` counted).
 */
export function segmentInner(
  sw: Switch,
  p: Packet,
  innerL2: number,
  innerL4: number,
  overhead: number,
  mtu: number,
): number {
  if (innerL4 >= 0 && (p.gsoType & ~GSO_ECN) !== GSO_UDP_L4) {
    const tcpHdr = (p.buf[innerL4 + 12]! >>> 4) << 2;
    const maxMss = mtu - overhead - (innerL4 - innerL2) - tcpHdr;
    if (p.gsoSize > maxMss || p.gsoSize === 0) p.gsoSize = maxMss;
  }
  const segs = sw.segOut;
  segs.clear();
  const n = sw.gso.segment(p, segs);
  if (n === GSO_DROPPED) sw.drop(p, sw.counters.id('drop-tunnel-gso'));
  return n;
}
