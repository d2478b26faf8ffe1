// Cutting a guest superframe for a tunnel whose packets must fit a path MTU. The MSS is lowered when
// the guest's leaves no room for the tunnel overhead:
//   outer IP length = overhead (outer IP .. inner Ethernet) + inner Eth/IP headers + TCP header + MSS ≤ mtu
// A UDP (USO) superframe keeps its size: its datagrams cannot be re-cut. Then either
//   segmentInner  the software segmenter cuts it into pool packets in sw.segOut (classic tunnel GSO,
//                 as Linux skb_udp_tunnel_segment would after the encapsulation), or
//   packUso       it is cut in place into groups of [tunnel header + inner segment] chunks, each group
//                 the payload of ONE outer UDP GSO superframe (offload/uso-pack.ts): for an underlay
//                 port with USO (tunnel-output.ts) and for a UDP_SEGMENT socket (socket-underlay.ts).
import { copyBytes } from '../offload/csum-fast.ts';
import { ADMIT_UFO, GSO_DROPPED, GSO_PASSED } from '../offload/gso.ts';
import { chunkLen, packSegments } from '../offload/uso-pack.ts';
import { GSO_ECN, GSO_UDP_L4, type Packet } from '../packet/packet.ts';
import type { OuterTemplate } from '../tunnel/outer-template.ts';
import type { Switch } from './switch.ts';

/** packUso: p is legacy UFO or already tunnelled; it is untouched and goes the classic way. */
export const PACK_UNSUPPORTED = -2;

/** Lowers p's gso_size to the largest MSS whose segments fit `mtu` behind `overhead` bytes of tunnel. */
function clampMss(p: Packet, innerL2: number, innerL4: number, overhead: number, mtu: number): void {
  if (innerL4 < 0 || (p.gsoType & ~GSO_ECN) === GSO_UDP_L4) return;
  const tcpHdr = (p.buf[innerL4 + 12]! >>> 4) << 2;
  const maxMss = mtu - overhead - (innerL4 - innerL2) - tcpHdr;
  if (p.gsoSize > maxMss || p.gsoSize === 0) p.gsoSize = maxMss;
}

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
  clampMss(p, innerL2, innerL4, overhead, mtu);
  const segs = sw.segOut;
  segs.clear();
  const n = sw.gso.segment(p, segs);
  if (n === GSO_DROPPED) sw.drop(p, sw.counters.id('drop-tunnel-gso'));
  return n;
}

/**
 * Cuts the guest superframe p (inner Ethernet at p.start, not yet encapsulated) into USO groups in
 * sw.segOut, in wire order: group g holds chunks [tunnel header tpl.bytes[tpl.tunnel, tpl.len) + inner
 * segment] for segments [g·per, (g+1)·per), at q.start..q.end, with q.gsoSize = one full chunk and `front`
 * bytes of headroom left before q.start for the caller's outer headers. The first group is p itself,
 * cut in place when it fits its slot; later groups are superPool slots (one memmove per segment either
 * way). per = the most chunks such that a group stays ≤ maxBytes and ≤ maxChunks and fits a slot.
 * Returns the number of groups (a group of one chunk is a plain datagram; so is p when its payload fits
 * one MSS), GSO_DROPPED (p freed and counted), or PACK_UNSUPPORTED.
 * `overhead`: outer IP .. inner Ethernet, for the MSS (see clampMss).
 */
export function packUso(
  sw: Switch,
  p: Packet,
  tpl: OuterTemplate,
  front: number,
  overhead: number,
  mtu: number,
  maxBytes: number,
  maxChunks: number,
): number {
  const tunLen = tpl.len - tpl.tunnel;
  if (p.start < front + tunLen) {
    sw.drop(p, sw.counters.id('drop-no-headroom'));
    return GSO_DROPPED;
  }
  clampMss(p, p.start, p.l4, overhead, mtu);
  const seg = sw.gso;
  const n = seg.admit(p);
  if (n === ADMIT_UFO || (n > 0 && seg.tunnelled)) return PACK_UNSUPPORTED;
  const out = sw.segOut;
  out.clear();
  if (n === GSO_DROPPED) {
    sw.drop(p, sw.counters.id('drop-tunnel-gso'));
    return GSO_DROPPED;
  }
  if (n === GSO_PASSED) {
    // One segment: the tunnel header goes in front, as for any frame.
    p.start -= tunLen;
    copyBytes(tpl.bytes, tpl.tunnel, p.buf, p.start, tunLen);
    p.gsoSize = p.end - p.start;
    out.push(p);
    return 1;
  }
  const lay = seg.layer;
  const mss = p.gsoSize;
  const chunk = chunkLen(p, lay, tunLen, mss);
  const pool = sw.superPool;
  const room = pool.slotSize - pool.headroom - front;
  const per = Math.max(1, Math.min(maxChunks, Math.floor(maxBytes / chunk), Math.floor(room / chunk)));
  const groups = Math.ceil(n / per);
  const headTo = Math.min(n, per);
  const at = p.start - tunLen;
  let head: Packet | null = p;
  if (at + headTo * chunk > p.buf.length) {
    // p's slot is too small for its chunks (a small superframe in an MTU-size slot): a super slot.
    head = pool.alloc();
    if (head === null) {
      sw.drop(p, sw.c.dropNoBuffer);
      return GSO_DROPPED;
    }
    head.start += front;
  }
  // Later groups first: the in-place cut of the first group overwrites their source bytes.
  out.push(head);
  for (let g = 1; g < groups; g++) {
    const q = pool.alloc();
    if (q === null) {
      // No slot: the rest of the superframe is lost (TCP resends it); what is written still goes.
      sw.counters.v[sw.c.dropNoBuffer]! += n - g * per;
      break;
    }
    q.start += front;
    const to = Math.min(n, (g + 1) * per);
    q.end = packSegments(p, lay, mss, n, g * per, to, tpl.bytes, tpl.tunnel, tunLen, q.buf, q.start);
    q.gsoSize = chunk;
    q.flowHash = p.flowHash;
    out.push(q);
  }
  if (head === p) {
    p.end = packSegments(p, lay, mss, n, 0, headTo, tpl.bytes, tpl.tunnel, tunLen, p.buf, at);
    p.start = at;
  } else {
    head.end = packSegments(p, lay, mss, n, 0, headTo, tpl.bytes, tpl.tunnel, tunLen, head.buf, head.start);
    head.flowHash = p.flowHash;
    p.owner?.free(p);
  }
  head.gsoSize = chunk;
  seg.counted(n);
  sw.counters.v[sw.c.tunnelGsoSegments]! += n;
  return out.count;
}
