// Writes a modified flow key back into the packet (OVS's "commit" of set-field actions before an
// output): every field that differs between `cur` (what the packet's bytes say now) and `want` (after the
// actions) is rewritten in place, with checksums updated incrementally (RFC 1624 eqn. 3), never recomputed:
//
//   IPv4 src/dst  → IPv4 header checksum, and the TCP/UDP checksum (the addresses are in the pseudo-header)
//   IPv4 TOS/TTL  → IPv4 header checksum (TTL shares a 16-bit word with the protocol: update that word)
//   IPv6 src/dst  → TCP/UDP/ICMPv6 checksum (no IPv6 header checksum)
//   L4 ports      → TCP/UDP checksum; a UDP checksum of 0 over IPv4 means "none" and stays 0
//
// A packet whose L4 checksum is partial (NEEDS_CSUM: the field holds the pseudo-header sum) gets the
// pseudo-header part updated the same way, since the sum is linear; port changes don't touch it then.
// VLAN: push inserts 4 bytes by moving the two MACs 4 bytes into headroom (the payload stays put), pop
// moves them back; header offsets l3/l4 are unchanged by either.
import {
  DL_DST,
  DL_SRC,
  type FlowKey,
  IPV6_DST,
  IPV6_SRC,
  NW_DST,
  NW_PROTO,
  NW_SRC,
  NW_TOS,
  NW_TTL,
  TP_DST,
  TP_SRC,
  VLAN_CFI,
  VLAN_TCI,
} from '../flow/key.ts';
import { NEEDS_CSUM, type Packet } from '../packet/packet.ts';
import { setU16, setU32, u16 } from '../wire/bytes.ts';
import { update16, update32 } from '../wire/checksum.ts';

const TCP = 6;
const UDP = 17;
const ICMPV6 = 58;

/** Offset of the L4 checksum field, or -1 when the protocol has none we maintain. */
function l4CsumAt(proto: number, l4: number): number {
  if (proto === TCP) return l4 + 16;
  if (proto === UDP) return l4 + 6;
  if (proto === ICMPV6) return l4 + 2;
  return -1;
}

