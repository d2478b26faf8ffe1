// Ping to nvo's own underlay addresses (ICMP echo, RFC 792; ICMPv6 echo, RFC 4443 §4.1): the address
// belongs to nvo, not to a host stack, so nvo answers, and `ping <VTEP address>` works as it would
// against a kernel VTEP. The reply is the request turned around in place: MACs and addresses swapped,
// TTL / hop limit 64, type 0 / 129, checksums computed anew (the IPv4 header's and the ICMP one over
// the message; ICMPv6's with its pseudo-header). Ethernet padding is cut off.
//
// Named drops: drop-icmp-bad-checksum (IPv4 header or ICMP), drop-icmp-fragment (an echo request in
// fragments: nvo does not reassemble traffic to itself), drop-icmp-not-echo (other ICMP to us: errors,
// timestamps…), drop-icmpv6-bad-checksum, drop-icmpv6-truncated.
import { CSUM_VALID, type Packet } from '../packet/packet.ts';
import { u16, u32 } from '../wire/bytes.ts';
import { checksum } from '../wire/checksum.ts';
import * as icmpv4 from '../wire/icmpv4.ts';
import * as icmpv6 from '../wire/icmpv6.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import type { Port } from './port.ts';
import type { Switch } from './switch.ts';

/** IPv4 carrying ICMP to one of our addresses (Ethernet at o, no VLAN). */
export function isIcmp4ToUs(sw: Switch, b: Uint8Array, o: number, end: number): boolean {
  return (
    end - o >= 14 + 20 + 8 &&
    b[o + 12] === 0x08 &&
    b[o + 13] === 0x00 &&
    b[o + 14 + 9] === 1 &&
    sw.localIps4.has(u32(b, o + 14 + 16))
  );
}

/** Answers an ICMP echo request to us in place (p is sent), else drops p with its reason. */
export function echo4(sw: Switch, port: Port, p: Packet): void {
  const why = reply4(sw, port, p);
  if (why !== '') sw.drop(p, sw.counters.id(why));
}

function reply4(sw: Switch, port: Port, p: Packet): string {
  const b = p.buf;
  const l3 = p.start + 14;
  const ihl = (b[l3]! & 15) * 4;
  const total = u16(b, l3 + 2);
  if (b[l3]! >>> 4 !== 4 || ihl < 20 || total < ihl + icmpv4.HEADER_LEN || l3 + total > p.end)
    return 'drop-icmp-truncated';
  if ((u16(b, l3 + 6) & 0x3fff) !== 0) return 'drop-icmp-fragment';
  const l4 = l3 + ihl;
  const end = l3 + total;
  if (checksum(b, l3, l4) !== 0 || ((p.flags & CSUM_VALID) === 0 && checksum(b, l4, end) !== 0))
    return 'drop-icmp-bad-checksum';
  if (b[l4] !== icmpv4.ECHO_REQUEST) return 'drop-icmp-not-echo';
  turnEthernet(sw, b, p.start);
  for (let i = 0; i < 4; i++) {
    const s = b[l3 + 12 + i]!;
    b[l3 + 12 + i] = b[l3 + 16 + i]!;
    b[l3 + 16 + i] = s;
  }
  b[l3 + 8] = 64;
  ipv4.fillChecksum(b, l3);
  b[l4] = icmpv4.ECHO_REPLY;
  icmpv4.fillChecksum(b, l4, end);
  send(sw, port, p, end, 'tx-icmp-echo-reply');
  return '';
}

/** Answers an ICMPv6 echo request to one of our IPv6 addresses (`ours`) in place, else drops p. */
export function echo6(sw: Switch, port: Port, p: Packet, ours: boolean): void {
  const why = reply6(sw, port, p, ours);
  if (why !== '') sw.drop(p, sw.counters.id(why));
}

function reply6(sw: Switch, port: Port, p: Packet, ours: boolean): string {
  const b = p.buf;
  const l3 = p.start + 14;
  if (ipv6.check(b, l3, p.end) !== 0 || ipv6.payloadLen(b, l3) < icmpv6.HEADER_LEN)
    return 'drop-icmpv6-truncated';
  if (!ours) return 'drop-icmpv6-echo-not-ours';
  const l4 = l3 + ipv6.HEADER_LEN;
  const end = ipv6.payloadEnd(b, l3);
  if ((p.flags & CSUM_VALID) === 0 && !icmpv6.verifyChecksum(b, l3, l4, end))
    return 'drop-icmpv6-bad-checksum';
  turnEthernet(sw, b, p.start);
  for (let i = 0; i < 16; i++) {
    const s = b[l3 + ipv6.SRC + i]!;
    b[l3 + ipv6.SRC + i] = b[l3 + ipv6.DST + i]!;
    b[l3 + ipv6.DST + i] = s;
  }
  b[l3 + ipv6.HOP_LIMIT] = 64;
  b[l4] = icmpv6.ECHO_REPLY;
  icmpv6.fillChecksum(b, l3, l4, end);
  send(sw, port, p, end, 'tx-icmpv6-echo-reply');
  return '';
}

/** Back to the sender: its MAC becomes the destination, ours the source. */
function turnEthernet(sw: Switch, b: Uint8Array, o: number): void {
  b.copyWithin(o, o + 6, o + 12);
  b.set(sw.underlayMac, o + 6);
}

function send(sw: Switch, port: Port, p: Packet, end: number, counter: string): void {
  p.end = end;
  p.flags &= ~CSUM_VALID;
  sw.counters.add(counter);
  sw.stage(port, p);
}
