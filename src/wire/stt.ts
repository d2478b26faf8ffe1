// STT frame header, draft-davie-stt-08 §3.1 / §3.3 (16 bytes + 2 bytes of padding, first segment only;
// the frame is reassembled from the TCP-like segments of stt-tcp.ts before this header is parsed).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  Version (0)  | Flags (below) |  L4 Offset    |  Reserved     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |    Max. Segment Size          | PCP |V|     VLAN ID           |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                      Context ID (64 bits)                     |
//  +                                                               +
//  |                                                               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |     Padding (2)               |   inner Ethernet frame ...    |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Flags — the bit-numbering trap (stt.md §1.3): the draft's figure labels the bits 0..7 left to right,
// which by IETF convention would be MSB first, but every implementation (OVS Linux `STT_CSUM_VERIFIED
// BIT(0)`…, OVS Windows, cvsw, Wireshark) uses value 1 << n. So C (checksum verified) = 0x01,
// P (checksum partial) = 0x02, V (inner is IPv4) = 0x04, T (inner is TCP) = 0x08, 0xF0 reserved.
//
// L4 Offset counts from the end of this header (the start of the inner Ethernet frame) to the inner
// TCP/UDP header: untagged IPv4 without options = 14 + 20 = 34, IPv6 = 14 + 40 = 54. MSS is the inner
// segment size for re-segmentation (0 without offload). PCP/V/VID is an 802.1Q TCI whose DEI bit is
// the V ("tag valid") bit: PCP 5, V, VID 100 = 0xB064.
//
// Receive policy (stt.md §7.16): Version ≠ 0 ⇒ BAD_VERSION; C and P together ⇒ BAD_FLAGS; with P, an
// L4 offset below 14 + 20 (V) or 14 + 40 (not V), or an L4 header (T: 20, else 8 bytes) not inside the
// frame ⇒ BAD_FIELD. Reserved flag bits, the reserved byte, padding, MSS without P and the V bit are
// reported, not judged. `end` is the end of the reassembled STT frame.
import { u16, u32 } from './bytes.ts';
import type { Codec } from './codec.ts';
import { BAD_FIELD, BAD_FLAGS, BAD_VERSION, OK, type Status, TRUNCATED } from './status.ts';

/** 16 bytes of header plus 2 of padding (which 4-byte-aligns the inner IP header). */
export const HEADER_LEN = 18;
export const FLAG_CSUM_VERIFIED = 0x01;
export const FLAG_CSUM_PARTIAL = 0x02;
export const FLAG_IPV4 = 0x04;
export const FLAG_TCP = 0x08;
export const FLAGS_RESERVED = 0xf0;
export const TCI_PCP_MASK = 0xe000;
export const TCI_V = 0x1000;
export const TCI_VID_MASK = 0x0fff;
/** Inner Ethernet (14) + IPv4 (20) / IPv6 (40): the smallest L4 offset for a partial checksum. */
export const MIN_L4_OFFSET_V4 = 34;
export const MIN_L4_OFFSET_V6 = 54;
/** The largest STT frame: its length must fit SEQ's high 16 bits. Inner Ethernet ≤ 65535 − 18. */
export const FRAME_MAX = 0xffff;

const VERSION = 0;
const FLAGS = 1;
const L4_OFFSET = 2;
const RESERVED = 3;
const MSS = 4;
const TCI = 6;
const CONTEXT = 8;
const PADDING = 16;

export const version = (b: Uint8Array, o: number): number => b[o + VERSION]!;
export const flags = (b: Uint8Array, o: number): number => b[o + FLAGS]!;
export const l4Offset = (b: Uint8Array, o: number): number => b[o + L4_OFFSET]!;
export const mss = (b: Uint8Array, o: number): number => u16(b, o + MSS);
export const tci = (b: Uint8Array, o: number): number => u16(b, o + TCI);
export const contextHi = (b: Uint8Array, o: number): number => u32(b, o + CONTEXT);
export const contextLo = (b: Uint8Array, o: number): number => u32(b, o + CONTEXT + 4);
export const pcp = (tci: number): number => tci >>> 13;
export const vlanValid = (tci: number): boolean => (tci & TCI_V) !== 0;
export const vid = (tci: number): number => tci & TCI_VID_MASK;

