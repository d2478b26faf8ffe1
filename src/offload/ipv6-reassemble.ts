// IPv6 reassembly, RFC 8200 §4.5, with RFC 5722 (overlaps), RFC 6946 (atomic fragments) and RFC 7112
// (the first fragment must hold the whole header chain); behaviour reference Linux net/ipv6/reassembly.c.
//
//   key          (src, dst, Identification)                                      RFC 8200 §4.5
//   atomic       offset 0 and M=0: not queued, not keyed (RFC 6946 §4): the Fragment header is removed
//                in place and the packet goes on (PASS)
//   RFC 7112     a fragment with offset 0 whose header chain does not reach the upper-layer header
//                plus its minimum (TCP 20, UDP 8, ICMPv6 8, other 1 byte) → dropped (Linux sends ICMPv6
//                Parameter Problem code 3; we count `drop-ipv6-frag-chain-incomplete`)
//   non-final fragment not a multiple of 8 → dropped (RFC 8200: Parameter Problem code 0)
//   reassembled Payload Length would exceed 65,535 → dropped, key poisoned (Parameter Problem code 0)
//   overlap      any overlap but an identical duplicate → whole datagram dropped, key poisoned until its
//                timeout (RFC 5722, erratum 3089 for duplicates); a second last fragment with another
//                end, or data beyond the end → same (Linux ip6_frag_queue "discard_fq")
//   ECN          as IPv4 (RFC 3168 §5.3; Linux ip6_frag_ecn): CE wins over ECT, Not-ECT + ECT → drop
//   output       the offset-0 fragment's unfragmentable part (its L2 in front), the Next Header byte
//                that said 44 restored, Payload Length recomputed, then the fragmentable part.
// No ICMPv6 errors are generated here (Time Exceeded on timeout, Parameter Problem): the counters say
// which would have been sent. Ownership as in ipv4-reassemble.ts.
import type { Packet } from '../packet/packet.ts';
import { setU16, u16, u32 } from '../wire/bytes.ts';
import { copyBytes } from './csum-fast.ts';
import { combineEcn, ECN_CE } from './ecn-frag.ts';
import { DUPLICATE, FULL, OVERLAP } from './holes.ts';
import { FRAG_HEADER_LEN, HEADER_LEN, upperMin, walkChain } from './ipv6-fragment.ts';
import { DONE, DROP, HELD, PASS, Reassembler } from './reassembler.ts';
import {
  AUX_WORDS,
  DEFAULT_CONFIG,
  FRONT,
  POISONED,
  type ReassemblyConfig,
  ReassemblyMemory,
  ReassemblyTable,
  sameBytes,
} from './reassembly-limits.ts';

export { DONE, DROP, HELD, PASS };

export const IN_FRAG = 0;
export const OUT_REASM = 1;
export const IN_ATOMIC = 2;
export const D_MALFORMED = 3;
export const D_BAD_LENGTH = 4;
export const D_EMPTY = 5;
export const D_OVERSIZE = 6;
export const D_DUPLICATE = 7;
export const D_OVERLAP = 8;
export const D_POISONED = 9;
export const D_BAD_TAIL = 10;
export const D_TOO_MANY = 11;
export const D_NO_MEMORY = 12;
export const D_CHAIN_INCOMPLETE = 13;
export const D_HEADERS_TOO_LONG = 14;
export const D_ECN_MIX = 15;
const NAMES = [
  'in-ipv6-frag',
  'out-ipv6-reasm',
  'in-ipv6-atomic-frag',
  'drop-ipv6-frag-malformed',
  'drop-ipv6-frag-bad-length',
  'drop-ipv6-frag-empty',
  'drop-ipv6-frag-oversize',
  'drop-ipv6-frag-duplicate',
  'drop-ipv6-frag-overlap',
  'drop-ipv6-frag-poisoned',
  'drop-ipv6-frag-bad-tail',
  'drop-ipv6-frag-too-many',
  'drop-ipv6-frag-no-memory',
  'drop-ipv6-frag-chain-incomplete',
  'drop-ipv6-frag-headers-too-long',
  'drop-ipv6-reasm-ecn-mix',
];

