// IPv4 header, RFC 791 §3.1 (DSCP/ECN per RFC 2474 / RFC 3168; ID rules RFC 6864).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Identification        |R|D|M|      Fragment Offset    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Time to Live |    Protocol   |         Header Checksum       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       Source Address                          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Destination Address                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Options (0..40 bytes)      |    Padding    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Host units: headerLen() is IHL × 4 bytes, fragOffset() is the 13-bit field × 8 bytes.
// Addresses are u32 numbers (>>> 0, so 0x80000000.. stays positive) — cheap to compare and hash;
// SRC / DST are the byte offsets for callers that copy them (tunnel metadata, pseudo-headers).
import { formatIpv4, parseIpv4, setU16, setU32, u16, u32 } from './bytes.ts';
import { checksum, fold, sum } from './checksum.ts';
import type { Codec } from './codec.ts';
import * as ipProto from './ip-proto.ts';
import {
  BAD_CHECKSUM,
  BAD_LENGTH,
  BAD_OPTION,
  BAD_VERSION,
  OK,
  type Status,
  statusName,
  TRUNCATED,
} from './status.ts';

export const HEADER_LEN = 20; //  without options
export const MAX_HEADER_LEN = 60; // IHL 15 × 4
export const MAX_OPTIONS_LEN = 40;
export const TOS = 1;
export const TOTAL_LEN = 2;
export const IDENT = 4;
export const FRAG = 6;
export const TTL = 8;
export const PROTOCOL = 9;
export const CHECKSUM = 10;
export const SRC = 12;
export const DST = 16;

export const FLAG_RESERVED = 0x8000;
export const FLAG_DF = 0x4000;
export const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

/** Option types (RFC 791 §3.1; IANA "ip-parameters"): top bit = copied into every fragment. */
export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_RR = 7;
export const OPT_TS = 68;
export const OPT_LSRR = 131;
export const OPT_SSRR = 137;
export const OPT_RA = 148; //  Router Alert, RFC 2113
export const optionCopied = (type: number): boolean => (type & 0x80) !== 0;

// ---- accessors (valid once check() returned OK) ----
export const version = (b: Uint8Array, o: number): number => b[o]! >>> 4;
export const headerLen = (b: Uint8Array, o: number): number => (b[o]! & 0x0f) << 2;
export const dscp = (b: Uint8Array, o: number): number => b[o + TOS]! >>> 2;
export const ecn = (b: Uint8Array, o: number): number => b[o + TOS]! & 3;
export const tos = (b: Uint8Array, o: number): number => b[o + TOS]!;
export const totalLen = (b: Uint8Array, o: number): number => u16(b, o + TOTAL_LEN);
export const ident = (b: Uint8Array, o: number): number => u16(b, o + IDENT);
export const df = (b: Uint8Array, o: number): boolean => (b[o + FRAG]! & 0x40) !== 0;
export const mf = (b: Uint8Array, o: number): boolean => (b[o + FRAG]! & 0x20) !== 0;
/** Fragment offset in bytes (field × 8). */
export const fragOffset = (b: Uint8Array, o: number): number => (u16(b, o + FRAG) & OFFSET_MASK) << 3;
/** A fragment of a larger datagram: MF set or a non-zero offset (RFC 791; RFC 6864 "atomic" = neither). */
export const isFragment = (b: Uint8Array, o: number): boolean =>
  (u16(b, o + FRAG) & (FLAG_MF | OFFSET_MASK)) !== 0;
export const ttl = (b: Uint8Array, o: number): number => b[o + TTL]!;
export const protocol = (b: Uint8Array, o: number): number => b[o + PROTOCOL]!;
export const headerChecksum = (b: Uint8Array, o: number): number => u16(b, o + CHECKSUM);
export const src = (b: Uint8Array, o: number): number => u32(b, o + SRC);
export const dst = (b: Uint8Array, o: number): number => u32(b, o + DST);
/** Offset just past the header (the L4 header). */
export const payloadOffset = (b: Uint8Array, o: number): number => o + headerLen(b, o);
/** Offset just past the datagram: use this as `end` for L4, not the frame end (Ethernet pads). */
export const payloadEnd = (b: Uint8Array, o: number): number => o + totalLen(b, o);

