// Tunnel PMTU: when an encapsulated guest frame will not fit the underlay, answer the guest with ICMP
// "fragmentation needed" (RFC 792 / RFC 1191 §4, type 3 code 4) or ICMPv6 Packet Too Big (RFC 4443
// §3.2), the way Linux's vxlan does for a bridged device (net/ipv4/ip_tunnel_core.c
// skb_tunnel_check_pmtu → iptunnel_pmtud_build_icmp[v6]; reference/encapsulations.md §6.3, §11.3):
//
//   tunnel MTU   = underlay MTU − encap overhead (VXLAN over IPv4: 1500 − 50 = 1450); the guest's IP
//                  packet (L2 excluded) must be ≤ it; a SUPERFRAME is judged by the size of each segment
//                  it will become: its headers + gsoSize (skb_gso_validate_network_len)
//   IPv4         ICMP only when the header says exactly DF (no MF, offset 0: Linux
//                `frag_off != htons(IP_DF)`), the MTU is ≥ 576, the source is not 0/8, 127/8,
//                multicast or broadcast, the destination not multicast/broadcast, and the packet is not
//                itself an ICMP error. DF clear → MAY_FRAGMENT (the caller fragments).
//   IPv6         ICMPv6 only when the MTU is ≥ 1280 and the source is not ::, ::1 or multicast, and the
//                packet is not an ICMPv6 error or Redirect.
//   the reply    impersonates the destination, as Linux does (a bridged VTEP has no address of its own
//                on the guest's network): MACs swapped; IPv4 src = guest's dst, dst = guest's src,
//                TOS 0, ID 0, DF, TTL = the guest packet's TTL; ICMP next-hop MTU in bytes 6–7.
//                IPv6: traffic class/flow label 0, hop limit = the guest's, MTU 32-bit.
//                Quoted: the guest packet from its IP header, trimmed so the error is ≤ 576 bytes
//                (548 quoted) / ≤ 1280 bytes (1232 quoted).
//   rate limit   token bucket (Linux icmp_msgs_per_sec 1000, icmp_msgs_burst 50), time from `now` (ms).
import { Counters } from '../packet/counters.ts';
import type { Packet } from '../packet/packet.ts';
import { SUPERFRAME } from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { setU16, setU32, u16 } from '../wire/bytes.ts';
import { checksum, pseudoSum6 } from '../wire/checksum.ts';
import * as icmpv4 from '../wire/icmpv4.ts';
import { copyBytes } from './csum-fast.ts';

export const FITS = 0;
export const ICMP_SENT = 1; //     `out` holds the error, addressed to the guest
export const TOO_BIG_SILENT = 2; // too big and no error may be sent (reason counted): drop it
export const MAY_FRAGMENT = 3; //   IPv4 without DF: fragment instead

const C_FITS = 0;
const C_SENT4 = 1;
const C_SENT6 = 2;
const C_FRAG = 3;
const C_NOT_IP = 4;
const C_SMALL_MTU = 5;
const C_BAD_SRC = 6;
const C_ERROR = 7;
const C_RATE = 8;
const C_NO_BUF = 9;
const NAMES = [
  'pmtu-fits',
  'out-pmtu-icmp-frag-needed',
  'out-pmtu-icmpv6-too-big',
  'pmtu-may-fragment',
  'drop-pmtu-not-ip',
  'drop-pmtu-mtu-too-small',
  'drop-pmtu-bad-address',
  'drop-pmtu-icmp-error',
  'drop-pmtu-rate-limited',
  'drop-pmtu-no-buffers',
];

export interface PmtuConfig {
  ratePerSec: number;
  burst: number;
}

export class PmtuResponder {
  readonly counters = new Counters(NAMES);
  out: Packet | null = null;
  private readonly pool: Pool;
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last = Number.NEGATIVE_INFINITY;

  constructor(pool: Pool, config: Partial<PmtuConfig> = {}) {
    this.pool = pool;
    this.rate = config.ratePerSec ?? 1000;
    this.burst = config.burst ?? 50;
    this.tokens = this.burst;
  }

  private silent(id: number): number {
    this.counters.v[id]!++;
    return TOO_BIG_SILENT;
  }

