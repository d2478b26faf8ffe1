// Receive side of tunnel USO: a UDP GSO superframe whose datagrams are complete VXLAN / VXLAN-GPE /
// Geneve packets of ONE inner TCP stream (what nvo's USO transmit makes of a guest superframe, or what
// the receiving kernel's GRO merged back from them with rx-udp-gro-forwarding) is rewritten in place
// into the form a kernel VXLAN peer hands over a veth: one tunnel packet whose inner frame is a TCP
// superframe (vnet_hdr TCPV4, gso_size = MSS, checksum partial at the inner TCP header). Underlay input
// then decapsulates it once, one flow lookup covers all of it, and the guest gets one superframe —
// instead of splitting n datagrams out (a copy), decapsulating and looking up each, and merging them
// again in GRO (another copy).
//
// It is GRO's rule (tcp_gro_receive) applied to the n chunks: they merge only when every chunk k > 0
// has chunk 0's tunnel header, inner Ethernet header and inner IPv4 header except total length, ID and
// header checksum (so same TOS/ECN, DF, TTL, addresses, no options, not a fragment); the same TCP header
// except sequence number, flags and checksum (ports, ack, window, data offset and options equal);
// sequence = previous sequence + previous data length; the same flags except PSH and FIN, which only
// the last chunk may carry (no CWR or URG anywhere); every data length = chunk 0's except
// the last, which may be shorter. Anything else (IPv6 inside, another encapsulation, a chunk that breaks
// a rule) returns false with the frame untouched, and the caller splits it as before.
//
// Data moves left with copyWithin (one memmove per chunk, inside one slot). Checksums: the inner TCP
// checksum becomes partial (pseudo-header seeded) and is finished by whoever finally needs it, as for
// any superframe; the caller only coalesces frames whose checksum state was settled (NEEDS_CSUM /
// CSUM_VALID: the outer UDP checksum, which covers every inner byte, was vouched for).
//
//   bytes per chunk:  [tunnel T][inner Ethernet 14][inner IPv4 I][TCP H][data ≤ mss]
//   after:            [outer][T][14][I][H][data₀ data₁ … dataₙ₋₁]; inner IPv4 length = I + H + Σ data
import { CSUM_VALID, GSO_TCPV4, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { setU16, u16, u32 } from '../wire/bytes.ts';
import { fold } from '../wire/checksum.ts';
import { pseudoSum } from '../wire/l4-checksum.ts';
import { GENEVE_PORT, VXLAN_GPE_PORT, VXLAN_LINUX_PORT, VXLAN_PORT } from '../wire/tunnel-ports.ts';
import { setIpv4Checksum } from './csum-complete.ts';
import { copyBytes } from './csum-fast.ts';
import { TCP_CWR, TCP_FIN, TCP_PSH, TCP_URG } from './frame-layout.ts';

const TEB = 0x6558;
const IPV4 = 0x0800;

/** Bytes of tunnel header before the inner Ethernet header at `t`, or -1 (not Ethernet inside / unknown). */
function tunnelLen(b: Uint8Array, t: number, dstPort: number): number {
  if (dstPort === VXLAN_PORT || dstPort === VXLAN_LINUX_PORT) return 8;
  if (dstPort === VXLAN_GPE_PORT) return b[t + 3] === 3 ? 8 : -1;
  if (dstPort === GENEVE_PORT) return u16(b, t + 2) === TEB ? 8 + ((b[t]! & 0x3f) << 2) : -1;
  return -1;
}

function same(b: Uint8Array, a: number, c: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[a + i] !== b[c + i]) return false;
  return true;
}

/**
 * Rewrites the UDP GSO superframe p (Ethernet at p.start, outer IPv4 + UDP, gsoSize = UDP payload per
 * datagram) into one tunnel packet carrying an inner TCP superframe. True when done; false leaves p
 * as it was.
 */
