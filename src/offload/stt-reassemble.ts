// STT reassembly, draft-davie-stt-08 §3.3 as Open vSwitch does it (datapath/linux/compat/stt.c
// reassemble(); reference/stt.md §2.3 and the edge cases of §7), with the stricter choices of §8.
//
//   per segment  outer IPv4/IPv6 + TCP-like header checked (stt-tcp.ts: data offset 5, payload > 0,
//                frame length ≥ 32, offset + payload ≤ frame length); TCP checksum verified unless the
//                port vouched (CSUM_VALID); an outer IPv4 fragment must be IP-reassembled first
//   fast path    offset 0 and payload = frame length: the segment is the frame (GRO/LRO super-segments
//                land here) — returned in place, no copy
//   head last    the offset-0 segment completes a frame and its buffer has room: the rest is copied
//                behind it and the frame is returned in place (Linux veth GRO's order for nvo's frames)
//   key          (outer src, outer dst, ACK) as OVS and Wireshark; `keyPorts` adds the TCP ports
//                (allowed, the sport is constant per frame; stricter than OVS). netns/mark: one
//                reassembler per context.
//   frame length the first segment seen fixes it; a segment announcing another length is dropped
//                (OVS silently keeps the first value and never checks)
//   duplicates   identical bytes inside received data: dropped alone, counted, never double-counted
//                (the Windows-OVS bug, stt.md §2.5)
//   overlap      anything else that intersects received data: the frame is dropped and its key poisoned
//                until the timeout (OVS drops only the newcomer; the frame then times out anyway)
//   limits       shared reassembly memory (default 4 MiB, a 64 KiB buffer per frame in progress, the
//                oldest evicted first), maxEntries, maxPieces, timeout (default 30 s, as OVS)
//   ECN / DSCP   TOS of the offset-0 segment, CE if any segment had CE (stt.md §1.5 rule 5, RFC 6040)
//
// Output (FRAME, in place, or DONE, a reassembly buffer in `out` the caller gives back with release()):
// [start, end) is the STT frame — 18-byte STT header then the inner Ethernet frame, innerL2 = start + 18
// — and the tunnel metadata is filled: tunEncap STT, outer addresses, ports, TOS, TTL, context id.
// The STT header itself (version, flags, offloads) is judged by the decapsulator.
import { CSUM_VALID, ENCAP_STT, type Packet } from '../packet/packet.ts';
import { u16, u32 } from '../wire/bytes.ts';
import { pseudoSum4, pseudoSum6 } from '../wire/checksum.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { OK, TRUNCATED, UNSUPPORTED } from '../wire/status.ts';
import * as sttTcp from '../wire/stt-tcp.ts';
import { copyBytes } from './csum-fast.ts';
import { DUPLICATE, FULL, OVERLAP } from './holes.ts';
import { DONE, DROP, HELD, Reassembler } from './reassembler.ts';
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

export { DONE, DROP, HELD };
/** The segment was, or with the held rest became, a whole frame: `out` is the caller's own packet. */
export const FRAME = 4;

export const IN_SEG = 0;
export const OUT_FRAME = 1;
export const IN_WHOLE = 2;
export const D_MALFORMED = 3;
export const D_BAD_LENGTH = 4;
export const D_TCP_OPTIONS = 5;
export const D_BAD_CHECKSUM = 6;
export const D_IP_FRAGMENT = 7;
export const D_LENGTH_MISMATCH = 8;
export const D_DUPLICATE = 9;
export const D_OVERLAP = 10;
export const D_POISONED = 11;
export const D_TOO_MANY = 12;
export const D_NO_MEMORY = 13;
const NAMES = [
  'in-stt-seg',
  'out-stt-reasm',
  'in-stt-whole-frame',
  'drop-stt-seg-malformed',
  'drop-stt-seg-bad-length',
  'drop-stt-seg-tcp-options',
  'drop-stt-seg-bad-checksum',
  'drop-stt-seg-ip-fragment',
  'drop-stt-seg-length-mismatch',
  'drop-stt-seg-duplicate',
  'drop-stt-seg-overlap',
  'drop-stt-seg-poisoned',
  'drop-stt-seg-too-many',
  'drop-stt-seg-no-memory',
];