  /**
   * Checks the guest frame [pkt.start, pkt.end) (Ethernet, at most one 802.1Q tag) against the tunnel
   * MTU (IP bytes). On ICMP_SENT, `out` is a new packet from the pool (the caller sends it back to
   * the guest's port and frees the guest frame).
   */
  check(pkt: Packet, tunnelMtu: number, now: number): number {
    this.out = null;
    const b = pkt.buf;
    const s = pkt.start;
    const v = this.counters.v;
    if (pkt.end - s < 14) return this.silent(C_NOT_IP);
    let l3 = s + 14;
    let type = u16(b, s + 12);
    if (type === 0x8100 && pkt.end - s >= 18) {
      type = u16(b, s + 16);
      l3 = s + 18;
    }
    const isV4 = type === 0x0800;
    if (!isV4 && type !== 0x86dd) {
      if (pkt.end - l3 <= tunnelMtu) return FITS;
      return this.silent(C_NOT_IP);
    }
    const minHdr = isV4 ? 20 : 40;
    if (pkt.end - l3 < minHdr) return this.silent(C_NOT_IP);
    const ipLen = isV4 ? u16(b, l3 + 2) : 40 + u16(b, l3 + 4);
    let size = Math.min(ipLen, pkt.end - l3);
    if ((pkt.flags & SUPERFRAME) !== 0 && pkt.gsoSize > 0 && pkt.l4 > l3) {
      // Each segment: the headers up to the L4 payload plus gsoSize (TCP: data offset; UDP: 8).
      const l4hdr = b[isV4 ? l3 + 9 : l3 + 6] === 6 ? (b[pkt.l4 + 12]! >>> 4) << 2 : 8;
      size = Math.min(size, pkt.l4 + l4hdr - l3 + pkt.gsoSize);
    }
    if (size <= tunnelMtu) {
      v[C_FITS]!++;
      return FITS;
    }
    if (isV4) {
      if (u16(b, l3 + 6) !== 0x4000) {
        v[C_FRAG]!++;
        return MAY_FRAGMENT;
      }
      if (tunnelMtu < 576) return this.silent(C_SMALL_MTU);
      const src0 = b[l3 + 12]!;
      const dst0 = b[l3 + 16]!;
      if (src0 === 0 || src0 === 127 || src0 >= 224 || dst0 >= 224) return this.silent(C_BAD_SRC);
      const ihl = (b[l3]! & 15) << 2;
      if (b[l3 + 9] === 1 && pkt.end - l3 > ihl && icmpv4.isError(b[l3 + ihl]!)) return this.silent(C_ERROR);
    } else {
      if (tunnelMtu < 1280) return this.silent(C_SMALL_MTU);
      let any = 0;
      for (let i = 0; i < 16; i++) any |= b[l3 + 8 + i]!;
      let loop = b[l3 + 23] === 1;
      for (let i = 0; i < 15; i++) loop &&= b[l3 + 8 + i] === 0;
      if (any === 0 || loop || b[l3 + 8] === 0xff) return this.silent(C_BAD_SRC);
      if (b[l3 + 6] === 58 && pkt.end - l3 > 40) {
        const t = b[l3 + 40]!;
        if (t < 128 || t === 137) return this.silent(C_ERROR);
      }
    }
    // Token bucket: refill at `rate` per second up to `burst`.
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens < 1) return this.silent(C_RATE);
    const o = this.pool.alloc();
    if (o === null) return this.silent(C_NO_BUF);
    this.tokens -= 1;
    this.build(pkt, l3, isV4, tunnelMtu, o);
    v[isV4 ? C_SENT4 : C_SENT6]!++;
    this.out = o;
    return ICMP_SENT;
  }

  private build(pkt: Packet, l3: number, isV4: boolean, mtu: number, o: Packet): void {
    const b = pkt.buf;
    const ob = o.buf;
    const s = o.start;
    const l2len = l3 - pkt.start;
    // L2: destination = the guest's source MAC, source = the MAC the guest sent to (VLAN tag kept).
    copyBytes(b, pkt.start + 6, ob, s, 6);
    copyBytes(b, pkt.start, ob, s + 6, 6);
    copyBytes(b, pkt.start + 12, ob, s + 12, l2len - 12);
    const ip = s + l2len;
    const avail = pkt.end - l3;
    if (isV4) {
      const q = Math.min(avail, 576 - 28);
      const ic = ip + 20;
      ob[ip] = 0x45;
      ob[ip + 1] = 0;
      setU16(ob, ip + 2, 28 + q);
      setU32(ob, ip + 4, 0x00004000); // ID 0, DF
      ob[ip + 8] = b[l3 + 8]!;
      ob[ip + 9] = 1;
      setU16(ob, ip + 10, 0);
      copyBytes(b, l3 + 16, ob, ip + 12, 4);
      copyBytes(b, l3 + 12, ob, ip + 16, 4);
      setU16(ob, ip + 10, checksum(ob, ip, ip + 20));
      ob[ic] = icmpv4.DEST_UNREACH;
      ob[ic + 1] = icmpv4.UNREACH_FRAG_NEEDED;
      setU32(ob, ic + 2, 0); // checksum + unused
      setU16(ob, ic + 6, mtu);
      copyBytes(b, l3, ob, ic + 8, q);
      setU16(ob, ic + 2, checksum(ob, ic, ic + 8 + q));
      o.end = ic + 8 + q;
      o.l4 = ic;
    } else {
      const q = Math.min(avail, 1280 - 48);
      const ic = ip + 40;
      setU32(ob, ip, 0x60000000);
      setU16(ob, ip + 4, 8 + q);
      ob[ip + 6] = 58;
      ob[ip + 7] = b[l3 + 7]!;
      copyBytes(b, l3 + 24, ob, ip + 8, 16);
      copyBytes(b, l3 + 8, ob, ip + 24, 16);
      ob[ic] = 2;
      ob[ic + 1] = 0;
      setU16(ob, ic + 2, 0);
      setU32(ob, ic + 4, mtu);
      copyBytes(b, l3, ob, ic + 8, q);
      setU16(ob, ic + 2, checksum(ob, ic, ic + 8 + q, pseudoSum6(ob, ip + 8, ip + 24, 58, 8 + q)));
      o.end = ic + 8 + q;
      o.l4 = ic;
    }
    o.l2 = s;
    o.l3 = ip;
    o.inPort = pkt.inPort;
  }
}
