// GRE header, RFC 2784 §2 with the Key and Sequence Number extensions of RFC 2890 §2 (IP protocol 47).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |C|R|K|S|s|Recur|  Reserved0    | Ver |         Protocol Type         |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |      Checksum (optional, C)   |       Reserved1 (optional, C) |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                         Key (optional, K)                     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                 Sequence Number (optional, S)                 |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Flags word masks: C 0x8000, R 0x4000 (RFC 1701 routing), K 0x2000, S 0x1000, s 0x0800 (RFC 1701
// strict source route), Recur 0x0700 (RFC 1701 recursion), Reserved0 bits 6–12 = 0x03F8, Ver 0x0007.
// Optional words appear in the order C, K, S, each only when its flag is set: 4..16 bytes.
//
// Receive policy: Ver ≠ 0 ⇒ BAD_VERSION (1 is PPTP's enhanced GRE); R ⇒ UNSUPPORTED (RFC 1701 source
// routing, which we do not implement); s or the top Recur bit (RFC 2784 §2.3: a receiver not
// implementing RFC 1701 MUST discard packets with any of bits 1–5 set; RFC 2890 re-uses bits 2–3 as
// K and S) ⇒ BAD_FLAGS; the low Recur bits and bits 6–12 are ignored and reported. With C set the
// checksum (ones' complement over the GRE header and payload, i.e. [o, end), RFC 2784 §2.5) must
// verify ⇒ else BAD_CHECKSUM. `end` is therefore the end of the GRE packet, not just of its header.
//
// Emit writes the checksum field from the Repr; `fillChecksum` computes it once the payload is in place.
import { setU16, u16, u32 } from './bytes.ts';
import { checksum, fold, sum } from './checksum.ts';
import type { Codec } from './codec.ts';
import { nameSet } from './registry.ts';
import { BAD_CHECKSUM, BAD_FLAGS, BAD_VERSION, OK, type Status, TRUNCATED, UNSUPPORTED } from './status.ts';

export const BASE_LEN = 4;
export const MAX_LEN = 16;
export const FLAG_C = 0x8000;
export const FLAG_R = 0x4000;
export const FLAG_K = 0x2000;
export const FLAG_S = 0x1000;
/** s (strict source route) and the top Recur bit: bits 4–5, which RFC 2784 receivers MUST discard. */
export const FLAGS_DISCARD = 0x0c00;
/** The low two Recur bits and Reserved0 bits 6–12: ignored on receipt. */
export const FLAGS_IGNORED = 0x03f8;
export const VERSION_MASK = 0x0007;

/** Protocol Type is an EtherType (RFC 2784 §2.4); the ones GRE tunnels carry. */
export const PROTO_IPV4 = 0x0800;
export const PROTO_IPV6 = 0x86dd;
/** Transparent Ethernet Bridging (gretap, NVGRE). */
export const PROTO_TEB = 0x6558;
export const PROTO_MPLS = 0x8847;
export const protocols = nameSet({
  [PROTO_IPV4]: 'ipv4',
  [PROTO_IPV6]: 'ipv6',
  [PROTO_TEB]: 'teb',
  [PROTO_MPLS]: 'mpls',
  2054: 'arp',
  34827: 'ppp',
  35006: 'erspan2',
  8939: 'erspan3',
});

const FLAGS_VER = 0;
const PROTO = 2;

export const flagsWord = (b: Uint8Array, o: number): number => u16(b, o + FLAGS_VER);
export const protocol = (b: Uint8Array, o: number): number => u16(b, o + PROTO);

/** Header length from the flags word (4 + 4 per C/K/S). */
export function lengthOf(word: number): number {
  return BASE_LEN + (word & FLAG_C ? 4 : 0) + (word & FLAG_K ? 4 : 0) + (word & FLAG_S ? 4 : 0);
}
export const length = (b: Uint8Array, o: number): number => lengthOf(u16(b, o));
/** Offset of the key word (valid only when K is set). */
export const keyOffset = (word: number): number => BASE_LEN + (word & FLAG_C ? 4 : 0);
export const seqOffset = (word: number): number => keyOffset(word) + (word & FLAG_K ? 4 : 0);

/** Structure only: flags, version and length (no checksum). */
export function checkHeader(b: Uint8Array, o: number, end: number): Status {
  if (end - o < BASE_LEN) return TRUNCATED;
  const w = u16(b, o);
  if ((w & VERSION_MASK) !== 0) return BAD_VERSION;
  if ((w & FLAG_R) !== 0) return UNSUPPORTED;
  if ((w & FLAGS_DISCARD) !== 0) return BAD_FLAGS;
  if (lengthOf(w) > end - o) return TRUNCATED;
  return OK;
}

