// Output to a tunnel port: pick the remote VTEP and key (fixed by the port, or from the flow's tun_dst /
// tun_id), resolve the underlay next hop, encapsulate and stage the result on the underlay port. Over
// IPv4 the resolution (route, neighbour, underlay port, template) is kept per (remote, key) in the
// port's EncapRoutes and checked, not redone, for the packets after the first (encap-routes.ts).
//
//   VXLAN, GPE, Geneve, GRE, NVGRE  cached outer template in the headroom (outer-template.ts);
//                                   a guest superframe is cut by software tunnel GSO to the underlay MTU
//   STT                             18-byte STT header carrying the guest's offload state, then TCP-like
//                                   segments (offload/stt-segment.ts) — or ONE TCP superframe when the
//                                   underlay port does TSO (vnet_hdr): the point of STT
//   VXLAN-SOE                       one datagram with S and the guest MSS, outer IPv4 fragmented
//                                   (offload/soe-tx.ts)
//   too big, not a superframe       ICMP fragmentation-needed / packet-too-big back to the guest when DF
//                                   (offload/pmtu.ts, as Linux vxlan), else a counted drop
// A next hop without a MAC yet: ARP / ND resolves it (neighbour-resolver.ts) while the packet waits in a
// small bounded queue; flushPending() sends the waiting packets when the answer comes.
import { type FlowKey, TUN_DST, TUN_ID, TUN_IPV6_DST } from '../flow/key.ts';
import { completeCsum } from '../offload/csum-complete.ts';
import { GSO_DROPPED, GSO_PASSED } from '../offload/gso.ts';
import { FRAGMENTED, fragment4, RESULT_NAMES } from '../offload/ipv4-fragment.ts';
import * as pmtu from '../offload/pmtu.ts';
import {
  ENCAP_STT,
  ENCAP_VXLAN_SOE,
  GSO_NONE,
  GSO_UDP_L4,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import type { NeighbourEntry } from '../tunnel/neighbours.ts';
import { applyTemplate, type OuterTemplate, sourcePort } from '../tunnel/outer-template.ts';
import type { TunnelPort } from '../tunnel/tunnel-port.ts';
import { setU32, u32 } from '../wire/bytes.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { OK } from '../wire/status.ts';
import * as udp from '../wire/udp.ts';
import type { Port } from './port.ts';
import { socketOutput } from './socket-underlay.ts';
import { soeOutput, stageAll, sttOutput } from './stt-soe-output.ts';
import type { Switch } from './switch.ts';
import { PACK_UNSUPPORTED, packUso, segmentInner } from './tunnel-segment.ts';

const remote4 = new Uint8Array(4);
const remote6 = new Uint8Array(16);

export function tunnelOutput(sw: Switch, port: Port, p: Packet, w: FlowKey): void {
  const t = port.tunnel!;
  const idHi = t.keyFromFlow ? w[TUN_ID]! : t.keyHi;
  const idLo = t.keyFromFlow ? w[TUN_ID + 1]! : t.keyLo;
  if (t.ipVersion === 4 && port.sink === null && !sw.dryRun) {
    // Resolved before (encap-routes.ts): no route, neighbour, port or template lookup.
    const dst = t.remote !== null ? t.remote4 : w[TUN_DST]!;
    const r = port.encapRoutes!.lookup(dst, idHi, idLo, sw.neighbours, sw.now);
    if (r !== null) {
      port.txPackets++;
      port.txBytes += p.end - p.start;
      encapsulate(sw, t, r.underlay!, p, r.tpl!);
      return;
    }
  }
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
  // Socket underlay (a UDP socket as the tunnel port's sink): the kernel routes and writes the outer headers.
  if (port.sink !== null) {
    socketOutput(sw, port, p, remote, idHi, idLo);
    return;
  }

  // Next hop on the underlay (neighbour-resolver.ts); an unresolved one keeps the packet waiting.
  const e = nextHop(sw, t, remote);
  if (e === null) {
    holdForNeighbour(sw, port, p, remote, idHi, idLo);
    return;
  }
  const underlay = sw.ports.get(e.port);
  if (!underlay) {
    sw.drop(p, sw.counters.id('drop-tunnel-no-underlay'));
    return;
  }
  tunnelSend(sw, port, underlay, p, remote, idHi, idLo, e.mac, t.ipVersion === 4 && !sw.dryRun ? e : null);
}

/**
 * tunnelOutput for a run of n packets of one megaflow (Switch.closeRun), `bytes` long in all, whose
 * keys agree with `w` on tun_id and tun_dst (all tunnelOutput reads of an IPv4 tunnel's key): the
 * encapsulation is looked up once for the run, then each packet only gets the template. Without a
 * resolved one, each packet goes through tunnelOutput, as it would alone. Takes the packets out of `ps`.
 */
export function tunnelOutputRun(
  sw: Switch,
  port: Port,
  ps: (Packet | null)[],
  n: number,
  bytes: number,
  w: FlowKey,
): void {
  const t = port.tunnel!;
  if (t.ipVersion === 4 && port.sink === null && !sw.dryRun) {
    const dst = t.remote !== null ? t.remote4 : w[TUN_DST]!;
    const idHi = t.keyFromFlow ? w[TUN_ID]! : t.keyHi;
    const idLo = t.keyFromFlow ? w[TUN_ID + 1]! : t.keyLo;
    const r = port.encapRoutes!.lookup(dst, idHi, idLo, sw.neighbours, sw.now);
    if (r !== null) {
      port.txPackets += n;
      port.txBytes += bytes;
      encapsulateRun(sw, t, r.underlay!, ps, n, r.tpl!);
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const p = ps[i]!;
    ps[i] = null;
    tunnelOutput(sw, port, p, w);
  }
}

/**
 * Encapsulates p for tunnel `port` towards `remote` (next-hop MAC `mac`) and stages it on `underlay`.
 * With `e`, the IPv4 next hop's entry, the result is remembered for the next packet (encap-routes.ts).
 */
export function tunnelSend(
  sw: Switch,
  port: Port,
  underlay: Port,
  p: Packet,
  remote: Uint8Array,
  idHi: number,
  idLo: number,
  mac: Uint8Array,
  e: NeighbourEntry | null = null,
): void {
  const t = port.tunnel!;
  port.txPackets++;
  port.txBytes += p.end - p.start;
  if (t.encap === ENCAP_STT) {
    sttOutput(sw, t, underlay, p, remote, idHi, idLo, mac);
    return;
  }
  if (t.encap === ENCAP_VXLAN_SOE) {
    soeOutput(sw, t, underlay, p, remote, idLo, mac);
    return;
  }
  const gen = sw.neighbours.generation;
  const tpl = t.template(remote, idHi, idLo, sw.underlayMac, mac, gen);
  if (e !== null) port.encapRoutes!.remember(u32(remote, 0), idHi, idLo, gen, tpl, e, underlay);
  encapsulate(sw, t, underlay, p, tpl);
}

/**
 * encapsulate() for the n packets of a run: the plain case (a frame that fits the underlay, no offload
 * state, headroom for the template, no TTL/TOS/DF inherited) inline, with what it reads of the tunnel,
 * template and underlay loaded once; any other packet goes through encapsulate().
 */
function encapsulateRun(
  sw: Switch,
  t: TunnelPort,
  underlay: Port,
  ps: (Packet | null)[],
  n: number,
  tpl: OuterTemplate,
): void {
  const plain = !t.inherits && !sw.dryRun;
  const len = tpl.len;
  // Largest inner frame that fits: outer IP datagram = frame + (len − l3) ≤ MTU.
  const fits = underlay.mtu - (len - tpl.l3);
  const l3 = tpl.l3;
  const l4 = tpl.l4;
  const encap = t.encap;
  const out = underlay.out;
  for (let i = 0; i < n; i++) {
    const p = ps[i]!;
    ps[i] = null;
    const start = p.start;
    if (
      !plain ||
      start < len ||
      p.end - start > fits ||
      (p.flags & (SUPERFRAME | NEEDS_CSUM)) !== 0 ||
      p.gsoType !== GSO_NONE
    ) {
      encapsulate(sw, t, underlay, p, tpl);
      continue;
    }
    const o = applyTemplate(tpl, p.buf, p.view, start, p.end, sw.ipId, sourcePort(p.flowHash));
    sw.ipId = (sw.ipId + 1) & 0xffff;
    p.innerL2 = start;
    p.innerL3 = p.l3;
    p.innerL4 = p.l4;
    p.start = o;
    p.l2 = o;
    p.l3 = o + l3;
    p.l4 = o + l4;
    p.tunEncap = encap;
    if (out.count < out.capacity) out.packets[out.count++] = p;
    else sw.stage(underlay, p);
  }
}

/** Puts `tpl` in front of p (or cuts, fragments, refuses it) and stages the result on `underlay`. */
function encapsulate(sw: Switch, t: TunnelPort, underlay: Port, p: Packet, tpl: OuterTemplate): void {
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
  // Too big for the underlay and not a superframe: ICMP back to the guest when it said DF (as Linux
  // vxlan), else fragment the outer IPv4 datagram (the tunnel's DF is clear by default, RFC 7348 §4.3
  // leaves it to the VTEP; the far end reassembles before decap) — or, with df=set, a counted drop.
  let fragmentOuter = false;
  if (!superframe && p.end - p.start + tpl.len - tpl.l3 > underlay.mtu) {
    // Tunnel MTU for the guest's IP packet: underlay MTU − outer headers − the inner Ethernet header.
    const r = sw.pmtu.check(p, underlay.mtu - (tpl.len - tpl.l3) - 14, sw.now);
    if (r === pmtu.ICMP_SENT) {
      icmpBack(sw, p);
      return;
    }
    if (r !== pmtu.MAY_FRAGMENT || t.ipVersion !== 4 || t.df === 'set') {
      sw.drop(p, sw.counters.id('drop-tunnel-too-big'));
      return;
    }
    fragmentOuter = true;
  }
  if (
    superframe &&
    tpl.isUdp &&
    underlay.txUso &&
    t.ipVersion === 4 &&
    usoToUnderlay(sw, t, underlay, p, tpl)
  ) {
    return;
  }
  const innerL2 = p.start;
  const ident = sw.ipId;
  const o = applyTemplate(tpl, p.buf, p.view, p.start, p.end, ident, sourcePort(p.flowHash));
  sw.ipId = (sw.ipId + 1) & 0xffff;
  if (t.inherits) inherit(t, p.buf, o + tpl.l3, p.l3);
  p.innerL2 = innerL2;
  p.innerL3 = p.l3;
  p.innerL4 = p.l4;
  p.start = o;
  p.l2 = o;
  p.l3 = o + tpl.l3;
  p.l4 = o + tpl.l4;
  p.tunEncap = t.encap;
  if (superframe) segmentToUnderlay(sw, underlay, p, tpl.len - tpl.l3);
  else if (fragmentOuter) fragmentToUnderlay(sw, underlay, p, ident);
  else sw.stage(underlay, p);
}

/**
 * UDP tunnels over a port that takes UDP GSO (vnet_hdr USO): the guest superframe is cut in place into
 * chunks [tunnel header + inner TCP segment] (tunnel-segment.ts packUso), and each group of them travels
 * as ONE outer UDP superframe with gso_size = one chunk. The kernel then replicates the outer
 * Ethernet/IPv4/UDP headers per chunk (UDP_SEGMENT semantics), so every wire packet is a complete
 * VXLAN/GPE/Geneve packet, while nvo hands the kernel one buffer instead of n.
 *   chunk = tunnel header + inner headers + MSS;  outer IP length per wire packet = 20 + 8 + chunk ≤ MTU
 *   chunks per superframe: the UDP datagram stays ≤ 65,535 − 20 (IPv4) bytes
 * False: p is not one packUso can cut (legacy UFO, a tunnel inside); it goes the classic way.
 */
function usoToUnderlay(sw: Switch, t: TunnelPort, underlay: Port, p: Packet, tpl: OuterTemplate): boolean {
  const hash = p.flowHash;
  const innerL3 = p.l3 >= 0 ? p.l3 - p.start : -1; // from the inner Ethernet header, for inherit()
  const groups = packUso(sw, p, tpl, tpl.tunnel, tpl.len - tpl.l3, underlay.mtu, 65535 - 28, 65535);
  if (groups === PACK_UNSUPPORTED) return false;
  const out = sw.segOut;
  for (let i = 0; i < groups; i++) {
    const q = out.packets[i]!;
    const chunks = Math.ceil((q.end - q.start) / q.gsoSize);
    const o = applyTemplate(
      tpl,
      q.buf,
      q.view,
      q.start + (tpl.len - tpl.tunnel),
      q.end,
      sw.ipId,
      sourcePort(hash),
    );
    // The kernel gives each datagram of the superframe the next IPv4 ID.
    sw.ipId = (sw.ipId + chunks) & 0xffff;
    if (t.inherits) inherit(t, q.buf, o + tpl.l3, innerL3 < 0 ? -1 : o + tpl.len + innerL3);
    const many = chunks > 1;
    q.start = o;
    q.l2 = o;
    q.l3 = o + tpl.l3;
    q.l4 = o + tpl.l4;
    q.innerL2 = q.innerL3 = q.innerL4 = -1;
    // USO needs a partial UDP checksum (the kernel finishes it per datagram): seed the pseudo-header.
    udp.fillPseudo(q.buf, q.l3, q.l4);
    q.flags = NEEDS_CSUM | (many ? SUPERFRAME : 0);
    q.csumStart = q.l4;
    q.csumOffset = 6;
    q.gsoType = many ? GSO_UDP_L4 : GSO_NONE;
    q.gsoSize = many ? q.gsoSize : 0;
    q.tunEncap = tpl.spec.encap;
    sw.stage(underlay, q);
  }
  out.clear();
  return true;
}

/** The encapsulated datagram as outer IPv4 fragments (offload/ipv4-fragment.ts; DF is clear). */
function fragmentToUnderlay(sw: Switch, underlay: Port, p: Packet, ident: number): void {
  const out = sw.segOut;
  out.clear();
  const r = fragment4(p, underlay.mtu, ident, sw.pool, out);
  if (r !== FRAGMENTED) {
    out.clear();
    sw.drop(p, sw.counters.id(`drop-tunnel-fragment-${RESULT_NAMES[r]}`));
    return;
  }
  p.owner?.free(p);
  sw.counters.add('tunnel-outer-fragmented');
  stageAll(sw, underlay, out);
}

/**
 * TTL / TOS / DF taken from the inner IP header (ttl=inherit, tos=inherit, df=inherit), as Linux
 * ip_tunnel's "inherit" settings: the outer IPv4 header checksum is then recomputed (20 bytes).
 */
function inherit(t: TunnelPort, b: Uint8Array, outer: number, inner: number): void {
  if (inner < 0) return;
  const v4 = b[inner]! >>> 4 === 4;
  const innerTos = v4 ? b[inner + 1]! : ((b[inner]! & 0x0f) << 4) | (b[inner + 1]! >>> 4);
  const innerTtl = v4 ? b[inner + 8]! : b[inner + 7]!;
  if (t.ipVersion === 4) {
    if (t.tos < 0) b[outer + 1] = innerTos;
    if (t.ttl < 0) b[outer + 8] = innerTtl;
    if (t.df === 'inherit') b[outer + 6] = (b[outer + 6]! & ~0x40) | (v4 ? b[inner + 6]! & 0x40 : 0x40);
    ipv4.fillChecksum(b, outer);
  } else {
    if (t.tos < 0) {
      b[outer] = 0x60 | (innerTos >>> 4);
      b[outer + 1] = ((innerTos & 0x0f) << 4) | (b[outer + 1]! & 0x0f);
    }
    if (t.ttl < 0) b[outer + 7] = innerTtl;
  }
}

/** Sends the ICMP error pmtu.check() built back out of the guest's port; the guest frame is dropped. */
function icmpBack(sw: Switch, p: Packet): void {
  const q = sw.pmtu.out!;
  const back = sw.ports.get(p.inPort);
  sw.counters.add('tx-icmp-frag-needed');
  if (back) sw.stage(back, q);
  else q.owner?.free(q);
  sw.drop(p, sw.counters.id('drop-tunnel-too-big-icmp'));
}

/**
 * A guest superframe (TSO/GSO) now encapsulated: cut it in software into segments whose outer IP
 * datagram fits the underlay MTU (tunnel GSO, as Linux skb_udp_tunnel_segment; tunnel-segment.ts).
 */
function segmentToUnderlay(sw: Switch, underlay: Port, p: Packet, outerL3ToInnerL2: number): void {
  const n = segmentInner(sw, p, p.innerL2, p.innerL4, outerL3ToInnerL2, underlay.mtu);
  if (n === GSO_DROPPED) return;
  if (n === GSO_PASSED) {
    sw.stage(underlay, p);
    return;
  }
  p.owner?.free(p);
  const out = sw.segOut;
  stageAll(sw, underlay, out);
  sw.counters.v[sw.c.tunnelGsoSegments]! += n;
}

const hop6 = new Uint8Array(16);
const pendingRemote = new Uint8Array(16);

/**
 * The neighbour entry to send towards `remote` with (its MAC known), or null when the packet must wait.
 * The next hop is the route's gateway, else `remote` itself (on-link; also when no route matches, as
 * nvo did before it had routes). While tracing, nothing changes: no entry made, no probe sent.
 */
function nextHop(sw: Switch, t: TunnelPort, remote: Uint8Array): NeighbourEntry | null {
  const nb = sw.neighbours;
  if (t.ipVersion === 4) {
    const dst = u32(remote, 0);
    const route = nb.route4(dst);
    const hop = route === null || route.gateway === 0 ? dst : route.gateway;
    if (sw.dryRun) return nb.get4(hop);
    return sw.resolver.resolve4(hop, u32(t.local, 0), route === null ? 0 : route.port);
  }
  const routePort = nb.nextHop6(remote, 0, hop6);
  if (sw.dryRun) return nb.get6(hop6, 0);
  return sw.resolver.resolve6(hop6, 0, t.local, routePort);
}

/** The next hop is being resolved: p waits in the resolver's bounded queue (or is a counted drop). */
function holdForNeighbour(
  sw: Switch,
  port: Port,
  p: Packet,
  remote: Uint8Array,
  idHi: number,
  idLo: number,
): void {
  if (sw.dryRun) {
    sw.trace?.push('next hop unresolved: the packet would wait for ARP/ND');
    p.owner?.free(p);
    return;
  }
  const r = sw.resolver;
  r.hold(r.pending, port, p, remote, port.tunnel!.ipVersion === 4 ? 4 : 16, idHi, idLo);
}

/** Sends, oldest first, the packets that waited for `e`, which now has its MAC (ARP reply, NA). */
export function flushPending(sw: Switch, e: NeighbourEntry): void {
  const r = sw.resolver;
  for (let i = r.oldest(e); i >= 0; i = r.oldest(e)) {
    const port = r.port[i]!;
    const idHi = r.idHi[i]!;
    const idLo = r.idLo[i]!;
    for (let j = 0; j < 16; j++) pendingRemote[j] = r.remote[16 * i + j]!;
    const p = r.release(i);
    const underlay = sw.ports.get(e.port);
    if (!underlay) {
      sw.drop(p, sw.counters.id('drop-tunnel-no-underlay'));
      continue;
    }
    sw.counters.add('neighbour-queue-sent');
    tunnelSend(sw, port, underlay, p, pendingRemote, idHi, idLo, e.mac);
  }
}
