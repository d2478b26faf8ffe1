// The probes nvo sends to resolve an underlay next hop, as the kernel builds them:
//
//   IPv4  ARP request (RFC 826) from our address and MAC: broadcast while INCOMPLETE, unicast to the
//         known MAC when probing a stale entry (arp_solicit: target hardware address left zero).
//   IPv6  Neighbor Solicitation (RFC 4861 §7.2.2) from our address, hop limit 255, with our
//         Source Link-Layer Address option: to the target's solicited-node multicast group
//         ff02::1:ffXX:XXXX (RFC 4291 §2.7.1, Ethernet 33:33:ff:XX:XX:XX per RFC 2464 §7) while
//         INCOMPLETE, unicast to the target and its MAC when probing (ndisc_send_ns).
//
// They go out of the entry's port (the route's underlay port) or, when that is not known yet, out of
// every underlay port. Counted tx-arp-request / tx-nd-ns; a pool with no slot left skips the probe
// (the next retransmission tries again) and counts drop-no-buffer.
//
// Announcements (announceUnderlayMac), when nvo's underlay MAC has changed under a running switch (the
// device re-created, or given a new address): every peer holds the old MAC and would send to it until
// its entry went STALE and was probed again (Linux: base_reachable_time 30 s, then delay_first_probe
// 5 s), which a NIC's unicast filter turns into a black hole. Out of every underlay port, for each
// address nvo owns:
//
//   IPv4  ARP announcement (RFC 5227 §3: a request with sender and target protocol address both
//         ours, target hardware address zero), broadcast. Linux's arp_process takes it into an entry
//         it has even within locktime (is_garp); nvo's arpInput merges any ARP's sender.
//   IPv6  unsolicited Neighbor Advertisement (RFC 4861 §7.2.6): from the address to all-nodes ff02::1
//         (33:33:00:00:00:01), S clear, O set, with the Target Link-Layer option; O makes a receiver
//         that has an entry take the new MAC (§7.2.5), others ignore it.
//
// Linux sends these itself only with arp_notify / ndisc_notify set (both off by default); an overlay
// endpoint that owns its address has no reason to wait. Counted tx-arp-announce / tx-nd-na-unsolicited.

