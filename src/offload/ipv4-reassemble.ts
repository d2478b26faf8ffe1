// IPv4 reassembly, RFC 791 §3.2 (with RFC 815's hole bookkeeping, holes.ts), hardened as Linux's
// net/ipv4/ip_fragment.c is since 4.19 (FragmentSmack) and as RFC 5722 asks of IPv6.
//
//   key        (src, dst, protocol, identification)                              RFC 791 §3.2
//   duplicate  a fragment lying inside data already received with the same bytes → dropped alone and
//              counted (Linux IPFRAG_DUP; RFC 5722 erratum 3089 allows the same for IPv6)
//   overlap    any other intersection, teardrop included, or inside-but-different bytes → the whole
//              datagram is dropped and its key poisoned until the timeout (Linux kills the queue but
//              lets a new one start; we keep the tombstone as RFC 5722 says, so a rewrite attempt
//              cannot be completed by later fragments)
//   last fragment  MF=0 ends the datagram: data beyond it, or a second MF=0 with another end → drop
//              the datagram (Linux ip_frag_queue "discard_qp")
//   non-final fragment whose payload is not a multiple of 8 → dropped (RFC 791; Linux trims instead)
//   offset + length > 65,535 − IHL → dropped and key poisoned ("ping of death")
//   the header checksum is verified; the reassembled header is the offset-0 fragment's (all its
//   options), with MF and offset cleared, DF kept, total length and checksum recomputed.
//   ECN (RFC 3168 §5.3, Linux ip_frag_ecn_table): CE on any fragment with the rest ECT → CE on the
//   datagram; Not-ECT mixed with ECT/CE → dropped (ecn-frag.ts).
//
// Ownership: process() copies what it keeps, so the caller always keeps (and frees) its packet. On
// DONE, `out` is a buffer of the reassembly memory: the caller owns it and returns it with release().
// L2 of the output is the offset-0 fragment's [start, l3) bytes.
import type { Packet } from '../packet/packet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { OK } from '../wire/status.ts';
import { copyBytes } from './csum-fast.ts';
import { combineEcn, ECN_CE } from './ecn-frag.ts';
import { DUPLICATE, FULL, OVERLAP } from './holes.ts';
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

// Counter ids.
export const IN_FRAG = 0;
export const OUT_REASM = 1;
export const D_MALFORMED = 2;
export const D_BAD_CHECKSUM = 3;
export const D_BAD_LENGTH = 4;
export const D_EMPTY = 5;
export const D_OVERSIZE = 6;
export const D_DUPLICATE = 7;
export const D_OVERLAP = 8;
export const D_POISONED = 9;
export const D_BAD_TAIL = 10;
export const D_TOO_MANY = 11;
export const D_NO_MEMORY = 12;
export const D_L2_TOO_LONG = 13;
export const D_ECN_MIX = 14;
const NAMES = [
  'in-ipv4-frag',
  'out-ipv4-reasm',
  'drop-ipv4-frag-malformed',
  'drop-ipv4-frag-bad-checksum',
  'drop-ipv4-frag-bad-length',
  'drop-ipv4-frag-empty',
  'drop-ipv4-frag-oversize',
  'drop-ipv4-frag-duplicate',
  'drop-ipv4-frag-overlap',
  'drop-ipv4-frag-poisoned',
  'drop-ipv4-frag-bad-tail',
  'drop-ipv4-frag-too-many',
  'drop-ipv4-frag-no-memory',
  'drop-ipv4-frag-l2-too-long',
  'drop-ipv4-reasm-ecn-mix',
];

const A_HLEN = 0; //  IHL × 4 of the offset-0 fragment (0 until it arrives)
const A_L2LEN = 1;
const A_ECN = 2; //   ECN codepoints seen, as 1 << ecn (ecn-frag.ts)

/** Longest L2 header we copy in front of the datagram (Ethernet + two VLAN tags, with slack). */
const MAX_L2 = 64;
const MAX_DATAGRAM = 65535;

export class Ipv4Reassembler extends Reassembler {
  constructor(config: Partial<ReassemblyConfig> = {}, memory?: ReassemblyMemory) {
    const c = { ...DEFAULT_CONFIG, ...config };
    super(new ReassemblyTable('ipv4-reasm', 3, c, memory ?? new ReassemblyMemory(c.memoryBytes)), NAMES);
  }

