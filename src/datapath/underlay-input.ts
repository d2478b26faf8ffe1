// Underlay receive: what arrives on nvo's physical side.
//
//   ARP for one of nvo's underlay addresses → answered here; any ARP teaches the neighbour table
//   IPv4/IPv6 to one of nvo's addresses carrying a tunnel → decapsulated to tunnel metadata, then
//       matched against the tunnel ports (encapsulation, UDP port, local/remote address, key)
//   anything else → a named drop (nvo's underlay address belongs to nvo: nothing leaks to a host stack)
//
// Decapsulation strips the outer headers by moving p.start; the inner frame then goes through the one
// flow lookup, on tunnel metadata + inner headers.
import {
  CSUM_VALID,
  ENCAP_GRE,
  ENCAP_NVGRE,
  ENCAP_VXLAN,
  ENCAP_VXLAN_SOE,
  GSO_TCPV4,
  GSO_TCPV6,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import { GSO_UDP_TUNNEL } from '../offload/tunnel-gso.ts';
import { decapFrame, newDecap } from '../tunnel/decap-frame.ts';
import * as R from '../tunnel/decap-reasons.ts';
import * as arp from '../wire/arp.ts';
import { u16, u32 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import { OK } from '../wire/status.ts';
import { KIND_TUNNEL, type Port } from './port.ts';
import type { Switch } from './switch.ts';

const d = newDecap();
const opts = { verifyChecksums: true };
const arpRepr = arp.newRepr();

export function underlayInput(sw: Switch, port: Port, p: Packet): Port | null {
  const b = p.buf;
  const o = p.start;
  if (p.end - o < 14) return drop(sw, p, 'drop-underlay-truncated');
  const toUs =
    (b[o]! & 1) === 1 ||
    (b[o] === sw.underlayMac[0] &&
      u32(b, o + 2) === u32(sw.underlayMac, 2) &&
      b[o + 1] === sw.underlayMac[1]);
  if (!toUs) return drop(sw, p, 'drop-underlay-not-our-mac');
  const type = u16(b, o + 12);
  if (type === etherType.ARP) {
    handleArp(sw, port, p);
    return null;
  }
  // A frame from a vnet_hdr port may carry a partial outer checksum (NEEDS_CSUM: the kernel never
  // finished it, veth to veth) or one the kernel already checked (CSUM_VALID): verify only the others.
  opts.verifyChecksums = (p.flags & (NEEDS_CSUM | CSUM_VALID)) === 0;
  const st = decapFrame(b, o, p.end, 1, opts, d);
  if (st !== R.OK) return drop(sw, p, `drop-underlay-${R.reasonName(st)}`);
  // Outer addresses and the owning tunnel port.
  const l3 = d.l3;
  const v4 = d.ipVersion === 4;
  const dst = v4 ? u32(b, l3 + 16) : 0;
  if (v4 && !sw.localIps4.has(dst)) return drop(sw, p, 'drop-underlay-not-our-ip');
  let tp: Port | null = null;
  for (let i = 0; i < sw.tunnels.length; i++) {
    const q = sw.tunnels[i]!;
    const t = q.tunnel!;
    // GRE with only K set and type 0x6558 *is* the NVGRE format: the port's type says how to read the key.
    const encapOk =
      t.encap === d.encap ||
      (t.encap === ENCAP_VXLAN_SOE && d.encap === ENCAP_VXLAN) ||
      (t.encap === ENCAP_GRE && d.encap === ENCAP_NVGRE);
    // NVGRE's key is VSID (24) | FlowID (8): tun_id is the VSID.
    const idLo = t.encap === ENCAP_NVGRE ? d.idLo >>> 8 : d.idLo >>> 0;
    if (!encapOk || t.ipVersion !== d.ipVersion) continue;
    if (t.dstPort !== 0 && d.dstPort !== t.dstPort && d.protocol === 17) continue;
    if (!sameAddr(t.local, b, l3 + (v4 ? 16 : 24), v4 ? 4 : 16)) continue;
    if (t.remote && !sameAddr(t.remote, b, l3 + (v4 ? 12 : 8), v4 ? 4 : 16)) continue;
    if (!t.keyFromFlow && (t.keyLo !== idLo || t.keyHi !== d.idHi >>> 0)) continue;
    d.idLo = idLo;
    tp = q;
    break;
  }
  if (tp === null) return drop(sw, p, 'drop-underlay-no-tunnel-port');
  if (d.innerType !== etherType.TEB) return drop(sw, p, 'drop-tunnel-inner-not-ethernet');
  // Tunnel metadata, as OVS's flow_tnl: id, outer src/dst, TOS, TTL.
  p.tunEncap = tp.tunnel!.encap;
  p.tunIdHi = d.idHi >>> 0;
  p.tunIdLo = d.idLo >>> 0;
  p.tunIpVersion = d.ipVersion;
  p.tunSrcPort = d.srcPort;
  p.tunDstPort = d.dstPort;
  // Byte loops, not set(subarray()): a subarray is an allocation per packet.
  if (v4) {
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
  // A GRO aggregate of tunnel packets: after decap it is a plain inner superframe (drop the
  // encapsulated-GSO bits 0x20/0x40 that GRO set).
  if (p.gsoType !== 0) p.gsoType &= ~GSO_UDP_TUNNEL;
  if (d.encap === ENCAP_VXLAN_SOE && d.mss > 0) {
    // One unsegmented guest frame: hand it on as a superframe that the guest port (or software GSO)
    // cuts at the carried MSS.
    p.flags |= SUPERFRAME;
    p.gsoSize = d.mss;
    p.gsoType = u16(b, d.inner + 12) === etherType.IPV6 ? GSO_TCPV6 : GSO_TCPV4;
  }
  if ((p.flags & NEEDS_CSUM) !== 0 && p.csumStart < d.inner) {
    // The pending checksum was the outer one (the sender's kernel left its UDP/GRE checksum partial
    // across a veth, with the inner one filled in by local checksum offload): it goes with the outer
    // headers, and the inner frame counts as verified, as the kernel treats CHECKSUM_PARTIAL on rx.
    p.flags = (p.flags & ~NEEDS_CSUM) | CSUM_VALID;
  }
  p.start = d.inner;
  p.end = d.innerEnd;
  p.l2 = p.l3 = p.l4 = -1;
  p.innerL2 = p.innerL3 = p.innerL4 = -1;
  return tp.kind === KIND_TUNNEL ? tp : null;
}

function handleArp(sw: Switch, port: Port, p: Packet): void {
  const b = p.buf;
  const o = p.start + 14;
  if (arp.parse(b, o, p.end, arpRepr) !== OK) {
    drop(sw, p, 'drop-underlay-bad-arp');
    return;
  }
  // RFC 826: merge the sender into the table (request or reply), then answer requests for our address.
  if (arpRepr.spa !== 0) sw.neighbours.set4(arpRepr.spa, arpRepr.sha, port.no, sw.now);
  if (arpRepr.op === arp.OP_REQUEST && sw.localIps4.has(arpRepr.tpa)) {
    // Turn the request into the reply in place.
    const target = arpRepr.tpa;
    arpRepr.op = arp.OP_REPLY;
    arpRepr.tha.set(arpRepr.sha);
    arpRepr.tpa = arpRepr.spa;
    arpRepr.sha.set(sw.underlayMac);
    arpRepr.spa = target;
    b.copyWithin(p.start, p.start + 6, p.start + 12);
    b.set(sw.underlayMac, p.start + 6);
    arp.emit(arpRepr, b, o);
    sw.counters.add('tx-arp-reply');
    sw.stage(port, p);
    return;
  }
  sw.counters.add('rx-arp');
  p.owner?.free(p);
}

function drop(sw: Switch, p: Packet, reason: string): null {
  sw.drop(p, sw.counters.id(reason));
  return null;
}

function sameAddr(a: Uint8Array, b: Uint8Array, o: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[o + i]) return false;
  return true;
}

function copy(b: Uint8Array, o: number, to: Uint8Array, n: number): void {
  for (let i = 0; i < n; i++) to[i] = b[o + i]!;
}
