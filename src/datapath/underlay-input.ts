// Underlay receive: what arrives on nvo's physical side.
//
//   ARP (arp-input.ts) and IPv6 ND (nd.ts) for nvo's underlay addresses → answered, and they teach
//   the neighbour table (the packets waiting for an answer then go out); ping to them → echo-reply.ts
//   IPv4/IPv6 to one of nvo's addresses carrying a tunnel →
//       outer IP fragment  → IPv4/IPv6 reassembly (bounded, offload/ipv*-reassemble.ts): VXLAN-SOE's
//                            64 KB datagrams and any tunnel packet a router fragmented
//       STT segment        → STT reassembly (offload/stt-reassemble.ts; a GRO'd segment that is the
//                            whole frame takes the fast path, no copy)
//       then decapsulated to tunnel metadata and matched against the tunnel ports (encapsulation, UDP
//       port, local/remote address, key)
//   anything else → a named drop (nvo's underlay address belongs to nvo: nothing leaks to a host stack)
//
// Decapsulation strips the outer headers by moving p.start; the inner frame then goes through the one
// flow lookup, on tunnel metadata + inner headers. The result is the packet to go on with (a reassembly
// buffer may replace the packet that arrived), with p.inPort set to the tunnel port, or null.
//
// A received batch (receiveUnderlay), before any of that:
//   UDP GSO superframes (a peer's USO that no kernel cut) → split into their datagrams (uso-split.ts)
//   GRO, NAPI-style per batch: in-order segments of one inner TCP flow inside VXLAN/GPE/Geneve (or
//   plain TCP) become one encapsulated superframe, so decap and the flow lookup run once per ~64 KB
//   and the guest port gets one superframe. GRO starts at the first packet it could hold
//   (Coalescer.passes / passesDecapped); the ones before it go on at once, so a batch of UDP, ICMP…
//   inside the tunnels never enters it, and its question costs a look at the inner IPv4 header.
import * as ipr from '../offload/ipv4-reassemble.ts';
import * as sttr from '../offload/stt-reassemble.ts';
import type { Coalescer } from '../offload/tcp-gro.ts';
import { GSO_UDP_TUNNEL } from '../offload/tunnel-gso.ts';
import type { Batch } from '../packet/batch.ts';
import {
  CSUM_VALID,
  ENCAP_GRE,
  ENCAP_NVGRE,
  ENCAP_STT,
  ENCAP_VXLAN,
  ENCAP_VXLAN_SOE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import { decapUdpTunnel4 } from '../tunnel/decap-fast.ts';
import { decapFrame, newDecap, sttFrame } from '../tunnel/decap-frame.ts';
import * as R from '../tunnel/decap-reasons.ts';
import { u16, u32 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import * as stt from '../wire/stt.ts';
import { arpInput } from './arp-input.ts';
import { DecapRepeat } from './decap-repeat.ts';
import { echo4, isIcmp4ToUs } from './echo-reply.ts';
import { isIcmpv6, ndInput } from './nd.ts';
import type { Port } from './port.ts';
import type { Switch } from './switch.ts';
import { receiveUso } from './uso-split.ts';

const d = newDecap();
const opts = { verifyChecksums: true };

/** Runs a batch received on underlay `port` through the switch (the caller gives up the packets). */
export function receiveUnderlay(sw: Switch, port: Port, batch: Batch, now: number): void {
  if (receiveUso(sw, port.no, batch, now)) return;
  // Per batch: nvo's MAC as two numbers, and no tunnel port remembered yet (decapped4).
  const m = sw.underlayMac;
  rx.macHi = (m[0]! << 8) | m[1]!;
  rx.macLo = u32(m, 2);
  rx.memoTp = null;
  // GRO passes every packet it cannot hold untouched and in order, and holds nothing between batches:
  // so the packets before the first one it could hold go on at once, and GRO starts at that one.
  const gro = sw.gro !== null && batch.count > 1 && !sw.dryRun ? sw.gro : null;
  const n = batch.count;
  const rep = rx.repeat;
  rep.valid = false;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const p = batch.packets[i]!;
    // A packet that repeats the previous fast one's outer headers has its Decap in `d` already and
    // passes GRO as that one did (decap-repeat.ts).
    let fast = rep.valid && rep.matches(p);
    if (!fast) {
      // decap-fast reads only (it fills `d`): for the frames it takes, GRO's question is a look at the
      // inner IPv4 header, not a second walk of the outer ones.
      opts.verifyChecksums = (p.flags & (NEEDS_CSUM | CSUM_VALID)) === 0;
      fast = decapUdpTunnel4(p.buf, p.view, p.start, p.end, opts, d);
      if (gro !== null && !(fast ? gro.passesDecapped(p, d.inner) : gro.passes(p))) {
        gro.countPassed(i);
        countRx(sw, port, i, bytes);
        coalesce(sw, port, batch, i, n, gro, now);
        return;
      }
      if (fast) rep.take(p, d, opts.verifyChecksums);
      else rep.valid = false;
    }
    batch.packets[i] = null;
    bytes += p.end - p.start;
    deliver(sw, port, p, fast);
  }
  if (gro !== null) gro.countPassed(n);
  countRx(sw, port, n, bytes);
  batch.count = 0;
  sw.closeRun();
}

/** GRO over batch.packets[from, n), then every packet it gives back goes on. */
function coalesce(
  sw: Switch,
  port: Port,
  batch: Batch,
  from: number,
  n: number,
  gro: Coalescer,
  now: number,
): void {
  const out = sw.groOut;
  out.count = 0;
  for (let i = from; i < n; i++) {
    gro.receive(batch.packets[i]!, out, now);
    batch.packets[i] = null;
  }
  batch.count = 0;
  gro.flush(out);
  let bytes = 0;
  for (let i = 0; i < out.count; i++) {
    const p = out.packets[i]!;
    out.packets[i] = null;
    bytes += p.end - p.start;
    opts.verifyChecksums = (p.flags & (NEEDS_CSUM | CSUM_VALID)) === 0;
    deliver(sw, port, p, decapUdpTunnel4(p.buf, p.view, p.start, p.end, opts, d));
  }
  countRx(sw, port, out.count, bytes);
  out.count = 0;
  sw.closeRun();
}

/** Counts n packets of `bytes` in all as received on `port` (once per batch, not in deliver). */
function countRx(sw: Switch, port: Port, n: number, bytes: number): void {
  sw.counters.v[sw.c.rxPackets]! += n;
  port.rxPackets += n;
  port.rxBytes += bytes;
}

/** One received packet (counted by the caller): decapsulated (`fast`: decap-fast.ts took it, `d` holds its result), run. */
function deliver(sw: Switch, port: Port, p: Packet, fast: boolean): void {
  p.inPort = port.no;
  // decapUdpTunnel4 took only frames of ≥ 64 bytes: underlayInput's fast path without its call.
  const q = !fast
    ? underlayInput(sw, port, p)
    : toUs(p)
      ? decapped4(sw, p)
      : drop(sw, p, 'drop-underlay-not-our-mac');
  if (q === null) return; // consumed (ARP, reassembly in progress) or dropped
  const tunnelPort = rx.tunnel!;
  if (sw.trace) sw.trace.push(`decap: ${tunnelPort.name} tun_id=0x${q.tunIdLo.toString(16)}`);
  tunnelPort.rxPackets++;
  tunnelPort.rxBytes += q.end - q.start;
  // Joins the switch's open run of its megaflow (Switch.admit); receiveUnderlay closes it.
  sw.admit(q);
}

/** What decapUdpTunnel4 did not take: ARP, ND, pings, reassembly, STT, SOE, IPv6, tags, and drops. */
function underlayInput(sw: Switch, port: Port, p: Packet): Packet | null {
  const b0 = p.buf;
  const o = p.start;
  if (p.end - o < 14) return drop(sw, p, 'drop-underlay-truncated');
  if (!toUs(p)) return drop(sw, p, 'drop-underlay-not-our-mac');
  // ARP, ND, pings and reassembly act at once (an ARP reply may change a next hop the open run's
  // packets would be encapsulated for): the packets before this one go first.
  sw.closeRun();
  // A frame from a vnet_hdr port may carry a partial outer checksum (NEEDS_CSUM: the kernel never
  // finished it, veth to veth) or one the kernel already checked (CSUM_VALID): verify only the others.
  opts.verifyChecksums = (p.flags & (NEEDS_CSUM | CSUM_VALID)) === 0;
  if (u16(b0, o + 12) === etherType.ARP) {
    arpInput(sw, port, p);
    return null;
  }
  if (isIcmpv6(b0, o, p.end)) {
    ndInput(sw, port, p);
    return null;
  }
  if (isIcmp4ToUs(sw, b0, o, p.end)) {
    echo4(sw, port, p);
    return null;
  }
  let st = decapFrame(p.buf, p.start, p.end, 1, opts, d);
  if (st === R.OUTER_FRAGMENT) {
    if (!isLocal(sw, p.buf, d.l3 + 16, d.ipVersion)) return drop(sw, p, 'drop-underlay-not-our-ip');
    p.l2 = p.start;
    p.l3 = d.l3;
    const re = d.ipVersion === 6 ? sw.reasm6 : sw.reasm4;
    const res = re.process(p, sw.now);
    if (res === ipr.HELD) {
      p.owner?.free(p);
      return null;
    }
    if (res === ipr.DROP) return drop(sw, p, re.counters.names[re.lastDrop]!);
    if (res === ipr.DONE) {
      p.owner?.free(p);
      p = re.out!;
    }
    opts.verifyChecksums = (p.flags & (NEEDS_CSUM | CSUM_VALID)) === 0;
    st = decapFrame(p.buf, p.start, p.end, 1, opts, d);
  }
  let sttDone = false;
  if (st === R.STT_SEGMENT || (st === R.OK && d.encap === ENCAP_STT)) {
    if (!isLocal(sw, p.buf, d.l3 + 16, d.ipVersion)) return drop(sw, p, 'drop-underlay-not-our-ip');
    p.l2 = p.start;
    p.l3 = d.l3;
    if (!opts.verifyChecksums) p.flags |= CSUM_VALID;
    const res = sw.sttRx.process(p, sw.now);
    if (res === sttr.HELD) {
      p.owner?.free(p);
      return null;
    }
    if (res === sttr.DROP) return drop(sw, p, sw.sttRx.counters.names[sw.sttRx.lastDrop]!);
    if (res === sttr.DONE) {
      p.owner?.free(p);
      p = sw.sttRx.out!;
    }
    // [start, end) is now the STT frame; outer addresses, ports, TOS and TTL are in the tunnel fields.
    st = sttFrame(p.buf, p.start, p.end, d);
    sttDone = true;
  }
  if (st !== R.OK) return drop(sw, p, `drop-underlay-${R.reasonName(st)}`);
  const b = p.buf;
  if (!sttDone) {
    // Outer addresses, TOS and TTL into the tunnel metadata (OVS flow_tnl). Byte loops, not
    // set(subarray()): a subarray is an allocation per packet.
    const l3 = d.l3;
    p.tunIpVersion = d.ipVersion;
    if (d.ipVersion === 4) {
      copy(b, l3 + 12, p.tunSrc, 4);
      copy(b, l3 + 16, p.tunDst, 4);
      p.tunTos = b[l3 + 1]!;
      p.tunTtl = b[l3 + 8]!;
    } else {
      copy(b, l3 + 8, p.tunSrc, 16);
      copy(b, l3 + 24, p.tunDst, 16);
      p.tunTos = ((b[l3]! & 0x0f) << 4) | (b[l3 + 1]! >>> 4);
      p.tunTtl = b[l3 + 7]!;
    }
    p.tunSrcPort = d.srcPort;
    p.tunDstPort = d.dstPort;
    if (!isLocal(sw, p.tunDst, 0, d.ipVersion)) return drop(sw, p, 'drop-underlay-not-our-ip');
  }
  const tp = findTunnelPort(sw, p);
  if (tp === null) return drop(sw, p, 'drop-underlay-no-tunnel-port');
  if (d.innerType !== etherType.TEB) return drop(sw, p, 'drop-tunnel-inner-not-ethernet');
  p.tunEncap = tp.tunnel!.encap;
  p.tunIdHi = d.idHi >>> 0;
  p.tunIdLo = d.idLo >>> 0;
  if ((p.flags & NEEDS_CSUM) !== 0 && p.csumStart < d.inner) {
    // The pending checksum was the outer one (the sender's kernel left its UDP/GRE checksum partial
    // across a veth, with the inner one filled in by local checksum offload): it goes with the outer
    // headers, and the inner frame counts as verified, as the kernel treats CHECKSUM_PARTIAL on rx.
    p.flags = (p.flags & ~NEEDS_CSUM) | CSUM_VALID;
  }
  // A GRO aggregate of UDP-tunnel packets is, after decap, a plain inner superframe: drop the
  // encapsulated-GSO bits 0x20/0x40 that GRO set. The kernel's AF_PACKET vnet_hdr never sets them:
  // virtio_net_hdr_from_skb() maps SKB_GSO_TCPV4|SKB_GSO_UDP_TUNNEL to plain TCPV4 with csum_start
  // at the inner TCP header, so a VXLAN/Geneve/GRE superframe from a kernel peer on a veth also
  // describes the inner frame and must stay one. Only STT's GSO state (its TCP-like segments merged
  // by GRO) describes the outer packet: the inner frame is whole and that state goes with the outer
  // headers; STT's own header says what the inner frame needs (sttOffload).
  if ((p.gsoType & GSO_UDP_TUNNEL) !== 0) p.gsoType &= ~GSO_UDP_TUNNEL;
  else if (d.encap === ENCAP_STT && (p.gsoType !== 0 || (p.flags & SUPERFRAME) !== 0)) {
    p.gsoType = 0;
    p.gsoSize = 0;
    p.flags &= ~SUPERFRAME;
  }
  if (d.encap === ENCAP_VXLAN_SOE && d.mss > 0) superframe(p, d.inner, d.mss, -1);
  else if (d.encap === ENCAP_STT) sttOffload(p, d.inner);
  return toInner(p, tp);
}

/** p (≥ 14 bytes) is for nvo: multicast / broadcast, or to nvo's MAC (rx.macHi, rx.macLo: this batch's). */
function toUs(p: Packet): boolean {
  const o = p.start;
  return (p.buf[o]! & 1) === 1 || (p.view.getUint16(o) === rx.macHi && p.view.getUint32(o + 2) === rx.macLo);
}

/**
 * Receive state across the calls of one batch, in one object: its fields are plain loads and stores
 * where module-level `let`s cost a context load and a hole check each (toUs alone measured ≈ 6 ns a
 * packet on the decap bench with them).
 */
const rx = {
  /** The tunnel port of the packet underlayInput returned last (toInner sets it; saves a port lookup). */
  tunnel: null as Port | null,
  /** sw.underlayMac's first two and last four bytes, for the batch being received. */
  macHi: 0,
  macLo: 0,
  // decapped4's last tunnelPort4 answer in this batch and what it was asked: the packets of one batch
  // mostly come through one tunnel, and the answer depends on nothing else (the ports don't change
  // while a batch is received).
  memoTp: null as Port | null,
  memoSrc: 0,
  memoDst: 0,
  memoEncap: 0,
  memoDport: 0,
  memoId: 0,
  /** The batch's previous fast packet (decap-repeat.ts): `d` holds its Decap while `valid`. */
  repeat: new DecapRepeat(),
};

/** p becomes the inner frame `d` found, received on tunnel port tp. */
function toInner(p: Packet, tp: Port): Packet {
  rx.tunnel = tp;
  p.start = d.inner;
  p.end = d.innerEnd;
  p.l2 = p.l3 = p.l4 = -1;
  p.innerL2 = p.innerL3 = p.innerL4 = -1;
  p.inPort = tp.no;
  return p;
}

/**
 * The rest of underlayInput for what decapUdpTunnel4 took (VXLAN or Geneve without options over plain
 * IPv4): the same metadata, port choice and drops as the general path, without its branches for
 * reassembly, STT, SOE and IPv6, and with addresses compared as u32 instead of byte loops.
 */
function decapped4(sw: Switch, p: Packet): Packet | null {
  const b = p.buf;
  const l3 = d.l3;
  const src = p.view.getUint32(l3 + 12);
  const dst = p.view.getUint32(l3 + 16);
  p.tunIpVersion = 4;
  p.tunView.setUint32(0, src);
  p.tunView.setUint32(16, dst);
  p.tunTos = b[l3 + 1]!;
  p.tunTtl = b[l3 + 8]!;
  p.tunSrcPort = d.srcPort;
  p.tunDstPort = d.dstPort;
  let tp = rx.memoTp;
  if (
    tp === null ||
    src !== rx.memoSrc ||
    dst !== rx.memoDst ||
    d.encap !== rx.memoEncap ||
    d.dstPort !== rx.memoDport ||
    d.idLo !== rx.memoId
  ) {
    tp = tunnelPort4(sw, src, dst);
    rx.memoTp = tp;
    rx.memoSrc = src;
    rx.memoDst = dst;
    rx.memoEncap = d.encap;
    rx.memoDport = d.dstPort;
    rx.memoId = d.idLo;
  }
  if (tp === null)
    // A tunnel port's local_ip is one of nvo's addresses (Switch.addTunnel), so a match implies it;
    // without one, the reason is the general path's: not our address, or no port for it.
    return drop(sw, p, sw.localIps4.has(dst) ? 'drop-underlay-no-tunnel-port' : 'drop-underlay-not-our-ip');
  p.tunEncap = tp.tunnel!.encap;
  p.tunIdHi = 0;
  p.tunIdLo = d.idLo >>> 0;
  // As in the general path: a pending outer checksum goes with the outer headers; GRO's
  // encapsulated-GSO bits describe the outer packet.
  if ((p.flags & NEEDS_CSUM) !== 0 && p.csumStart < d.inner) p.flags = (p.flags & ~NEEDS_CSUM) | CSUM_VALID;
  if ((p.gsoType & GSO_UDP_TUNNEL) !== 0) p.gsoType &= ~GSO_UDP_TUNNEL;
  return toInner(p, tp);
}

/** findTunnelPort for decapped4's packets (encap VXLAN or Geneve, UDP, IPv4 addresses as u32). */
function tunnelPort4(sw: Switch, src: number, dst: number): Port | null {
  const tunnels = sw.tunnels;
  for (let i = 0; i < tunnels.length; i++) {
    const q = tunnels[i]!;
    const t = q.tunnel!;
    if (t.ipVersion !== 4 || t.local4 !== dst) continue;
    if (t.encap !== d.encap && !(t.encap === ENCAP_VXLAN_SOE && d.encap === ENCAP_VXLAN)) continue;
    if (t.dstPort !== 0 && d.dstPort !== t.dstPort) continue;
    if (t.remote !== null && t.remote4 !== src) continue;
    if (!t.keyFromFlow && (t.keyLo !== d.idLo >>> 0 || t.keyHi !== 0)) continue;
    return q;
  }
  return null;
}

/**
 * The tunnel port a decapsulated packet belongs to. GRE with only K set and type 0x6558 *is* the NVGRE
 * format: the port's type says how to read the key (NVGRE: VSID (24) | FlowID (8), tun_id = VSID).
 */
function findTunnelPort(sw: Switch, p: Packet): Port | null {
  for (let i = 0; i < sw.tunnels.length; i++) {
    const q = sw.tunnels[i]!;
    const t = q.tunnel!;
    const encapOk =
      t.encap === d.encap ||
      (t.encap === ENCAP_VXLAN_SOE && d.encap === ENCAP_VXLAN) ||
      (t.encap === ENCAP_VXLAN && d.encap === ENCAP_VXLAN_SOE) ||
      (t.encap === ENCAP_GRE && d.encap === ENCAP_NVGRE);
    if (!encapOk || t.ipVersion !== p.tunIpVersion) continue;
    if (d.protocol === 17 && t.dstPort !== 0 && p.tunDstPort !== t.dstPort) continue;
    const n = t.ipVersion === 4 ? 4 : 16;
    if (!same(t.local, p.tunDst, n)) continue;
    if (t.remote && !same(t.remote, p.tunSrc, n)) continue;
    const idLo = t.encap === ENCAP_NVGRE ? d.idLo >>> 8 : d.idLo >>> 0;
    if (!t.keyFromFlow && (t.keyLo !== idLo || t.keyHi !== d.idHi >>> 0)) continue;
    d.idLo = idLo;
    return q;
  }
  return null;
}

/** Marks the inner frame at `inner` as a superframe to be cut at `mss` (TCP by its L3; else UFO). */
export function superframe(p: Packet, inner: number, mss: number, l4: number): void {
  const b = p.buf;
  const type = u16(b, inner + 12);
  const v4 = type === etherType.IPV4;
  const proto = v4 ? b[inner + 14 + 9]! : type === etherType.IPV6 ? b[inner + 14 + 6]! : 0;
  p.flags |= SUPERFRAME;
  p.gsoSize = mss;
  p.gsoType = proto === 6 ? (v4 ? GSO_TCPV4 : GSO_TCPV6) : GSO_UDP;
  if (l4 >= 0) {
    p.csumStart = l4;
    p.csumOffset = proto === 6 ? 16 : 6;
  }
}

/**
 * STT carries the sender's offload state in its header (draft-davie-stt-08 §3.2): P (checksum
 * partial) with the L4 offset, and MSS for a superframe the receiver may have to segment. C (checksum
 * verified) lets the receiver skip verification.
 */
function sttOffload(p: Packet, inner: number): void {
  const b = p.buf;
  const h = inner - stt.HEADER_LEN;
  const flags = stt.flags(b, h);
  if ((flags & stt.FLAG_CSUM_PARTIAL) !== 0) {
    const l4 = inner + stt.l4Offset(b, h);
    p.flags = (p.flags & ~CSUM_VALID) | NEEDS_CSUM;
    p.csumStart = l4;
    p.csumOffset = (flags & stt.FLAG_TCP) !== 0 ? 16 : 6;
    const mss = stt.mss(b, h);
    if (mss > 0 && p.end - l4 > mss + 60) superframe(p, inner, mss, l4);
  } else if ((flags & stt.FLAG_CSUM_VERIFIED) !== 0) p.flags |= CSUM_VALID;
}

/** An IPv4 address at b[o] that nvo owns (IPv6 underlay addresses are checked by the tunnel ports). */
function isLocal(sw: Switch, b: Uint8Array, o: number, version: number): boolean {
  return version !== 4 || sw.localIps4.has(u32(b, o));
}

function drop(sw: Switch, p: Packet, reason: string): null {
  sw.drop(p, sw.counters.id(reason));
  return null;
}

function copy(b: Uint8Array, o: number, to: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) to[i] = b[o + i]!;
}

function same(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