const A_UNFRAG = 0; //  unfragmentable length of the offset-0 fragment (0 until it arrives)
const A_L2LEN = 1;
const A_NHAT = 2; //    offset of the Next Header byte to restore, relative to the IPv6 header
const A_NH = 3; //      value to restore (the Fragment header's Next Header)
const A_ECN = 4; //     ECN codepoints seen, as 1 << ecn (ecn-frag.ts)

const MAX_PAYLOAD = 65535;

export class Ipv6Reassembler extends Reassembler {
  private readonly chain = new Int32Array(5);

  constructor(config: Partial<ReassemblyConfig> = {}, memory?: ReassemblyMemory) {
    const c = { ...DEFAULT_CONFIG, timeoutMs: 60_000, ...config }; // RFC 8200 §4.5: 60 s
    super(new ReassemblyTable('ipv6-reasm', 9, c, memory ?? new ReassemblyMemory(c.memoryBytes)), NAMES);
  }

  /** `pkt.l3` is the IPv6 header; [pkt.start, pkt.l3) is L2. `now` in ms. */
  process(pkt: Packet, now: number): number {
    const b = pkt.buf;
    const l3 = pkt.l3;
    this.out = null;
    if (l3 < pkt.start || pkt.end - l3 < HEADER_LEN || b[l3]! >>> 4 !== 6) return this.drop(D_MALFORMED);
    const plen = u16(b, l3 + 4);
    const end = l3 + HEADER_LEN + plen;
    if (end > pkt.end) return this.drop(D_MALFORMED);
    const c = this.chain;
    if (!walkChain(b, l3, end, c)) return this.drop(D_MALFORMED);
    const fh = c[4]!;
    if (fh < 0) return PASS;
    const v = this.counters.v;
    // The unfragmentable part is everything before the Fragment header.
    const unfrag = fh - l3;
    const nhAt = this.nhBefore(b, l3, fh);
    const field = u16(b, fh + 2);
    const off = field & 0xfff8;
    const more = (field & 1) !== 0;
    const start = fh + FRAG_HEADER_LEN;
    const flen = end - start;
    if (plen === 0) return this.drop(D_MALFORMED); // jumbogram: Fragment header not allowed (RFC 2675)
    if (off === 0 && !more) {
      v[IN_ATOMIC]!++;
      this.removeAtomic(pkt, fh, nhAt);
      return PASS;
    }
    v[IN_FRAG]!++;
    if (flen === 0) return this.drop(D_EMPTY);
    if (more && (flen & 7) !== 0) return this.drop(D_BAD_LENGTH);
    if (off === 0) {
      const upper = c[2]!;
      if (upper < 0 || upper + upperMin(c[3]!) > end) return this.drop(D_CHAIN_INCOMPLETE);
      if (unfrag + (l3 - pkt.start) > FRONT) return this.drop(D_HEADERS_TOO_LONG);
    }
    const t = this.table;
    const k = t.key;
    for (let w = 0; w < 8; w++) k[w] = u32(b, l3 + 8 + 4 * w);
    k[8] = u32(b, fh + 4);
    let i = t.find(now);
    if (i >= 0 && t.state[i] === POISONED) return this.drop(D_POISONED);
    if (unfrag - HEADER_LEN + off + flen > MAX_PAYLOAD) {
      if (i < 0) t.insert(now, true);
      else t.poison(i);
      return this.drop(D_OVERSIZE);
    }
    if (i < 0) {
      i = t.insert(now);
      if (i < 0) return this.drop(D_NO_MEMORY);
    }
    const fend = off + flen;
    const total = t.total[i]!;
    const r = t.ranges[i]!;
    if (!more) {
      if (fend < r.maxEnd() || (total >= 0 && fend !== total)) return this.kill(i, D_BAD_TAIL);
      t.total[i] = fend;
    } else if (total >= 0 && fend > total) return this.kill(i, D_BAD_TAIL);
    const buf = t.buffers[i]!;
    const base = buf.headroom + FRONT;
    const added = r.add(off, fend);
    if (added === DUPLICATE) {
      if (sameBytes(buf.buf, base + off, b, start, flen)) return this.drop(D_DUPLICATE);
      return this.kill(i, D_OVERLAP);
    }
    if (added === OVERLAP) return this.kill(i, D_OVERLAP);
    if (added === FULL || ++t.pieces[i]! > t.config.maxPieces) return this.kill(i, D_TOO_MANY);
    copyBytes(b, start, buf.buf, base + off, flen);
    const a = i * AUX_WORDS;
    t.aux[a + A_ECN]! |= 1 << ((b[l3 + 1]! >>> 4) & 3); // traffic class = bits 4..11 of the first word
    if (off === 0) {
      const l2len = l3 - pkt.start;
      t.aux[a + A_UNFRAG] = unfrag;
      t.aux[a + A_L2LEN] = l2len;
      t.aux[a + A_NHAT] = nhAt - l3;
      t.aux[a + A_NH] = b[fh]!;
      copyBytes(b, pkt.start, buf.buf, base - unfrag - l2len, l2len + unfrag);
    }
    const fin = t.total[i]!;
    if (fin < 0 || !r.complete(fin)) return HELD;
    const u = t.aux[a + A_UNFRAG]!;
    if (u - HEADER_LEN + fin > MAX_PAYLOAD) {
      t.poison(i);
      return this.drop(D_OVERSIZE);
    }
    const ecn = combineEcn(t.aux[a + A_ECN]!);
    if (ecn < 0) {
      t.poison(i);
      return this.drop(D_ECN_MIX);
    }
    const l2 = t.aux[a + A_L2LEN]!;
    const nhRel = t.aux[a + A_NHAT]!;
    const nh = t.aux[a + A_NH]!;
    const o = t.take(i);
    const ob = o.buf;
    const ip = base - u;
    ob[ip + nhRel] = nh;
    if (ecn === ECN_CE) ob[ip + 1] = ob[ip + 1]! | (ECN_CE << 4);
    setU16(ob, ip + 4, u - HEADER_LEN + fin);
    o.start = ip - l2;
    o.end = base + fin;
    o.l2 = o.start;
    o.l3 = ip;
    o.l4 = -1;
    o.inPort = pkt.inPort;
    v[OUT_REASM]!++;
    this.out = o;
    return DONE;
  }

  /** Offset of the Next Header byte that names the header at `at` (walks again from the base header). */
  private nhBefore(b: Uint8Array, l3: number, at: number): number {
    let nhAt = l3 + 6;
    let o = l3 + HEADER_LEN;
    while (o < at) {
      const nh = b[nhAt]!;
      nhAt = o;
      o += nh === 51 ? (b[o + 1]! + 2) * 4 : nh === 44 ? FRAG_HEADER_LEN : (b[o + 1]! + 1) * 8;
    }
    return nhAt;
  }

  /** RFC 6946: drop the Fragment header of an atomic fragment by moving what precedes it 8 bytes on. */
  private removeAtomic(pkt: Packet, fh: number, nhAt: number): void {
    const b = pkt.buf;
    b[nhAt] = b[fh]!;
    setU16(b, pkt.l3 + 4, u16(b, pkt.l3 + 4) - FRAG_HEADER_LEN);
    b.copyWithin(pkt.start + FRAG_HEADER_LEN, pkt.start, fh);
    pkt.start += FRAG_HEADER_LEN;
    pkt.l3 += FRAG_HEADER_LEN;
    if (pkt.l2 >= 0) pkt.l2 += FRAG_HEADER_LEN;
  }
}
