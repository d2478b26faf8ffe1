// The socket underlay (config `underlay.mode: socket`): UDP tunnels through the kernel's own UDP stack.
// The kernel owns the underlay addresses, routing, ARP/ND and the outer IP/UDP headers; nvo sends and
// receives tunnel payloads (tunnel header + inner frame) on a UDP socket per local address and port,
// the tunnel port's sink (src/io/udp-socket.ts with UDP_SEGMENT/UDP_GRO, or udp-dgram.ts).
//
// Transmit (socketOutput, called by tunnel-output.ts for a tunnel port that has a sink):
//   plain frame      inner checksum finished, tunnel header prepended in the headroom, one datagram
//   TSO superframe   cut in place into MSS-size inner TCP segments (tunnel-segment.ts packUso), each
//                    behind its tunnel header, back to back: [hdr+seg][hdr+seg]…[hdr+last]; every chunk
//                    is the same size but the last, so the kernel sends the lot as ONE UDP_SEGMENT
//                    (UDP GSO) send with gso_size = chunk (the node:dgram port cuts it in JS instead).
//                      chunk = tunnel header + inner Eth/IP/TCP headers + MSS
//                      outer IP datagram per chunk = IP (20 | 40) + UDP 8 + chunk ≤ underlay MTU
//   VXLAN-SOE        a guest superframe up to 65,499 B goes as ONE datagram with S and the MSS; the
//                    kernel fragments it at the route's MTU and the far kernel reassembles it.
// Receive (SocketInput): a UDP_GRO read (several datagrams of one sender, each gso_size long but the
//   last) is split into datagrams; each is decapsulated (tunnel/payload-decap.ts), matched to a tunnel
//   port by encapsulation, sender and VNI, and its inner TCP segments are coalesced again (tcp-gro.ts)
//   so the guest port gets one superframe and the switch does ONE flow lookup per aggregate. Segments
//   only merge within a run of datagrams with the same sender, port and VNI.
// What the kernel decides in this mode: outer UDP checksum (on, IPv4 and IPv6), TTL, DF (PMTU
// discovery) and fragmentation; the outer source port is the socket's. tun_tos/tun_ttl read 0.