import type { NeighbourEntry } from '../tunnel/neighbours.ts';
import * as arp from '../wire/arp.ts';
import { setU16 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import * as icmpv6 from '../wire/icmpv6.ts';
import * as ipProto from '../wire/ip-proto.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { KIND_UNDERLAY, type Port } from './port.ts';
import type { Switch } from './switch.ts';

const arpRepr = arp.newRepr();
const ip6Repr = ipv6.newRepr();
const icmpRepr = icmpv6.newRepr();
/** NS or NA with one link-layer option: 24 + 8 bytes of ICMPv6. */
export const NS_LEN = icmpv6.ND_LEN + 8;
/** ff02::1, all nodes (RFC 4291 §2.7.1). */
const ALL_NODES = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

export function sendProbe(sw: Switch, e: NeighbourEntry, unicast: boolean): void {
  const port = e.port > 0 ? sw.ports.get(e.port) : undefined;
  if (port !== undefined && port.kind === KIND_UNDERLAY) {
    probeOn(sw, port, e, unicast);
    return;
  }
  for (const u of sw.underlays) probeOn(sw, u, e, unicast);
}

function probeOn(sw: Switch, port: Port, e: NeighbourEntry, unicast: boolean): void {
  const q = sw.pool.alloc();
  if (q === null) {
    sw.counters.v[sw.c.dropNoBuffer]!++;
    return;
  }
  const b = q.buf;
  const o = q.start;
  if (e.family === 4) {
    q.end = o + emitArpRequest(b, o, sw.underlayMac, e.srcIp4, e.ip4, unicast ? e.mac : null);
    sw.counters.add('tx-arp-request');
  } else {
    q.end = o + emitNs(b, o, sw.underlayMac, e.srcIp6, e.ip6, unicast ? e.mac : null);
    sw.counters.add('tx-nd-ns');
  }
  sw.stage(port, q);
}

/**
 * Writes an Ethernet + ARP request from `spa` at `srcMac` for `tpa` at b[o] and returns its length:
 * broadcast when `dstMac` is null, else unicast to it; target hardware address zero either way
 * (arp_solicit). With spa = tpa it is an RFC 5227 announcement.
 */
function emitArpRequest(
  b: Uint8Array,
  o: number,
  srcMac: Uint8Array,
  spa: number,
  tpa: number,
  dstMac: Uint8Array | null,
): number {
  for (let i = 0; i < 6; i++) b[o + i] = dstMac === null ? 0xff : dstMac[i]!;
  b.set(srcMac.subarray(0, 6), o + 6);
  setU16(b, o + 12, etherType.ARP);
  const r = arpRepr;
  r.op = arp.OP_REQUEST;
  r.sha.set(srcMac.subarray(0, 6));
  r.spa = spa;
  r.tha.fill(0);
  r.tpa = tpa;
  arp.emit(r, b, o + 14);
  return 14 + arp.HEADER_LEN;
}

/**
 * Writes an Ethernet + IPv6 + Neighbor Solicitation for `target` at b[o] and returns its length.
 * `dstMac` null: to the solicited-node multicast group; else unicast to target at that MAC.
 */
export function emitNs(
  b: Uint8Array,
  o: number,
  srcMac: Uint8Array,
  src: Uint8Array,
  target: Uint8Array,
  dstMac: Uint8Array | null,
): number {
  const dst = ip6Repr.dst;
  if (dstMac === null) solicitedNode(target, dst);
  else dst.set(target.subarray(0, 16));
  return emitNd(b, o, srcMac, src, dstMac, icmpv6.NEIGHBOR_SOLICIT, 0, target);
}

/** Writes an unsolicited NA for our address `addr` (to ff02::1, O set, TLL = srcMac) at b[o]; its length. */
export function emitUnsolicitedNa(b: Uint8Array, o: number, srcMac: Uint8Array, addr: Uint8Array): number {
  ip6Repr.dst.set(ALL_NODES);
  return emitNd(b, o, srcMac, addr, null, icmpv6.NEIGHBOR_ADVERT, icmpv6.NA_OVERRIDE, addr);
}

/**
 * Ethernet + IPv6 (hop limit 255, to ip6Repr.dst) + an ND message with one link-layer option of ours:
 * Source for an NS, Target for an NA. `dstMac` null: the multicast MAC of ip6Repr.dst (RFC 2464 §7:
 * 33:33 and the group's low 32 bits).
 */
function emitNd(
  b: Uint8Array,
  o: number,
  srcMac: Uint8Array,
  src: Uint8Array,
  dstMac: Uint8Array | null,
  type: number,
  rest: number,
  target: Uint8Array,
): number {
  const ip = o + 14;
  const r6 = ip6Repr;
  r6.trafficClass = 0;
  r6.flowLabel = 0;
  r6.payloadLen = NS_LEN;
  r6.nextHeader = ipProto.ICMPV6;
  r6.hopLimit = 255;
  r6.src.set(src.subarray(0, 16));
  if (dstMac === null) {
    b[o] = 0x33;
    b[o + 1] = 0x33;
    for (let i = 0; i < 4; i++) b[o + 2 + i] = r6.dst[12 + i]!;
  } else for (let i = 0; i < 6; i++) b[o + i] = dstMac[i]!;
  b.set(srcMac.subarray(0, 6), o + 6);
  setU16(b, o + 12, etherType.IPV6);
  ipv6.emit(r6, b, ip);
  const m = icmpRepr;
  const solicit = type === icmpv6.NEIGHBOR_SOLICIT;
  m.type = type;
  m.code = 0;
  m.checksum = 0;
  m.rest = rest;
  m.target.set(target.subarray(0, 16));
  m.hasSll = solicit;
  m.hasTll = !solicit;
  (solicit ? m.sll : m.tll).set(srcMac.subarray(0, 6));
  const at = ip + ipv6.HEADER_LEN;
  icmpv6.emit(m, b, at);
  icmpv6.fillChecksum(b, ip, at, at + NS_LEN);
  return 14 + ipv6.HEADER_LEN + NS_LEN;
}

/**
 * nvo's underlay MAC is now `mac` (daemon: the underlay device came back with another address, or
 * was given one): frames, templates (rebuilt: the neighbour generation moves) and answers use it from
 * here on, and every address we own is announced on every underlay port (see the header). False when
 * it is the MAC we have.
 */
export function announceUnderlayMac(sw: Switch, mac: Uint8Array): boolean {
  let same = true;
  for (let i = 0; i < 6; i++) same &&= sw.underlayMac[i] === mac[i];
  if (same) return false;
  sw.underlayMac.set(mac.subarray(0, 6));
  sw.neighbours.invalidate();
  sw.counters.add('underlay-mac-changed');
  announceAddresses(sw);
  return true;
}

/**
 * Announces every address nvo owns with its underlay MAC on every underlay port (see the header).
 * Sent again by the caller after a change (control/port-watch.ts: RFC 5227 §1.1 ANNOUNCE_NUM 2,
 * ANNOUNCE_INTERVAL 2 s): a peer whose own device was coming back at the same moment missed the first.
 */
export function announceAddresses(sw: Switch): void {
  // Our IPv6 addresses: the table's and the IPv6 tunnels' local ones (nd.ts isOurs6), each once.
  const v6 = [...sw.neighbours.local6];
  for (const t of sw.tunnels) {
    const tp = t.tunnel!;
    if (tp.ipVersion === 6 && !v6.some((a) => a.every((x, i) => x === tp.local[i]))) v6.push(tp.local);
  }
  for (const port of sw.underlays) {
    for (const ip4 of sw.localIps4) {
      const q = sw.pool.alloc();
      if (q === null) break;
      q.end = q.start + emitArpRequest(q.buf, q.start, sw.underlayMac, ip4, ip4, null);
      sw.counters.add('tx-arp-announce');
      sw.stage(port, q);
    }
    for (const a of v6) {
      const q = sw.pool.alloc();
      if (q === null) break;
      q.end = q.start + emitUnsolicitedNa(q.buf, q.start, sw.underlayMac, a);
      sw.counters.add('tx-nd-na-unsolicited');
      sw.stage(port, q);
    }
  }
}

/** ff02::1:ff00:0/104 | the target's low 24 bits (RFC 4291 §2.7.1). */
export function solicitedNode(target: Uint8Array, out: Uint8Array): void {
  out.fill(0);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 0x01;
  out[12] = 0xff;
  out[13] = target[13]!;
  out[14] = target[14]!;
  out[15] = target[15]!;
}
