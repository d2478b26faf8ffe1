// IPv4 fragmentation, RFC 791 §3.2 ("Fragmentation and reassembly" procedure, and §3.1 options).
//
//   every fragment   copy of the header; same ID, src, dst, protocol; total length and header checksum
//                    recomputed; offset in 8-byte units; MF=1 on all but the last (the last keeps the
//                    original MF, so fragmenting a fragment works)
//   first fragment   the whole original header, options included
//   later fragments  only options whose copied bit (type & 0x80) is set, padded with EOL to a 4-byte
//                    multiple (RFC 791; BSD ip_optcopy). Linux's ip_options_fragment instead overwrites
//                    non-copied options with NOPs and keeps the header length — both are legal; ours
//                    gives later fragments more room.
//   payload sizes    first: floor((mtu − IHL₁) / 8) × 8; later: floor((mtu − IHL₂) / 8) × 8; the last
//                    takes the rest.  e.g. 3000 B of payload, IHL 20, MTU 1500 → 1480 + 1480 + 40.
//   DF               DF=1 and too big → NEED_PMTU, nothing sent: the caller answers with ICMP type 3
//                    code 4 (pmtu.ts, RFC 1191). `ignoreDf` is for our own outer headers only.
//   IDs              from the caller (per (src, dst, proto) counter, RFC 6864); a datagram that already
//                    is a fragment keeps its ID (otherwise it could never be reassembled).
// Fragments are new packets from `pool`, appended to `out`; the original is left to the caller. All
// or nothing: if the pool or batch cannot take every fragment, none is emitted (NO_BUFFERS).
import type { Batch } from '../packet/batch.ts';
import type { Packet } from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { OK } from '../wire/status.ts';
import { copyBytes } from './csum-fast.ts';

export const FRAGMENTED = 0;
export const FITS = 1;
export const NEED_PMTU = 2;
export const NO_BUFFERS = 3;
export const MTU_TOO_SMALL = 4;
export const MALFORMED = 5;
export const RESULT_NAMES = ['fragmented', 'fits', 'need-pmtu', 'no-buffers', 'mtu-too-small', 'malformed'];

/** RFC 791: every internet module must forward a 68-byte datagram unfragmented. */
export const MIN_MTU = 68;

const copiedOpts = new Uint8Array(40);

/** Writes the copied options of the header at l3 into copiedOpts; returns their padded length. */
function copiedOptions(b: Uint8Array, l3: number, hlen: number): number {
  let n = 0;
  let i = l3 + ipv4.HEADER_LEN;
  const end = l3 + hlen;
  while (i < end) {
    const t = b[i]!;
    if (t === ipv4.OPT_EOL) break;
    if (t === ipv4.OPT_NOP) {
      i++;
      continue;
    }
    const len = b[i + 1]!; // checkOptions() guaranteed 2 <= len and i + len <= end
    if (ipv4.optionCopied(t)) {
      for (let k = 0; k < len; k++) copiedOpts[n + k] = b[i + k]!;
      n += len;
    }
    i += len;
  }
  const padded = (n + 3) & ~3;
  copiedOpts.fill(ipv4.OPT_EOL, n, padded);
  return padded;
}

/**
 * Fragments the IPv4 datagram at pkt.l3 (L2 = [pkt.start, pkt.l3), copied onto each fragment) to
 * fit `mtu` (bytes of IP datagram per fragment).
 */
export function fragment4(
  pkt: Packet,
  mtu: number,
  id: number,
  pool: Pool,
  out: Batch,
  ignoreDf = false,
): number {
  const b = pkt.buf;
  const l3 = pkt.l3;
  if (l3 < pkt.start || ipv4.check(b, l3, pkt.end) !== OK) return MALFORMED;
  const tlen = ipv4.totalLen(b, l3);
  if (tlen <= mtu) return FITS;
  if (ipv4.df(b, l3) && !ignoreDf) return NEED_PMTU;
  if (mtu < MIN_MTU) return MTU_TOO_SMALL;
  const hlen1 = ipv4.headerLen(b, l3);
  const l2len = l3 - pkt.start;
  const room = pool.slotSize - pool.headroom - l2len;
  const optLen = hlen1 > ipv4.HEADER_LEN ? copiedOptions(b, l3, hlen1) : 0;
  const hlen2 = ipv4.HEADER_LEN + optLen;
  const cap1 = (Math.min(mtu, room) - hlen1) & ~7;
  const cap2 = (Math.min(mtu, room) - hlen2) & ~7;
  if (cap1 < 8 || cap2 < 8) return MTU_TOO_SMALL;
  const plen = tlen - hlen1;
  const n = plen <= cap1 ? 1 : 1 + Math.ceil((plen - cap1) / cap2);
  if (pool.available < n || out.capacity - out.count < n) return NO_BUFFERS;

  const origOff = ipv4.fragOffset(b, l3);
  const origMf = ipv4.mf(b, l3);
  const ident = ipv4.isFragment(b, l3) ? ipv4.ident(b, l3) : id & 0xffff;
  const payload = l3 + hlen1;
  let done = 0;
  for (let k = 0; k < n; k++) {
    const p = pool.alloc()!;
    const hl = k === 0 ? hlen1 : hlen2;
    const chunk = Math.min(k === 0 ? cap1 : cap2, plen - done);
    const s = p.start;
    const ip = s + l2len;
    const ob = p.buf;
    copyBytes(b, pkt.start, ob, s, l2len + ipv4.HEADER_LEN);
    if (k === 0) copyBytes(b, l3 + ipv4.HEADER_LEN, ob, ip + ipv4.HEADER_LEN, hlen1 - ipv4.HEADER_LEN);
    else {
      for (let k = 0; k < optLen; k++) ob[ip + ipv4.HEADER_LEN + k] = copiedOpts[k]!;
      ob[ip] = 0x40 | (hl >>> 2);
    }
    copyBytes(b, payload + done, ob, ip + hl, chunk);
    const last = done + chunk === plen;
    ipv4.setTotalLen(ob, ip, hl + chunk);
    ipv4.setIdent(ob, ip, ident);
    ipv4.setFrag(ob, ip, ignoreDf ? false : ipv4.df(b, l3), last ? origMf : true, origOff + done);
    ipv4.fillChecksum(ob, ip);
    p.end = ip + hl + chunk;
    p.l2 = s;
    p.l3 = ip;
    p.l4 = k === 0 ? ip + hl : -1;
    p.inPort = pkt.inPort;
    p.flowHash = pkt.flowHash;
    out.push(p);
    done += chunk;
  }
  return FRAGMENTED;
}