const A_TOS = 0; //  TOS of the offset-0 segment (−1 until it arrives)
const A_CE = 1;
const A_TTL = 2;
const A_PORTS = 3;
const A_VER = 4;
const KEY_WORDS = 11; // version, src (4), dst (4), ACK, ports

export interface SttRxOptions {
  /** Add the TCP ports to the key (stricter than OVS and Wireshark). Default false. */
  keyPorts: boolean;
}

export class SttReassembler extends Reassembler {
  readonly keyPorts: boolean;

  constructor(
    config: Partial<ReassemblyConfig> = {},
    memory?: ReassemblyMemory,
    opts: Partial<SttRxOptions> = {},
  ) {
    const c = { ...DEFAULT_CONFIG, ...config };
    super(
      new ReassemblyTable('stt-reasm', KEY_WORDS, c, memory ?? new ReassemblyMemory(c.memoryBytes)),
      NAMES,
    );
    this.keyPorts = opts.keyPorts ?? false;
  }

  /** `pkt.l3` is the outer IP header of a segment already classified as STT (TCP dport). */
  process(pkt: Packet, now: number): number {
    const b = pkt.buf;
    const l3 = pkt.l3;
    this.out = null;
    const v = this.counters.v;
    v[IN_SEG]!++;
    if (l3 < pkt.start || pkt.end - l3 < 20) return this.drop(D_MALFORMED);
    const ver = b[l3]! >>> 4;
    let l4: number;
    let ipEnd: number;
    let pseudo: number;
    let tos: number;
    let ttl: number;
    if (ver === 4) {
      if (ipv4.check(b, l3, pkt.end) !== OK || ipv4.protocol(b, l3) !== 6) return this.drop(D_MALFORMED);
      if (ipv4.isFragment(b, l3)) return this.drop(D_IP_FRAGMENT);
      l4 = l3 + ipv4.headerLen(b, l3);
      ipEnd = l3 + ipv4.totalLen(b, l3);
      tos = b[l3 + 1]!;
      ttl = b[l3 + 8]!;
      pseudo = pseudoSum4(b, l3 + 12, l3 + 16, 6, ipEnd - l4);
    } else if (ver === 6) {
      // Extension headers in front of an STT segment are not supported (OVS: IPv4 only at all).
      if (pkt.end - l3 < 40 || b[l3 + 6] !== 6) return this.drop(D_MALFORMED);
      l4 = l3 + 40;
      ipEnd = l4 + u16(b, l3 + 4);
      if (ipEnd > pkt.end) return this.drop(D_MALFORMED);
      tos = ((b[l3]! & 15) << 4) | (b[l3 + 1]! >>> 4);
      ttl = b[l3 + 7]!;
      pseudo = pseudoSum6(b, l3 + 8, l3 + 24, 6, ipEnd - l4);
    } else return this.drop(D_MALFORMED);
    const st = sttTcp.check(b, l4, ipEnd);
    if (st !== OK)
      return this.drop(st === UNSUPPORTED ? D_TCP_OPTIONS : st === TRUNCATED ? D_MALFORMED : D_BAD_LENGTH);
    if ((pkt.flags & CSUM_VALID) === 0 && !sttTcp.checksumOk(b, l4, ipEnd, pseudo))
      return this.drop(D_BAD_CHECKSUM);
    const total = sttTcp.frameLen(b, l4);
    const off = sttTcp.fragOffset(b, l4);
    const data = l4 + sttTcp.HEADER_LEN;
    const len = ipEnd - data;
    // Source | destination port as an int32: an ephemeral source port sets bit 31, and a uint32 above
    // 2^31 would be a heap number per segment wherever it crosses a call.
    const ports = u32(b, l4) | 0;

    if (off === 0 && len === total) {
      v[IN_WHOLE]!++;
      this.fillMeta(pkt, b, l3, ver, tos, ttl, ports);
      pkt.start = data;
      pkt.end = ipEnd;
      pkt.l2 = -1;
      pkt.l3 = -1;
      pkt.l4 = -1;
      pkt.innerL2 = data + 18;
      this.out = pkt;
      v[OUT_FRAME]!++;
      return FRAME;
    }

    const t = this.table;
    const k = t.key;
    k[0] = ver;
    if (ver === 4) {
      k[1] = u32(b, l3 + 12);
      k[5] = u32(b, l3 + 16);
      k[2] = k[3] = k[4] = k[6] = k[7] = k[8] = 0;
    } else for (let w = 0; w < 8; w++) k[1 + w] = u32(b, l3 + 8 + 4 * w);
    k[9] = sttTcp.frameId(b, l4);
    k[10] = this.keyPorts ? ports : 0;
    let i = t.find(now);
    if (i >= 0 && t.state[i] === POISONED) return this.drop(D_POISONED);
    if (i < 0) {
      i = t.insert(now);
      if (i < 0) return this.drop(D_NO_MEMORY);
      t.total[i] = total;
      t.aux[i * AUX_WORDS + A_TOS] = -1;
    } else if (t.total[i] !== total) return this.drop(D_LENGTH_MISMATCH);
    const r = t.ranges[i]!;
    const buf = t.buffers[i]!;
    const base = buf.headroom + FRONT;
    const added = r.add(off, off + len);
    if (added === DUPLICATE) {
      if (sameBytes(buf.buf, base + off, b, data, len)) return this.drop(D_DUPLICATE);
      return this.kill(i, D_OVERLAP);
    }
    if (added === OVERLAP) return this.kill(i, D_OVERLAP);
    if (added === FULL || ++t.pieces[i]! > t.config.maxPieces) return this.kill(i, D_TOO_MANY);
    const a = i * AUX_WORDS;
    if ((tos & 3) === 3) t.aux[a + A_CE] = 1;
    if (off === 0 && r.complete(total) && b.length - data >= total) {
      // The offset-0 piece completes the frame: the rest goes behind it in its own buffer, and the
      // frame leaves in place. Linux's veth GRO delivers nvo's STT frames this way (the GRO'd head
      // of 44 segments, ~64 KB, after the last segment, which the sender's GSO left owned by the
      // AF_PACKET socket, so GRO keeps it apart): one copy of ≤ 1 segment instead of the head's 64 KB.
      copyBytes(buf.buf, base + len, b, data + len, total - len);
      const ce = t.aux[a + A_CE]! !== 0;
      t.remove(i);
      this.fillMeta(pkt, b, l3, ver, ce ? tos | 3 : tos, ttl, ports);
      pkt.start = data;
      pkt.end = data + total;
      pkt.l2 = pkt.l3 = pkt.l4 = -1;
      pkt.innerL2 = data + 18;
      this.out = pkt;
      v[OUT_FRAME]!++;
      return FRAME;
    }
    copyBytes(b, data, buf.buf, base + off, len);
    if (off === 0) {
      t.aux[a + A_TOS] = tos;
      t.aux[a + A_TTL] = ttl;
      t.aux[a + A_PORTS] = ports;
      t.aux[a + A_VER] = ver;
    }
    if (!r.complete(total)) return HELD;
    const o = t.take(i);
    // Metadata: addresses from the key (same for every segment), the rest from the offset-0 segment.
    this.fillMeta(
      o,
      b,
      l3,
      ver,
      t.aux[a + A_TOS]! | (t.aux[a + A_CE] ? 3 : 0),
      t.aux[a + A_TTL]!,
      t.aux[a + A_PORTS]!,
    );
    o.start = base;
    o.end = base + total;
    o.l2 = o.l3 = o.l4 = -1;
    o.innerL2 = base + 18;
    o.inPort = pkt.inPort;
    v[OUT_FRAME]!++;
    this.out = o;
    return DONE;
  }

  private fillMeta(
    p: Packet,
    b: Uint8Array,
    l3: number,
    ver: number,
    tos: number,
    ttl: number,
    ports: number,
  ) {
    p.tunEncap = ENCAP_STT;
    p.tunIpVersion = ver;
    const n = ver === 4 ? 4 : 16;
    const so = ver === 4 ? l3 + 12 : l3 + 8;
    for (let i = 0; i < n; i++) {
      p.tunSrc[i] = b[so + i]!;
      p.tunDst[i] = b[so + n + i]!;
    }
    p.tunTos = tos;
    p.tunTtl = ttl;
    p.tunSrcPort = ports >>> 16;
    p.tunDstPort = ports & 0xffff;
  }
}