import { completeCsum } from '../offload/csum-complete.ts';
import { copyBytes } from '../offload/csum-fast.ts';
import { GSO_DROPPED, GSO_PASSED } from '../offload/gso.ts';
import { Coalescer } from '../offload/tcp-gro.ts';
import { Batch } from '../packet/batch.ts';
import {
  ENCAP_VXLAN,
  ENCAP_VXLAN_SOE,
  GSO_NONE,
  GSO_UDP_L4,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import { SMALL_SLOT } from '../packet/pool.ts';
import * as R from '../tunnel/decap-reasons.ts';
import type { OuterTemplate } from '../tunnel/outer-template.ts';
import { decapPayload, newPayloadDecap } from '../tunnel/payload-decap.ts';
import { u16 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import { OK } from '../wire/status.ts';
import * as soe from '../wire/vxlan-soe.ts';
import type { Port } from './port.ts';
import type { Switch } from './switch.ts';
import { PACK_UNSUPPORTED, packUso, segmentInner } from './tunnel-segment.ts';
import { superframe } from './underlay-input.ts';

const ZERO_MAC = new Uint8Array(6);
/** UDP_MAX_SEGMENTS in Linux before 6.9 (64; 128 since): the most chunks one UDP_SEGMENT send may hold. */
const MAX_GSO_SEGMENTS = 64;
/** Largest SOE inner frame: 65,535 − IP 20 − UDP 8 − VXLAN 8 (IPv4; IPv6's payload length is 16 bits too). */
const SOE_MAX_INNER = 65535 - 36;

/** Output to a tunnel port whose sink is a UDP socket (remote, key: resolved by tunnel-output.ts). */
export function socketOutput(
  sw: Switch,
  port: Port,
  p: Packet,
  remote: Uint8Array,
  idHi: number,
  idLo: number,
): void {
  const t = port.tunnel!;
  // The template's tunnel header is all we use of it (MACs and outer IP are the kernel's).
  const tpl = t.template(remote, idHi, idLo, ZERO_MAC, ZERO_MAC, sw.neighbours.generation);
  const superframe = (p.flags & SUPERFRAME) !== 0 || p.gsoType !== GSO_NONE;
  if (superframe && t.encap === ENCAP_VXLAN_SOE && p.gsoSize > 0 && p.end - p.start <= SOE_MAX_INNER) {
    if (!prepend(sw, p, tpl)) return;
    const r = soeRepr;
    r.soe = true;
    r.mss = p.gsoSize;
    r.vni = idLo & 0xffffff;
    soe.emit(r, p.buf, p.start);
    finish(sw, port, p, remote);
    return;
  }
  if (superframe) {
    segmentToSocket(sw, port, p, tpl, remote);
    return;
  }
  if (!prepend(sw, p, tpl)) return;
  finish(sw, port, p, remote);
}

const soeRepr = soe.newRepr();

/** Finishes a pending inner checksum and puts the tunnel header in front; false: dropped. */
function prepend(sw: Switch, p: Packet, tpl: OuterTemplate): boolean {
  if ((p.flags & NEEDS_CSUM) !== 0 && completeCsum(p) !== OK) {
    sw.drop(p, sw.counters.id('drop-tunnel-bad-partial-checksum'));
    return false;
  }
  const n = tpl.len - tpl.tunnel;
  if (p.start < n) {
    sw.drop(p, sw.counters.id('drop-no-headroom'));
    return false;
  }
  p.start -= n;
  copyBytes(tpl.bytes, tpl.tunnel, p.buf, p.start, n);
  return true;
}

/** Destination and datagram state for the socket port; stages p on the tunnel port. */
function finish(sw: Switch, port: Port, p: Packet, remote: Uint8Array): void {
  const t = port.tunnel!;
  p.flags &= ~(NEEDS_CSUM | SUPERFRAME);
  p.gsoType = GSO_NONE;
  p.gsoSize = 0;
  setDst(p, t.ipVersion, remote, t.dstPort);
  p.tunEncap = t.encap;
  sw.stage(port, p);
}

function setDst(p: Packet, version: number, remote: Uint8Array, dstPort: number): void {
  const n = version === 4 ? 4 : 16;
  for (let i = 0; i < n; i++) p.tunDst[i] = remote[i]!;
  p.tunIpVersion = version;
  p.tunDstPort = dstPort;
}

/**
 * A guest TSO superframe: inner TCP segments sized for the path MTU (port.mtu), each behind its tunnel
 * header, cut in place into UDP GSO buffers of at most MAX_GSO_SEGMENTS chunks and 65,535 − IP − 8
 * bytes (tunnel-segment.ts packUso). Legacy UFO goes as IP fragments, one datagram each.
 */
function segmentToSocket(sw: Switch, port: Port, p: Packet, tpl: OuterTemplate, remote: Uint8Array): void {
  const t = port.tunnel!;
  const hLen = tpl.len - tpl.tunnel;
  const outerIp = t.ipVersion === 4 ? 20 : 40;
  const overhead = outerIp + 8 + hLen;
  const groups = packUso(sw, p, tpl, 0, overhead, port.mtu, 65535 - outerIp - 8, MAX_GSO_SEGMENTS);
  if (groups === PACK_UNSUPPORTED) {
    unpacked(sw, port, p, tpl, remote, overhead);
    return;
  }
  const out = sw.segOut;
  for (let i = 0; i < groups; i++) {
    const q = out.packets[i]!;
    const many = q.end - q.start > q.gsoSize;
    setDst(q, t.ipVersion, remote, t.dstPort);
    q.tunEncap = t.encap;
    q.flags = many ? SUPERFRAME : 0;
    q.gsoType = many ? GSO_UDP_L4 : GSO_NONE;
    q.gsoSize = many ? q.gsoSize : 0;
    sw.stage(port, q);
  }
  out.clear();
}

/** The segments of a superframe packUso does not cut, one datagram each. */
function unpacked(
  sw: Switch,
  port: Port,
  p: Packet,
  tpl: OuterTemplate,
  remote: Uint8Array,
  overhead: number,
): void {
  const n = segmentInner(sw, p, p.start, p.l4, overhead, port.mtu);
  if (n === GSO_DROPPED) return;
  if (n === GSO_PASSED) {
    if (prepend(sw, p, tpl)) finish(sw, port, p, remote);
    return;
  }
  p.owner?.free(p);
  const segs = sw.segOut;
  for (let i = 0; i < segs.count; i++) {
    const s = segs.packets[i]!;
    if (prepend(sw, s, tpl)) finish(sw, port, s, remote);
  }
  segs.clear();
  sw.counters.v[sw.c.tunnelGsoSegments]! += n;
}

/**
 * Receive side of one UDP socket and the tunnel ports it serves. `receive` takes a batch from the
 * socket (the caller gives the packets up), runs every inner frame through the switch and leaves the
 * batch empty; the caller flushes the switch afterwards.
 */
export class SocketInput {
  private readonly sw: Switch;
  private readonly ports: Port[];
  private readonly encap: number;
  private readonly gro: Coalescer;
  private readonly groOut = new Batch(512);
  private readonly d = newPayloadDecap();
  /** The run being coalesced: its tunnel port, VNI, sender (address, port). */
  private runPort: Port | null = null;
  private runVni = -1;
  private runSrcPort = -1;
  private readonly runSrc = new Uint8Array(16);
  private runVersion = 0;
  private readonly cDatagrams: number;
  private readonly cGroReads: number;
  private readonly dropIds = new Int32Array(R.REASON_COUNT).fill(-1);

  constructor(sw: Switch, ports: Port[]) {
    if (ports.length === 0) throw new Error('a socket serves at least one tunnel port');
    this.sw = sw;
    this.ports = ports;
    const e = ports[0]!.tunnel!.encap;
    this.encap = e === ENCAP_VXLAN_SOE ? ENCAP_VXLAN : e;
    this.gro = new Coalescer({ superPool: sw.superPool });
    this.cDatagrams = sw.counters.id('socket-rx-datagrams');
    this.cGroReads = sw.counters.id('socket-rx-gro-reads');
  }

  receive(batch: Batch, now: number): void {
    const sw = this.sw;
    sw.now = now;
    for (let i = 0; i < batch.count; i++) {
      const p = batch.packets[i]!;
      batch.packets[i] = null;
      const len = p.end - p.start;
      if (p.gsoSize > 0 && len > p.gsoSize && !this.oneTunnelPacket(p)) this.split(p);
      else this.datagram(p, p.gsoSize > 0 && len > p.gsoSize ? p.gsoSize : 0);
    }
    batch.count = 0;
    this.endRun();
  }

  /** A UDP_GRO read: datagrams of gsoSize bytes (the last may be shorter), copied out one by one. */
  private split(p: Packet): void {
    const sw = this.sw;
    sw.counters.v[this.cGroReads]!++;
    const gs = p.gsoSize;
    for (let o = p.start; o < p.end; o += gs) {
      const n = Math.min(gs, p.end - o);
      const q = (n + 512 <= SMALL_SLOT ? sw.pool : sw.superPool).alloc();
      if (q === null) {
        sw.counters.v[sw.c.dropNoBuffer]!++;
        continue;
      }
      copyBytes(p.buf, o, q.buf, q.start, n);
      q.end = q.start + n;
      q.tunIpVersion = p.tunIpVersion;
      q.tunSrc.set(p.tunSrc);
      q.tunSrcPort = p.tunSrcPort;
      this.datagram(q, 0);
    }
    p.owner?.free(p);
  }

  /**
   * A GSO read that is ONE tunnel packet around an inner TCP superframe, not several datagrams: a
   * kernel VTEP's tunnel TSO (SKB_GSO_TCPV4 | SKB_GSO_UDP_TUNNEL) that crossed a veth unsegmented
   * reaches a UDP_GRO socket whole, with gso_size = the inner MSS. Its inner IP length then spans
   * the whole read. (Behind a real NIC this does not happen: the NIC segments.)
   */
  private oneTunnelPacket(p: Packet): boolean {
    const b = p.buf;
    if (decapPayload(b, p.start, p.end, this.encap, this.d) !== R.OK) return false;
    const inner = this.d.inner;
    if (p.end - inner < 14 + 40) return false;
    const type = u16(b, inner + 12);
    const ipLen =
      type === etherType.IPV4 ? u16(b, inner + 16) : type === etherType.IPV6 ? 40 + u16(b, inner + 18) : -1;
    return 14 + ipLen === p.end - inner;
  }

  /** One tunnel packet; `innerMss` > 0: its inner frame is a TSO superframe (see oneTunnelPacket). */
  private datagram(p: Packet, innerMss: number): void {
    const sw = this.sw;
    const d = this.d;
    sw.counters.v[this.cDatagrams]!++;
    sw.counters.v[sw.c.rxPackets]!++;
    p.flags = 0;
    p.gsoType = GSO_NONE;
    p.gsoSize = 0;
    const st = decapPayload(p.buf, p.start, p.end, this.encap, d);
    if (st !== R.OK) {
      sw.drop(p, this.dropId(st));
      return;
    }
    const tp = this.match(p, d.vni);
    if (tp === null) {
      sw.drop(p, sw.counters.id('drop-socket-no-tunnel-port'));
      return;
    }
    p.start = d.inner;
    tp.rxPackets++;
    tp.rxBytes += p.end - p.start;
    if (d.encap === ENCAP_VXLAN_SOE && d.mss > 0) {
      // An SOE datagram is one whole guest frame: no coalescing, the guest gets it cut at d.mss.
      this.endRun();
      superframe(p, p.start, d.mss, -1);
      this.deliver(p, tp, d.vni);
      return;
    }
    if (innerMss > 0) {
      // The kernel never segmented it, so the inner TCP checksum is still partial (pseudo-header
      // seeded), as in the virtio_net_hdr of the same skb.
      this.endRun();
      const b = p.buf;
      const l3 = p.start + 14;
      const l4 = u16(b, p.start + 12) === etherType.IPV4 ? l3 + ((b[l3]! & 0x0f) << 2) : l3 + 40;
      superframe(p, p.start, innerMss, l4);
      p.flags |= NEEDS_CSUM;
      this.sw.counters.add('socket-rx-inner-superframes');
      this.deliver(p, tp, d.vni);
      return;
    }
    if (
      tp !== this.runPort ||
      d.vni !== this.runVni ||
      p.tunSrcPort !== this.runSrcPort ||
      !sameAddr(p.tunSrc, this.runSrc, p.tunIpVersion === 4 ? 4 : 16)
    ) {
      this.endRun();
      this.runPort = tp;
      this.runVni = d.vni;
      this.runSrcPort = p.tunSrcPort;
      this.runVersion = p.tunIpVersion;
      this.runSrc.set(p.tunSrc);
    }
    this.gro.receive(p, this.groOut, sw.now);
    if (this.groOut.count >= this.groOut.capacity - 16) this.drainRun(false);
  }

  /** Counter id of a decap reason, named once per reason (a flood of bad datagrams builds no strings). */
  private dropId(reason: number): number {
    let id = this.dropIds[reason] ?? -1;
    if (id < 0) {
      id = this.sw.counters.id(`drop-socket-${R.reasonName(reason)}`);
      this.dropIds[reason] = id;
    }
    return id;
  }

  /** The tunnel port a datagram belongs to: the sender and key must fit its remote and key. */
  private match(p: Packet, vni: number): Port | null {
    const n = p.tunIpVersion === 4 ? 4 : 16;
    for (let i = 0; i < this.ports.length; i++) {
      const q = this.ports[i]!;
      const t = q.tunnel!;
      if (t.ipVersion !== p.tunIpVersion) continue;
      if (t.remote && !sameAddr(t.remote, p.tunSrc, n)) continue;
      if (!t.keyFromFlow && (t.keyLo !== vni || t.keyHi !== 0)) continue;
      return q;
    }
    return null;
  }

  private endRun(): void {
    if (this.runPort === null) return;
    this.drainRun(true);
    this.runPort = null;
    this.runVni = -1;
    this.runSrcPort = -1;
  }

  /** Delivers what GRO has emitted (and, at the end of a run, what it still holds). */
  private drainRun(all: boolean): void {
    const out = this.groOut;
    if (all) this.gro.flush(out);
    const tp = this.runPort!;
    for (let i = 0; i < out.count; i++) {
      const q = out.packets[i]!;
      out.packets[i] = null;
      // GRO copies payloads into a fresh superframe slot without the tunnel metadata: stamp it again.
      q.tunIpVersion = this.runVersion;
      q.tunSrc.set(this.runSrc);
      q.tunSrcPort = this.runSrcPort;
      this.deliver(q, tp, this.runVni);
    }
    out.count = 0;
  }

  private deliver(p: Packet, tp: Port, vni: number): void {
    const t = tp.tunnel!;
    const n = t.ipVersion === 4 ? 4 : 16;
    for (let i = 0; i < n; i++) p.tunDst[i] = t.local[i]!;
    p.tunDstPort = t.dstPort;
    p.tunEncap = t.encap;
    p.tunIdHi = 0;
    p.tunIdLo = vni >>> 0;
    p.tunTos = 0;
    p.tunTtl = 0;
    p.l2 = p.l3 = p.l4 = -1;
    p.innerL2 = p.innerL3 = p.innerL4 = -1;
    p.inPort = tp.no;
    this.sw.pipeline(p);
  }
}

function sameAddr(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