/** With C set: does the checksum over [o, end) verify? (A correct packet sums to 0xffff.) */
export function checksumOk(b: Uint8Array, o: number, end: number): boolean {
  return fold(sum(b, o, end)) === 0xffff;
}

/** Computes and stores the checksum over [o, end) (header with C set, then payload in place). */
export function fillChecksum(b: Uint8Array, o: number, end: number): void {
  b[o + 4] = 0;
  b[o + 5] = 0;
  setU16(b, o + 4, checksum(b, o, end));
}

export function check(b: Uint8Array, o: number, end: number): Status {
  const st = checkHeader(b, o, end);
  if (st !== OK) return st;
  if ((u16(b, o) & FLAG_C) !== 0 && !checksumOk(b, o, end)) return BAD_CHECKSUM;
  return OK;
}

export interface GreRepr {
  csumPresent: boolean;
  keyPresent: boolean;
  seqPresent: boolean;
  /** Flags-word bits 0x03F8 (low Recur bits and Reserved0), reported, 0 from a conforming sender. */
  rsvdFlags: number;
  /** 0 on every header parse accepts; emit writes it (for negative tests). */
  version: number;
  protocol: number;
  /** 0 unless csumPresent. */
  checksum: number;
  reserved1: number;
  /** 0 unless keyPresent. */
  key: number;
  /** 0 unless seqPresent. */
  seq: number;
}

export function newRepr(): GreRepr {
  return {
    csumPresent: false,
    keyPresent: false,
    seqPresent: false,
    rsvdFlags: 0,
    version: 0,
    protocol: PROTO_TEB,
    checksum: 0,
    reserved1: 0,
    key: 0,
    seq: 0,
  };
}

export function headerLen(r: GreRepr): number {
  return BASE_LEN + (r.csumPresent ? 4 : 0) + (r.keyPresent ? 4 : 0) + (r.seqPresent ? 4 : 0);
}

export function parse(b: Uint8Array, o: number, end: number, out: GreRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  const w = u16(b, o);
  let at = o + BASE_LEN;
  out.csumPresent = (w & FLAG_C) !== 0;
  out.keyPresent = (w & FLAG_K) !== 0;
  out.seqPresent = (w & FLAG_S) !== 0;
  out.rsvdFlags = w & FLAGS_IGNORED;
  out.version = 0;
  out.protocol = u16(b, o + PROTO);
  out.checksum = 0;
  out.reserved1 = 0;
  out.key = 0;
  out.seq = 0;
  if (out.csumPresent) {
    out.checksum = u16(b, at);
    out.reserved1 = u16(b, at + 2);
    at += 4;
  }
  if (out.keyPresent) {
    out.key = u32(b, at);
    at += 4;
  }
  if (out.seqPresent) out.seq = u32(b, at);
  return OK;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

export function emit(r: GreRepr, b: Uint8Array, o: number): void {
  const w =
    (r.csumPresent ? FLAG_C : 0) |
    (r.keyPresent ? FLAG_K : 0) |
    (r.seqPresent ? FLAG_S : 0) |
    (r.rsvdFlags & FLAGS_IGNORED) |
    (r.version & VERSION_MASK);
  b[o] = w >>> 8;
  b[o + 1] = w;
  b[o + PROTO] = r.protocol >>> 8;
  b[o + PROTO + 1] = r.protocol;
  let at = o + BASE_LEN;
  if (r.csumPresent) {
    b[at] = r.checksum >>> 8;
    b[at + 1] = r.checksum;
    b[at + 2] = r.reserved1 >>> 8;
    b[at + 3] = r.reserved1;
    at += 4;
  }
  if (r.keyPresent) {
    put32(b, at, r.key);
    at += 4;
  }
  if (r.seqPresent) put32(b, at, r.seq);
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < BASE_LEN) return `GRE truncated (${Math.max(0, end - o)} bytes)`;
  const w = u16(b, o);
  let s = `GRE ver=${w & VERSION_MASK} proto=${protocols.name(u16(b, o + PROTO))}`;
  if (lengthOf(w) > end - o) return `${s} truncated`;
  if (w & FLAG_C)
    s += ` csum=0x${u16(b, o + 4)
      .toString(16)
      .padStart(4, '0')}`;
  if (w & FLAG_K)
    s += ` key=0x${u32(b, o + keyOffset(w))
      .toString(16)
      .padStart(8, '0')}`;
  if (w & FLAG_S) s += ` seq=${u32(b, o + seqOffset(w))}`;
  if (w & FLAG_R) s += ' R(routing: unsupported)';
  return s;
}

export const codec: Codec<GreRepr> = { name: 'gre', newRepr, headerLen, parse, emit, format };