export const setTos = (b: Uint8Array, o: number, v: number): void => void (b[o + TOS] = v);
export const setTotalLen = (b: Uint8Array, o: number, v: number): void => setU16(b, o + TOTAL_LEN, v);
export const setIdent = (b: Uint8Array, o: number, v: number): void => setU16(b, o + IDENT, v);
export const setTtl = (b: Uint8Array, o: number, v: number): void => void (b[o + TTL] = v);
export const setProtocol = (b: Uint8Array, o: number, v: number): void => void (b[o + PROTOCOL] = v);
export const setSrc = (b: Uint8Array, o: number, v: number): void => setU32(b, o + SRC, v);
export const setDst = (b: Uint8Array, o: number, v: number): void => setU32(b, o + DST, v);
/** Writes flags + offset; `offsetBytes` must be a multiple of 8 (caller's contract, RFC 791). */
export function setFrag(b: Uint8Array, o: number, isDf: boolean, isMf: boolean, offsetBytes: number): void {
  setU16(b, o + FRAG, (isDf ? FLAG_DF : 0) | (isMf ? FLAG_MF : 0) | ((offsetBytes >>> 3) & OFFSET_MASK));
}

/** Computes and stores the header checksum over IHL × 4 bytes (the field is zeroed first: RFC 791). */
export function fillChecksum(b: Uint8Array, o: number): void {
  b[o + CHECKSUM] = 0;
  b[o + CHECKSUM + 1] = 0;
  setU16(b, o + CHECKSUM, checksum(b, o, o + headerLen(b, o)));
}

/** True when the one's-complement sum over the header, checksum included, is 0xffff (RFC 1071 §1). */
export function verifyChecksum(b: Uint8Array, o: number): boolean {
  // A header of all zeros folds to 0, not 0xffff: rejected, as it should be.
  return fold(sum(b, o, o + headerLen(b, o))) === 0xffff;
}

/**
 * Walks the options (RFC 791 §3.1: EOL ends the list; NOP is one byte; every other option is
 * type, length ≥ 2, data, and must fit in the header). Returns OK or BAD_OPTION. Semantic checks of
 * individual options (pointer fields of RR/TS) are left to whoever acts on them; we only route.
 */
export function checkOptions(b: Uint8Array, o: number, hlen: number): Status {
  const end = o + hlen;
  let i = o + HEADER_LEN;
  while (i < end) {
    const t = b[i]!;
    if (t === OPT_EOL) return OK;
    if (t === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return BAD_OPTION;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return BAD_OPTION;
    i += len;
  }
  return OK;
}

/**
 * Structural check: after OK every accessor is in bounds and [o, o + totalLen) lies inside [o, end).
 * The header checksum is not verified here (verifyChecksum / parse do that).
 *   fewer than 20 bytes, or fewer than IHL × 4, or fewer than Total Length → TRUNCATED
 *   version ≠ 4 → BAD_VERSION;  IHL < 5 or Total Length < IHL × 4 → BAD_LENGTH;  bad options → BAD_OPTION
 */
export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  if (b[o]! >>> 4 !== 4) return BAD_VERSION;
  const hlen = headerLen(b, o);
  if (hlen < HEADER_LEN) return BAD_LENGTH;
  const tlen = totalLen(b, o);
  if (tlen < hlen) return BAD_LENGTH;
  if (end - o < hlen || end - o < tlen) return TRUNCATED;
  return hlen > HEADER_LEN ? checkOptions(b, o, hlen) : OK;
}

export interface Ipv4Repr {
  dscp: number;
  ecn: number;
  /** Total Length − header length. */
  payloadLen: number;
  ident: number;
  /** The reserved ("evil", RFC 3514) flag: must be zero on send, kept so parse → emit is lossless. */
  reservedFlag: boolean;
  df: boolean;
  mf: boolean;
  /** Bytes; a multiple of 8. */
  fragOffset: number;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
  /** Options bytes, padding included (a multiple of 4, ≤ 40); [optionsLen, 40) is zero. */
  options: Uint8Array;
  optionsLen: number;
}