export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  if (b[o + VERSION] !== 0) return BAD_VERSION;
  const f = b[o + FLAGS]!;
  if ((f & FLAG_CSUM_PARTIAL) === 0) return OK;
  if ((f & FLAG_CSUM_VERIFIED) !== 0) return BAD_FLAGS;
  const l4 = b[o + L4_OFFSET]!;
  if (l4 < ((f & FLAG_IPV4) !== 0 ? MIN_L4_OFFSET_V4 : MIN_L4_OFFSET_V6)) return BAD_FIELD;
  // The inner L4 header (TCP 20, UDP 8 bytes) must lie inside the frame.
  if (l4 + ((f & FLAG_TCP) !== 0 ? 20 : 8) > end - o - HEADER_LEN) return BAD_FIELD;
  return OK;
}

export interface SttRepr {
  /** 0 on every header parse accepts; emit writes it (for bad-version test frames). */
  version: number;
  /** C | P | V | T (low nibble). */
  flags: number;
  /** Flag bits 0xF0. */
  rsvdFlags: number;
  l4Offset: number;
  reserved: number;
  mss: number;
  /** PCP (3) | V (1) | VID (12), as an 802.1Q TCI. */
  tci: number;
  /** Context ID, high and low 32 bits (unsigned). */
  ctxHi: number;
  ctxLo: number;
  padding: number;
}

export function newRepr(): SttRepr {
  return {
    version: 0,
    flags: 0,
    rsvdFlags: 0,
    l4Offset: 0,
    reserved: 0,
    mss: 0,
    tci: 0,
    ctxHi: 0,
    ctxLo: 0,
    padding: 0,
  };
}

export function headerLen(_r: SttRepr): number {
  return HEADER_LEN;
}

export function parse(b: Uint8Array, o: number, end: number, out: SttRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  const f = b[o + FLAGS]!;
  out.version = 0;
  out.flags = f & 0x0f;
  out.rsvdFlags = f & FLAGS_RESERVED;
  out.l4Offset = b[o + L4_OFFSET]!;
  out.reserved = b[o + RESERVED]!;
  out.mss = u16(b, o + MSS);
  out.tci = u16(b, o + TCI);
  out.ctxHi = u32(b, o + CONTEXT);
  out.ctxLo = u32(b, o + CONTEXT + 4);
  out.padding = u16(b, o + PADDING);
  return OK;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

export function emit(r: SttRepr, b: Uint8Array, o: number): void {
  b[o + VERSION] = r.version;
  b[o + FLAGS] = (r.flags & 0x0f) | (r.rsvdFlags & FLAGS_RESERVED);
  b[o + L4_OFFSET] = r.l4Offset;
  b[o + RESERVED] = r.reserved;
  b[o + MSS] = r.mss >>> 8;
  b[o + MSS + 1] = r.mss;
  b[o + TCI] = r.tci >>> 8;
  b[o + TCI + 1] = r.tci;
  put32(b, o + CONTEXT, r.ctxHi);
  put32(b, o + CONTEXT + 4, r.ctxLo);
  b[o + PADDING] = r.padding >>> 8;
  b[o + PADDING + 1] = r.padding;
}

/** "CPVT" letters for the set flags, '-' for clear ones, in value order 0x01, 0x02, 0x04, 0x08. */
export function flagLetters(f: number): string {
  return `${f & 1 ? 'C' : '-'}${f & 2 ? 'P' : '-'}${f & 4 ? 'V' : '-'}${f & 8 ? 'T' : '-'}`;
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `STT truncated (${Math.max(0, end - o)} bytes)`;
  const t = tci(b, o);
  const ctx = `${contextHi(b, o).toString(16).padStart(8, '0')}${contextLo(b, o).toString(16).padStart(8, '0')}`;
  let s = `STT ver=${version(b, o)} flags=${flagLetters(flags(b, o))} l4off=${l4Offset(b, o)} mss=${mss(b, o)}`;
  if (t !== 0) s += ` vlan=${vlanValid(t) ? '' : '(V clear)'}pcp${pcp(t)}/vid${vid(t)}`;
  return `${s} ctx=0x${ctx}`;
}

export const codec: Codec<SttRepr> = { name: 'stt', newRepr, headerLen, parse, emit, format };