/** Rewrites the packet so that it matches `want`; afterwards the caller treats `want` as current. */
export function commit(p: Packet, cur: FlowKey, want: FlowKey): boolean {
  const b = p.buf;
  // VLAN first: it moves the MACs (and p.start / p.l2).
  if (cur[VLAN_TCI] !== want[VLAN_TCI]) {
    const had = (cur[VLAN_TCI]! & VLAN_CFI) !== 0;
    const has = (want[VLAN_TCI]! & VLAN_CFI) !== 0;
    if (!had && has) {
      if (p.start < 4) return false;
      b.copyWithin(p.start - 4, p.start, p.start + 12);
      p.start -= 4;
      setU16(b, p.start + 12, 0x8100);
    } else if (had && !has) {
      b.copyWithin(p.start + 4, p.start, p.start + 12);
      p.start += 4;
    }
    if (has) setU16(b, p.start + 14, want[VLAN_TCI]! & ~VLAN_CFI & 0xffff);
    p.l2 = p.start;
  }
  if (cur[DL_DST] !== want[DL_DST] || cur[DL_DST + 1] !== want[DL_DST + 1]) {
    setU16(b, p.start, want[DL_DST]!);
    setU32(b, p.start + 2, want[DL_DST + 1]!);
  }
  if (cur[DL_SRC] !== want[DL_SRC] || cur[DL_SRC + 1] !== want[DL_SRC + 1]) {
    setU16(b, p.start + 6, want[DL_SRC]!);
    setU32(b, p.start + 8, want[DL_SRC + 1]!);
  }
  const l3 = p.l3;
  if (l3 < 0) return true;
  const version = b[l3]! >>> 4;
  const proto = want[NW_PROTO]!;
  // Later fragments have no L4 header: only the first fragment's L4 checksum is touched.
  const l4 = p.l4;
  const csumAt = l4 >= 0 ? l4CsumAt(proto, l4) : -1;
  const partial = (p.flags & NEEDS_CSUM) !== 0;
  let l4csum = csumAt >= 0 ? u16(b, csumAt) : 0;
  // UDP over IPv4 with checksum 0 carries none (RFC 768); leave it so.
  const l4live = csumAt >= 0 && !(proto === UDP && version === 4 && l4csum === 0);
  // For a partial checksum the field holds the (uncomplemented) pseudo-header sum: update the
  // complement and complement back, which is the same arithmetic on ~field.
  if (partial) l4csum = ~l4csum & 0xffff;
  if (version === 4) {
    let hc = u16(b, l3 + 10);
    if (cur[NW_SRC] !== want[NW_SRC]) {
      hc = update32(hc, cur[NW_SRC]!, want[NW_SRC]!);
      if (l4live) l4csum = update32(l4csum, cur[NW_SRC]!, want[NW_SRC]!);
      setU32(b, l3 + 12, want[NW_SRC]!);
    }
    if (cur[NW_DST] !== want[NW_DST]) {
      hc = update32(hc, cur[NW_DST]!, want[NW_DST]!);
      if (l4live) l4csum = update32(l4csum, cur[NW_DST]!, want[NW_DST]!);
      setU32(b, l3 + 16, want[NW_DST]!);
    }
    if (cur[NW_TOS] !== want[NW_TOS]) {
      const old = u16(b, l3);
      b[l3 + 1] = want[NW_TOS]!;
      hc = update16(hc, old, u16(b, l3));
    }
    if (cur[NW_TTL] !== want[NW_TTL]) {
      const old = u16(b, l3 + 8);
      b[l3 + 8] = want[NW_TTL]!;
      hc = update16(hc, old, u16(b, l3 + 8));
    }
    setU16(b, l3 + 10, hc);
  } else if (version === 6) {
    for (let w = 0; w < 4; w++) {
      if (cur[IPV6_SRC + w] !== want[IPV6_SRC + w]) {
        if (l4live) l4csum = update32(l4csum, cur[IPV6_SRC + w]!, want[IPV6_SRC + w]!);
        setU32(b, l3 + 8 + 4 * w, want[IPV6_SRC + w]!);
      }
      if (cur[IPV6_DST + w] !== want[IPV6_DST + w]) {
        if (l4live) l4csum = update32(l4csum, cur[IPV6_DST + w]!, want[IPV6_DST + w]!);
        setU32(b, l3 + 24 + 4 * w, want[IPV6_DST + w]!);
      }
    }
    if (cur[NW_TOS] !== want[NW_TOS]) {
      const tc = want[NW_TOS]!;
      b[l3] = 0x60 | (tc >>> 4);
      b[l3 + 1] = ((tc & 0x0f) << 4) | (b[l3 + 1]! & 0x0f);
    }
    if (cur[NW_TTL] !== want[NW_TTL]) b[l3 + 7] = want[NW_TTL]!;
  }
  if (l4 >= 0 && (proto === TCP || proto === UDP)) {
    if (cur[TP_SRC] !== want[TP_SRC]) {
      if (l4live && !partial) l4csum = update16(l4csum, cur[TP_SRC]!, want[TP_SRC]!);
      setU16(b, l4, want[TP_SRC]!);
    }
    if (cur[TP_DST] !== want[TP_DST]) {
      if (l4live && !partial) l4csum = update16(l4csum, cur[TP_DST]!, want[TP_DST]!);
      setU16(b, l4 + 2, want[TP_DST]!);
    }
  }
  if (l4live) {
    if (partial) l4csum = ~l4csum & 0xffff;
    // A UDP checksum that comes out 0 is sent as 0xffff (RFC 768): 0 would mean "no checksum".
    else if (proto === UDP && l4csum === 0) l4csum = 0xffff;
    setU16(b, csumAt, l4csum);
  }
  return true;
}