export function newRepr(): Ipv4Repr {
  return {
    dscp: 0,
    ecn: 0,
    payloadLen: 0,
    ident: 0,
    reservedFlag: false,
    df: false,
    mf: false,
    fragOffset: 0,
    ttl: 64,
    protocol: 0,
    src: 0,
    dst: 0,
    options: new Uint8Array(MAX_OPTIONS_LEN),
    optionsLen: 0,
  };
}

/** check + header checksum verify + fields. */
export function parse(b: Uint8Array, o: number, end: number, out: Ipv4Repr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  if (!verifyChecksum(b, o)) return BAD_CHECKSUM;
  const hlen = headerLen(b, o);
  const frag = u16(b, o + FRAG);
  out.dscp = dscp(b, o);
  out.ecn = ecn(b, o);
  out.payloadLen = totalLen(b, o) - hlen;
  out.ident = ident(b, o);
  out.reservedFlag = (frag & FLAG_RESERVED) !== 0;
  out.df = (frag & FLAG_DF) !== 0;
  out.mf = (frag & FLAG_MF) !== 0;
  out.fragOffset = (frag & OFFSET_MASK) << 3;
  out.ttl = ttl(b, o);
  out.protocol = protocol(b, o);
  out.src = src(b, o);
  out.dst = dst(b, o);
  // Bytes past optionsLen stay zero (the Repr invariant): only the tail the previous parse used is cleared.
  const prev = out.optionsLen;
  out.optionsLen = hlen - HEADER_LEN;
  for (let i = 0; i < out.optionsLen; i++) out.options[i] = b[o + HEADER_LEN + i]!;
  for (let i = out.optionsLen; i < prev; i++) out.options[i] = 0;
  return OK;
}

export const reprHeaderLen = (r: Ipv4Repr): number => HEADER_LEN + ((r.optionsLen + 3) & ~3);

/** Writes the header with options (zero-padded to 4 bytes) and a correct header checksum. */
export function emit(r: Ipv4Repr, b: Uint8Array, o: number): void {
  const hlen = reprHeaderLen(r);
  b[o] = 0x40 | (hlen >>> 2);
  b[o + TOS] = (r.dscp << 2) | (r.ecn & 3);
  setU16(b, o + TOTAL_LEN, hlen + r.payloadLen);
  setU16(b, o + IDENT, r.ident);
  setU16(
    b,
    o + FRAG,
    (r.reservedFlag ? FLAG_RESERVED : 0) |
      (r.df ? FLAG_DF : 0) |
      (r.mf ? FLAG_MF : 0) |
      ((r.fragOffset >>> 3) & OFFSET_MASK),
  );
  b[o + TTL] = r.ttl;
  b[o + PROTOCOL] = r.protocol;
  setU32(b, o + SRC, r.src);
  setU32(b, o + DST, r.dst);
  for (let i = 0; i < hlen - HEADER_LEN; i++) b[o + HEADER_LEN + i] = i < r.optionsLen ? r.options[i]! : 0;
  fillChecksum(b, o);
}

export function format(b: Uint8Array, o: number, end: number): string {
  const st = check(b, o, end);
  if (st !== OK) return `IPv4 ${statusName(st)}`;
  const frag = isFragment(b, o) ? ` frag off=${fragOffset(b, o)}${mf(b, o) ? '+' : ''}` : '';
  return (
    `IPv4 ${formatIpv4(b, o + SRC)} > ${formatIpv4(b, o + DST)} ${ipProto.name(protocol(b, o))}` +
    ` len=${totalLen(b, o)} id=${ident(b, o)} ttl=${ttl(b, o)}${df(b, o) ? ' DF' : ''}${frag}` +
    (headerLen(b, o) > HEADER_LEN ? ` opts=${headerLen(b, o) - HEADER_LEN}` : '') +
    (verifyChecksum(b, o) ? '' : ' bad-csum')
  );
}

/** Dotted-quad text → the u32 form used in Reprs (control plane, tests; allocates, throws on bad text). */
export function addr(text: string): number {
  const t = new Uint8Array(4);
  parseIpv4(text, t, 0);
  return u32(t, 0);
}

/** u32 → dotted-quad text. */
export const addrText = (a: number): string =>
  `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;

export const codec: Codec<Ipv4Repr> = {
  name: 'ipv4',
  newRepr,
  headerLen: reprHeaderLen,
  parse,
  emit,
  format,
};
