// Transmit packing for a raw underlay port with UDP GSO (the port's `uso`): a run of consecutive
// small UDP datagrams of one flow — what a burst of one guest flow's small packets becomes after
// encapsulation — leaves as ONE UDP GSO superframe, and the kernel cuts it back into the same
// datagrams (UDP_SEGMENT semantics: the Ethernet, IPv4 and UDP headers replicated per gso_size bytes
// of payload, IPv4 ID + 1 and both checksums per datagram). One packet-socket send, one skb and one
// receive-side GRO aggregate per run instead of one of each per datagram: at 64-B frames the kernel's
// per-packet work on both ends is most of what the path costs (performance.md §1.2: ~4 µs a packet).
//
// A run: datagrams in IPv4 (no options, not a fragment) over untagged Ethernet, all of one length,
// whose Ethernet header, IPv4 TOS, flags, TTL, protocol and addresses, and UDP ports are equal; only
// the IPv4 length, ID and checksum and the UDP length and checksum may differ (the kernel rewrites
// them), and no frame has offload state of its own (a superframe, a partial checksum). The packed
// frame's UDP checksum is partial (pseudo-header seeded), so the kernel computes a real one per
// datagram even where the originals carried zero (VXLAN's default; RFC 7348 §5 lets a receiver
// accept either, and nvo's USO path does the same). At most PACK_MAX datagrams (UDP_MAX_SEGMENTS
// before Linux 6.9) and an IPv4 total length ≤ 65,535:
//   n ≤ (65,535 − 20 − 8) / payload, e.g. 963 for 68-byte VXLAN payloads (64-B inner frames): 64 rule.
import { copyBytes } from '../offload/csum-fast.ts';
import type { Packet } from '../packet/packet.ts';
import { NEEDS_CSUM, SUPERFRAME } from '../packet/packet.ts';
import { setU16, u16 } from '../wire/bytes.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { fillPseudo } from '../wire/udp.ts';

export const PACK_MAX = 64;
/** Ethernet 14 + IPv4 20 + UDP 8: the headers every datagram of a run repeats. */
export const PACK_HDR = 42;
const IP = 14;
const UDP = 34;

/** Whether p alone may start or join a run: plain untagged IPv4/UDP, no options, no fragment. */
function eligible(p: Packet): boolean {
  if ((p.flags & (SUPERFRAME | NEEDS_CSUM)) !== 0) return false;
  const b = p.buf;
  const s = p.start;
  const len = p.end - s;
  return (
    len > PACK_HDR &&
    b[s + 12] === 0x08 &&
    b[s + 13] === 0x00 &&
    b[s + IP] === 0x45 &&
    b[s + IP + 9] === 17 &&
    (u16(b, s + IP + 6) & 0x3fff) === 0 &&
    u16(b, s + IP + 2) === len - IP &&
    u16(b, s + UDP + 4) === len - UDP
  );
}

/** Same length and the same bytes where the run's datagrams must agree (see the top). */
function sameFlow(a: Packet, c: Packet): boolean {
  if (c.end - c.start !== a.end - a.start) return false;
  const x = a.buf;
  const y = c.buf;
  const i = a.start;
  const j = c.start;
  for (let k = 0; k < 14; k++) if (x[i + k] !== y[j + k]) return false;
  // TOS; flags (DF); TTL and protocol; addresses and ports: bytes 15, 20, 22–23, 26–37.
  if (x[i + IP + 1] !== y[j + IP + 1] || x[i + IP + 6] !== y[j + IP + 6]) return false;
  for (let k = IP + 8; k < IP + 10; k++) if (x[i + k] !== y[j + k]) return false;
  for (let k = IP + 12; k < UDP + 4; k++) if (x[i + k] !== y[j + k]) return false;
  return true;
}

/** Length of the packable run starting at packets[from] (1 when none: send it as it is). */
export function packableRun(packets: readonly (Packet | null)[], from: number, count: number): number {
  const a = packets[from]!;
  if (from + 1 >= count || !eligible(a)) return 1;
  const payload = a.end - a.start - PACK_HDR;
  const max = Math.min(PACK_MAX, count - from, Math.floor((65535 - 28) / payload));
  let n = 1;
  while (n < max) {
    const c = packets[from + n]!;
    if (!eligible(c) || !sameFlow(a, c)) break;
    n++;
  }
  return n;
}

/**
 * Writes the run packets[from, from + n) as one superframe at dst[0…) and returns its length: the
 * first datagram's headers with the lengths of the whole, a fresh IPv4 checksum and a pseudo-header
 * UDP checksum, then every datagram's payload in order. The caller sends it with virtio NEEDS_CSUM
 * (csum_start PACK_HDR − 8, csum_offset 6), GSO_UDP_L4 and gso_size = the payload length.
 */
export function packRun(
  packets: readonly (Packet | null)[],
  from: number,
  n: number,
  dst: Uint8Array,
): number {
  const a = packets[from]!;
  const payload = a.end - a.start - PACK_HDR;
  // copyBytes, not set(subarray): no view object per datagram.
  copyBytes(a.buf, a.start, dst, 0, PACK_HDR);
  let o = PACK_HDR;
  for (let k = 0; k < n; k++) {
    const p = packets[from + k]!;
    copyBytes(p.buf, p.start + PACK_HDR, dst, o, payload);
    o += payload;
  }
  setU16(dst, IP + 2, o - IP);
  ipv4.fillChecksum(dst, IP);
  setU16(dst, UDP + 4, o - UDP);
  fillPseudo(dst, IP, UDP);
  return o;
}
