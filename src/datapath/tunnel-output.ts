// Output to a tunnel port: pick the remote VTEP and key (fixed by the port, or from the flow's tun_dst /
// tun_id), resolve the underlay next hop, put the cached outer template in front and stage the result on
// the underlay port. A missing next-hop MAC sends an ARP request and drops the packet (as the kernel does
// once its small neighbour queue is full; nvo keeps no queue).
import { type FlowKey, TUN_DST, TUN_ID, TUN_IPV6_DST } from '../flow/key.ts';
import { completeCsum } from '../offload/csum-complete.ts';
import { GSO_DROPPED, GSO_PASSED } from '../offload/gso.ts';
import {
  ENCAP_STT,
  GSO_ECN,
  GSO_NONE,
  GSO_UDP_L4,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import { applyTemplate, sourcePort } from '../tunnel/outer-template.ts';
import * as arp from '../wire/arp.ts';
import { formatIpv6, setU16, setU32 } from '../wire/bytes.ts';
import { OK } from '../wire/status.ts';
import type { Port } from './port.ts';
import type { Switch } from './switch.ts';

const remote4 = new Uint8Array(4);
const remote6 = new Uint8Array(16);
const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export function tunnelOutput(sw: Switch, port: Port, p: Packet, w: FlowKey): void {
  const t = port.tunnel!;
  let remote: Uint8Array;
  if (t.remote) remote = t.remote;
  else if (t.ipVersion === 4) {
    if (w[TUN_DST] === 0) {
      sw.drop(p, sw.counters.id('drop-tunnel-no-remote'));
      return;
    }
    setU32(remote4, 0, w[TUN_DST]!);
    remote = remote4;
  } else {
    for (let i = 0; i < 4; i++) setU32(remote6, 4 * i, w[TUN_IPV6_DST + i]!);
    remote = remote6;
  }
  const idHi = t.keyFromFlow ? w[TUN_ID]! : t.keyHi;
  const idLo = t.keyFromFlow ? w[TUN_ID + 1]! : t.keyLo;
  if (t.encap === ENCAP_STT) {
    sw.drop(p, sw.counters.id('drop-tunnel-encap-unsupported'));
    return;
  }

  // Next hop on the underlay.
  let mac: Uint8Array;
  let underlay: Port | undefined;
  if (t.ipVersion === 4) {
    const dst = ((remote[0]! << 24) | (remote[1]! << 16) | (remote[2]! << 8) | remote[3]!) >>> 0;
    const nh = sw.neighbours.nextHop4(dst);
    const hop = nh < 0 ? dst : nh;
    const e = sw.neighbours.get4(hop, sw.now);
    if (!e) {
      arpRequest(sw, t.local, hop);
      sw.drop(p, sw.counters.id('drop-tunnel-neighbour-unresolved'));
      return;
    }
    mac = e.mac;
    underlay = sw.ports.get(e.port);
  } else {
    const e = sw.neighbours.get6(formatIpv6(remote, 0), sw.now);
    if (!e) {
      sw.drop(p, sw.counters.id('drop-tunnel-neighbour-unresolved'));
      return;
    }
    mac = e.mac;
    underlay = sw.ports.get(e.port);
  }
  if (!underlay) {
    sw.drop(p, sw.counters.id('drop-tunnel-no-underlay'));
    return;
  }
  const tpl = t.template(remote, idHi, idLo, sw.underlayMac, mac, sw.neighbours.generation);
  if (p.start < tpl.len) {
    sw.drop(p, sw.counters.id('drop-no-headroom'));
    return;
  }
  const superframe = (p.flags & SUPERFRAME) !== 0 || p.gsoType !== GSO_NONE;
  if (!superframe && (p.flags & NEEDS_CSUM) !== 0 && completeCsum(p) !== OK) {
    // The inner checksum is finished before encapsulation: the outer UDP checksum (when on) covers it,
    // and a port without vnet_hdr could not finish it inside a tunnel anyway.
    sw.drop(p, sw.counters.id('drop-tunnel-bad-partial-checksum'));
    return;
  }
  const outerIpLen = p.end - p.start + tpl.len - tpl.l3;
  if (outerIpLen > underlay.mtu && !superframe) {
    sw.drop(p, sw.counters.id('drop-tunnel-too-big'));
    return;
  }
  const innerL2 = p.start;
  const o = applyTemplate(tpl, p.buf, p.start, p.end, sw.ipId, sourcePort(p.flowHash));
  sw.ipId = (sw.ipId + 1) & 0xffff;
  p.innerL2 = innerL2;
  p.innerL3 = p.l3;
  p.innerL4 = p.l4;
  p.start = o;
  p.l2 = o;
  p.l3 = o + tpl.l3;
  p.l4 = o + tpl.l4;
  p.tunEncap = t.encap;
  port.txPackets++;
  port.txBytes += p.end - p.start;
  if (superframe) segmentToUnderlay(sw, underlay, p, tpl.len - tpl.l3);
  else sw.stage(underlay, p);
}

/**
 * A guest superframe (TSO/GSO) now encapsulated: cut it in software into segments whose outer IP
 * datagram fits the underlay MTU (tunnel GSO, as Linux skb_udp_tunnel_segment), lowering the MSS when
 * the guest's does not leave room for the tunnel overhead:
 *   outer IP length = (outer IP..inner TCP header) + TCP header + MSS ≤ MTU
 */
function segmentToUnderlay(sw: Switch, underlay: Port, p: Packet, outerL3ToInnerL2: number): void {
  const b = p.buf;
  const innerL4 = p.innerL4;
  if (innerL4 >= 0 && (p.gsoType & ~GSO_ECN) !== GSO_UDP_L4) {
    const tcpHdr = (b[innerL4 + 12]! >>> 4) << 2;
    const fixed = innerL4 - p.innerL2 + outerL3ToInnerL2 + tcpHdr;
    const maxMss = underlay.mtu - fixed;
    if (p.gsoSize > maxMss || p.gsoSize === 0) p.gsoSize = maxMss;
  }
  const out = sw.segOut;
  out.clear();
  const n = sw.gso.segment(p, out);
  if (n === GSO_DROPPED) {
    sw.drop(p, sw.counters.id('drop-tunnel-gso'));
    return;
  }
  if (n === GSO_PASSED) {
    sw.stage(underlay, p);
    return;
  }
  p.owner?.free(p);
  for (let i = 0; i < out.count; i++) sw.stage(underlay, out.packets[i]!);
  out.clear();
  sw.counters.v[sw.c.tunnelGsoSegments]! += n;
}

/** Broadcasts "who has `target`" from nvo's underlay address on every underlay port. */
export function arpRequest(sw: Switch, local: Uint8Array, target: number): void {
  for (const u of sw.underlays) {
    const q = sw.pool.alloc();
    if (q === null) return;
    const o = q.start;
    q.end = o + 42;
    const b = q.buf;
    b.set(BROADCAST, o);
    b.set(sw.underlayMac, o + 6);
    setU16(b, o + 12, 0x0806);
    const r = arp.newRepr();
    r.op = arp.OP_REQUEST;
    r.sha.set(sw.underlayMac);
    r.spa = ((local[0]! << 24) | (local[1]! << 16) | (local[2]! << 8) | local[3]!) >>> 0;
    r.tpa = target;
    arp.emit(r, b, o + 14);
    sw.counters.add('tx-arp-request');
    sw.stage(u, q);
  }
}