export function coalesceUso(p: Packet): boolean {
  const b = p.buf;
  const o3 = p.start + 14;
  const end = p.end;
  const g = p.gsoSize;
  if (g <= 0 || end - o3 < 28 || u16(b, p.start + 12) !== IPV4 || b[o3]! !== 0x45 || b[o3 + 9] !== 17)
    return false;
  if (o3 + u16(b, o3 + 2) !== end) return false;
  const o4 = o3 + 20;
  const pay = o4 + 8;
  const t = tunnelLen(b, pay, u16(b, o4 + 2));
  if (t < 0) return false;
  // Chunk 0's inner headers.
  const e = pay + t; // inner Ethernet
  const i3 = e + 14;
  if (i3 + 20 > end || u16(b, e + 12) !== IPV4 || b[i3]! !== 0x45 || b[i3 + 9] !== 6) return false;
  if ((u16(b, i3 + 6) & 0x3fff) !== 0) return false; // a fragment
  const i4 = i3 + 20;
  if (i4 + 20 > end) return false;
  const th = (b[i4 + 12]! >>> 4) << 2;
  const data0 = i4 + th;
  const hdr = data0 - pay; // tunnel + inner headers, per chunk
  const chunk0End = Math.min(pay + g, end);
  if (th < 20 || data0 > chunk0End || i3 + u16(b, i3 + 2) !== chunk0End) return false;
  const mss = chunk0End - data0;
  const n = Math.ceil((end - pay) / g);
  if (n < 2 || mss === 0) return false;
  const flags0 = b[i4 + 13]!;
  // PSH/FIN end a merge (only the last chunk may carry them); CWR would need the ECN GSO flag; urgent
  // data is never merged (GRO flushes on URG too).
  if ((flags0 & (TCP_PSH | TCP_FIN | TCP_CWR | TCP_URG)) !== 0 || u16(b, i4 + 18) !== 0) return false;
  // Validate every chunk before moving a byte.
  let seq = (u32(b, i4 + 4) + mss) >>> 0;
  let lastFlags = flags0;
  for (let k = 1; k < n; k++) {
    const c = pay + k * g;
    const cEnd = Math.min(c + g, end);
    const len = cEnd - c - hdr;
    if (len <= 0 || (len !== mss && k < n - 1)) return false;
    const ci3 = c + t + 14;
    const ci4 = ci3 + 20;
    // Tunnel header + inner Ethernet, then IPv4 bytes 0..1 (version, IHL, TOS) and 6..9 (flags,
    // fragment offset, TTL, protocol) and 12..19 (addresses), then TCP with the exceptions.
    if (!same(b, c, pay, t + 14) || !same(b, ci3, i3, 2) || !same(b, ci3 + 6, i3 + 6, 4)) return false;
    if (!same(b, ci3 + 12, i3 + 12, 8) || u16(b, ci3 + 2) !== cEnd - ci3) return false;
    if (u32(b, ci4) !== u32(b, i4) || u32(b, ci4 + 4) !== seq || u32(b, ci4 + 8) !== u32(b, i4 + 8))
      return false;
    if (b[ci4 + 12] !== b[i4 + 12] || u16(b, ci4 + 14) !== u16(b, i4 + 14) || u16(b, ci4 + 18) !== 0)
      return false;
    if (th > 20 && !same(b, ci4 + 20, i4 + 20, th - 20)) return false;
    const f = b[ci4 + 13]!;
    if ((f & ~(TCP_PSH | TCP_FIN)) !== flags0) return false;
    if (k < n - 1 && (f & (TCP_PSH | TCP_FIN)) !== 0) return false;
    seq = (seq + len) >>> 0;
    lastFlags = f;
  }
  // Move chunks 1..n-1's data left behind chunk 0's.
  let w = chunk0End;
  for (let k = 1; k < n; k++) {
    const c = pay + k * g;
    const from = c + hdr;
    const len = Math.min(c + g, end) - from;
    copyBytes(b, from, b, w, len);
    w += len;
  }
  b[i4 + 13] = flags0 | (lastFlags & (TCP_PSH | TCP_FIN));
  setU16(b, i3 + 2, w - i3);
  setIpv4Checksum(b, i3, 20);
  setU16(b, i4 + 16, fold(pseudoSum(b, i3, 6, w - i4)));
  // Outer lengths describe the one packet now; its UDP checksum no longer matches and is not needed
  // (the frame's state was settled before; zero means "none" in IPv4, RFC 768).
  setU16(b, o3 + 2, w - o3);
  setIpv4Checksum(b, o3, 20);
  setU16(b, o4 + 4, w - o4);
  setU16(b, o4 + 6, 0);
  p.end = w;
  p.flags = (p.flags & ~CSUM_VALID) | NEEDS_CSUM | SUPERFRAME;
  p.gsoType = GSO_TCPV4;
  p.gsoSize = mss;
  p.csumStart = i4;
  p.csumOffset = 16;
  return true;
}
