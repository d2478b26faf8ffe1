// IPv6 Neighbor Discovery on the underlay (RFC 4861), for the IPv6 addresses nvo owns: what the
// kernel's ndisc.c does for a host, minus routers, redirects and DAD.
//
//   validate  RFC 4861 §7.1.1 / §7.1.2, each failure a named, counted drop:
//             drop-nd-truncated        IPv6 payload or ICMPv6 shorter than the message (< 24 bytes)
//             drop-nd-hop-limit        Hop Limit ≠ 255 (the message crossed a router)
//             drop-nd-bad-checksum     ICMPv6 checksum (pseudo-header included) wrong
//             drop-nd-bad-code         ICMP Code ≠ 0
//             drop-nd-bad-option       an option of length 0 or running past the message
//             drop-nd-multicast-target Target Address is multicast
//             drop-nd-dad-bad          from :: with a Source Link-Layer option, or not to solicited-node
//             drop-nd-na-bad-flags     NA to a multicast destination with S set
//   NS        for one of our addresses: the sender (with its SLL option) updates or enters the table
//             (STALE), and we answer as Linux ndisc_recv_ns does: NA from the target address, R clear,
//             S set (clear, to ff02::1, when the NS came from :: — someone's DAD, which we defend),
//             O and the Target Link-Layer option only when the NS was multicast (unicast NS: the
//             asker has our MAC already). Other targets: drop-nd-ns-not-ours.
//   NA        for an entry we have (RFC 4861 §7.2.5): INCOMPLETE takes the TLL (none: drop-nd-na-no-tll)
//             and becomes REACHABLE (S) or STALE, and the packets that waited go out; a known entry
//             with O clear and a different TLL is not overridden (REACHABLE → STALE); S confirms.
//             NA for an address we never asked about: drop-nd-na-untracked (Linux ignores unsolicited
//             NAs for unknown targets too); for our own address: drop-nd-na-our-address (a duplicate).
//
// Echo requests to our addresses are answered (echo-reply.ts); other ICMPv6 to nvo (RS, RA, MLD…)
// are counted drops: drop-underlay-icmpv6-not-nd.
// nvo does no DAD for its own addresses (they are configured, like `ip addr add … nodad`), has no
// link-local address, and sends NS from the tunnel's local address (neighbour-probes.ts).
import { CSUM_VALID, type Packet } from '../packet/packet.ts';
import {
  type NeighbourEntry,
  NUD_INCOMPLETE,
  NUD_REACHABLE,
  NUD_STALE,
  sameMac,
} from '../tunnel/neighbours.ts';
import { setU16 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import * as icmpv6 from '../wire/icmpv6.ts';
import * as ipProto from '../wire/ip-proto.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { BAD_FLAGS, OK, TRUNCATED } from '../wire/status.ts';
import { echo6 } from './echo-reply.ts';
import type { Port } from './port.ts';
import type { Switch } from './switch.ts';
import { flushPending } from './tunnel-output.ts';

const ip6 = ipv6.newRepr();
const msg = icmpv6.newRepr();

/** True when the frame at p (Ethernet, no VLAN) is IPv6 carrying ICMPv6 right after the fixed header. */
export function isIcmpv6(b: Uint8Array, o: number, end: number): boolean {
  return (
    end - o >= 14 + ipv6.HEADER_LEN &&
    b[o + 12] === 0x86 &&
    b[o + 13] === 0xdd &&
    b[o + 20] === ipProto.ICMPV6
  );
}

/** Handles an ICMPv6 frame from the underlay; consumes p (answered, learned from, or dropped). */
export function ndInput(sw: Switch, port: Port, p: Packet): void {
  const l3 = p.start + 14;
  if (p.end - l3 > ipv6.HEADER_LEN && p.buf[l3 + ipv6.HEADER_LEN] === icmpv6.ECHO_REQUEST) {
    echo6(sw, port, p, isOurs6(sw, p.buf, l3 + ipv6.DST)); // echo-reply.ts: ping to our address
    return;
  }
  let why = validate(p, l3);
  if (why === '')
    why = msg.type === icmpv6.NEIGHBOR_SOLICIT ? solicitation(sw, port, p, l3) : advertisement(sw, port, p);
  if (why !== '') sw.drop(p, sw.counters.id(why));
}

/** '' when the message at l3 (parsed into ip6 / msg) is a valid NS or NA, else the drop reason. */
function validate(p: Packet, l3: number): string {
  const b = p.buf;
  if (ipv6.parse(b, l3, p.end, ip6) !== OK) return 'drop-nd-truncated';
  const o = l3 + ipv6.HEADER_LEN;
  const end = o + ip6.payloadLen; // Ethernet padding after it is not part of the message
  const st = icmpv6.parse(b, o, end, msg);
  if (msg.type !== icmpv6.NEIGHBOR_SOLICIT && msg.type !== icmpv6.NEIGHBOR_ADVERT)
    return 'drop-underlay-icmpv6-not-nd';
  if (st === TRUNCATED) return 'drop-nd-truncated';
  if (ip6.hopLimit !== 255) return 'drop-nd-hop-limit';
  if ((p.flags & CSUM_VALID) === 0 && !icmpv6.verifyChecksum(b, l3, o, end)) return 'drop-nd-bad-checksum';
  if (msg.code !== 0) return 'drop-nd-bad-code';
  if (st !== OK) return 'drop-nd-bad-option';
  if (msg.target[0] === 0xff) return 'drop-nd-multicast-target';
  const valid = icmpv6.checkNd(b, l3, o, end, msg);
  if (valid === BAD_FLAGS) return 'drop-nd-na-bad-flags';
  if (valid !== OK) return 'drop-nd-dad-bad'; // BAD_OPTION or BAD_FIELD: the §7.1.1 DAD rules
  return '';
}

/** Ours: an address from the configuration or a tunnel port's local_ip. */
export function isOurs6(sw: Switch, a: Uint8Array, o: number): boolean {
  if (sw.neighbours.isLocal6(a, o)) return true;
  for (let k = 0; k < sw.tunnels.length; k++) {
    const t = sw.tunnels[k]!.tunnel!;
    if (t.ipVersion !== 6) continue;
    let same = true;
    for (let i = 0; i < 16 && same; i++) same = t.local[i] === a[o + i];
    if (same) return true;
  }
  return false;
}

/** Answers an NS for one of our addresses in place (p is sent); else the drop reason. */
function solicitation(sw: Switch, port: Port, p: Packet, l3: number): string {
  if (!isOurs6(sw, msg.target, 0)) return 'drop-nd-ns-not-ours';
  const dad = isUnspecified(ip6.src);
  const multicast = ip6.dst[0] === 0xff;
  if (!dad && msg.hasSll) overheard(sw, port, ip6.src, msg.sll);
  sw.counters.add('rx-nd-ns');
  // The answer, in place: Ethernet back to the asker (all-nodes for DAD), IPv6 from the target.
  const b = p.buf;
  const o = p.start;
  const withTll = multicast || dad;
  const len = icmpv6.ND_LEN + (withTll ? 8 : 0);
  if (l3 + ipv6.HEADER_LEN + len > b.length) return 'drop-no-headroom';
  if (dad) {
    b[o] = 0x33;
    b[o + 1] = 0x33;
    b[o + 2] = 0;
    b[o + 3] = 0;
    b[o + 4] = 0;
    b[o + 5] = 1;
    ip6.dst.fill(0);
    ip6.dst[0] = 0xff;
    ip6.dst[1] = 0x02;
    ip6.dst[15] = 1;
  } else {
    b.copyWithin(o, o + 6, o + 12);
    ip6.dst.set(ip6.src);
  }
  b.set(sw.underlayMac, o + 6);
  setU16(b, o + 12, etherType.IPV6);
  ip6.src.set(msg.target);
  ip6.trafficClass = 0;
  ip6.flowLabel = 0;
  ip6.payloadLen = len;
  ip6.nextHeader = ipProto.ICMPV6;
  ip6.hopLimit = 255;
  ipv6.emit(ip6, b, l3);
  msg.type = icmpv6.NEIGHBOR_ADVERT;
  msg.code = 0;
  msg.checksum = 0;
  msg.rest = (dad ? 0 : icmpv6.NA_SOLICITED) | (withTll ? icmpv6.NA_OVERRIDE : 0);
  msg.hasSll = false;
  msg.hasTll = withTll;
  msg.tll.set(sw.underlayMac);
  const at = l3 + ipv6.HEADER_LEN;
  icmpv6.emit(msg, b, at);
  icmpv6.fillChecksum(b, l3, at, at + len);
  p.end = at + len;
  p.flags &= ~CSUM_VALID;
  sw.counters.add('tx-nd-na');
  sw.stage(port, p);
  return '';
}

/** A neighbour's address heard in an NS for us: update its entry, or enter it as STALE. */
function overheard(sw: Switch, port: Port, ip: Uint8Array, mac: Uint8Array): void {
  if ((mac[0]! & 1) !== 0) return; // a multicast link-layer address is never a neighbour's
  const nb = sw.neighbours;
  const e = nb.lookup6(ip, 0);
  if (e !== undefined) {
    nb.update(e, mac, port.no, NUD_STALE, sw.now);
    if (e.queued > 0 && e.valid) flushPending(sw, e);
  } else if (nb.create6(ip, 0, port.no, sw.now, mac, NUD_STALE) === null)
    sw.counters.add('drop-neighbour-table-full');
}

/** Applies an NA to its entry (p is freed); else the drop reason. */
function advertisement(sw: Switch, port: Port, p: Packet): string {
  if (isOurs6(sw, msg.target, 0)) return 'drop-nd-na-our-address';
  const nb = sw.neighbours;
  const e = nb.lookup6(msg.target, 0);
  if (e === undefined) return 'drop-nd-na-untracked';
  const solicited = (msg.rest & icmpv6.NA_SOLICITED) !== 0;
  const override = (msg.rest & icmpv6.NA_OVERRIDE) !== 0;
  const tll = msg.hasTll && (msg.tll[0]! & 1) === 0 ? msg.tll : null;
  if (e.state === NUD_INCOMPLETE) {
    if (tll === null) return 'drop-nd-na-no-tll';
    nb.update(e, tll, port.no, solicited ? NUD_REACHABLE : NUD_STALE, sw.now);
  } else if (!apply(sw, e, port, tll, solicited, override)) return 'drop-nd-na-no-override';
  sw.counters.add('rx-nd-na');
  p.owner?.free(p);
  if (e.queued > 0 && e.valid) flushPending(sw, e);
  return '';
}

/** RFC 4861 §7.2.5 for an entry with a MAC; false when the NA was ignored. */
function apply(
  sw: Switch,
  e: NeighbourEntry,
  port: Port,
  tll: Uint8Array | null,
  solicited: boolean,
  override: boolean,
): boolean {
  const differs = tll !== null && !sameMac(e.mac, tll);
  if (!override && differs) {
    // Another MAC without O: keep ours but stop trusting it.
    if (e.state === NUD_REACHABLE) e.state = NUD_STALE;
    return false;
  }
  if (differs) sw.neighbours.update(e, tll!, port.no, solicited ? NUD_REACHABLE : NUD_STALE, sw.now);
  else if (solicited) sw.neighbours.update(e, e.mac, port.no, NUD_REACHABLE, sw.now);
  return true;
}

function isUnspecified(a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}