  /** `pkt.l3` is the IPv4 header; [pkt.start, pkt.l3) is L2. `now` in ms. */
  process(pkt: Packet, now: number): number {
    const b = pkt.buf;
    const l3 = pkt.l3;
    this.out = null;
    if (l3 < pkt.start || ipv4.check(b, l3, pkt.end) !== OK) return this.drop(D_MALFORMED);
    if (!ipv4.isFragment(b, l3)) return PASS;
    const v = this.counters.v;
    v[IN_FRAG]!++;
    if (!ipv4.verifyChecksum(b, l3)) return this.drop(D_BAD_CHECKSUM);
    const hlen = ipv4.headerLen(b, l3);
    const plen = ipv4.totalLen(b, l3) - hlen;
    const off = ipv4.fragOffset(b, l3);
    const more = ipv4.mf(b, l3);
    const end = off + plen;
    if (plen === 0) return this.drop(D_EMPTY);
    if (more && (plen & 7) !== 0) return this.drop(D_BAD_LENGTH);
    const l2len = l3 - pkt.start;
    if (off === 0 && (l2len > MAX_L2 || l2len < 0)) return this.drop(D_L2_TOO_LONG);

    const t = this.table;
    t.key[0] = ipv4.src(b, l3);
    t.key[1] = ipv4.dst(b, l3);
    t.key[2] = (ipv4.protocol(b, l3) << 16) | ipv4.ident(b, l3);
    let i = t.find(now);
    if (i >= 0 && t.state[i] === POISONED) return this.drop(D_POISONED);
    if (end + hlen > MAX_DATAGRAM) {
      // The datagram cannot be legal whatever else arrives: poison the key (RFC 791 65,535 B limit).
      if (i < 0) t.insert(now, true);
      else t.poison(i);
      return this.drop(D_OVERSIZE);
    }
    if (i < 0) {
      i = t.insert(now);
      if (i < 0) return this.drop(D_NO_MEMORY);
    }
    const total = t.total[i]!;
    const r = t.ranges[i]!;
    if (!more) {
      if (end < r.maxEnd() || (total >= 0 && end !== total)) return this.kill(i, D_BAD_TAIL);
      t.total[i] = end;
    } else if (total >= 0 && end > total) return this.kill(i, D_BAD_TAIL);

    const buf = t.buffers[i]!;
    const base = buf.headroom + FRONT;
    const added = r.add(off, end);
    if (added === DUPLICATE) {
      if (sameBytes(buf.buf, base + off, b, l3 + hlen, plen)) return this.drop(D_DUPLICATE);
      return this.kill(i, D_OVERLAP);
    }
    if (added === OVERLAP) return this.kill(i, D_OVERLAP);
    if (added === FULL || ++t.pieces[i]! > t.config.maxPieces) return this.kill(i, D_TOO_MANY);
    copyBytes(b, l3 + hlen, buf.buf, base + off, plen);
    const a = i * AUX_WORDS;
    t.aux[a + A_ECN]! |= 1 << (b[l3 + 1]! & 3);
    if (off === 0) {
      t.aux[a + A_HLEN] = hlen;
      t.aux[a + A_L2LEN] = l2len;
      copyBytes(b, pkt.start, buf.buf, base - hlen - l2len, l2len + hlen);
    }
    const fin = t.total[i]!;
    if (fin < 0 || !r.complete(fin)) return HELD;

    const h = t.aux[a + A_HLEN]!;
    if (h + fin > MAX_DATAGRAM) {
      t.poison(i);
      return this.drop(D_OVERSIZE);
    }
    const ecn = combineEcn(t.aux[a + A_ECN]!);
    if (ecn < 0) {
      t.poison(i);
      return this.drop(D_ECN_MIX);
    }
    const l2 = t.aux[a + A_L2LEN]!;
    const o = t.take(i);
    const ob = o.buf;
    const ip = base - h;
    if (ecn === ECN_CE) ob[ip + 1] = ob[ip + 1]! | ECN_CE;
    ipv4.setTotalLen(ob, ip, h + fin);
    ipv4.setFrag(ob, ip, ipv4.df(ob, ip), false, 0);
    ipv4.fillChecksum(ob, ip);
    o.start = ip - l2;
    o.end = base + fin;
    o.l2 = o.start;
    o.l3 = ip;
    o.l4 = base;
    o.inPort = pkt.inPort;
    v[OUT_REASM]!++;
    this.out = o;
    return DONE;
  }
}
