// ICMPv6, RFC 4443 §2–4 (errors, echo; Packet Too Big §3.2), with Neighbor Discovery's Router
// Solicitation, Neighbor Solicitation and Advertisement, RFC 4861 §4.1, §4.3, §4.4, options §4.6.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Type      |     Code      |          Checksum             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | echo (128/129): Identifier | Sequence;  Packet Too Big (2): MTU (32);  Param Problem (4): Pointer (32)
//   | NA (136): R|S|O|reserved (29);  NS (135), RS (133), unreachable (1), time exceeded (3): reserved
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | NS / NA only: Target Address (128 bits)                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | RS / NS / NA options: Type (8) | Length (8, units of 8 bytes) | value …
//   |   1 Source Link-Layer Address, 2 Target Link-Layer Address: 6-byte MAC on Ethernet (length 1)
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The checksum covers the IPv6 pseudo-header (next header 58) and the whole message; `end` passed here
// is the end of the IPv6 payload. Other types (RA, Redirect, MLD…) parse as the 8-byte common header
// with the rest left as data.
import { formatIpv6, setU16, setU32, u16, u32 } from './bytes.ts';
import type { Codec } from './codec.ts';
import * as ipProto from './ip-proto.ts';
import * as l4 from './l4-checksum.ts';
import { nameSet } from './registry.ts';
import {
  BAD_FIELD,
  BAD_FLAGS,
  BAD_LENGTH,
  BAD_OPTION,
  OK,
  type Status,
  statusName,
  TRUNCATED,
} from './status.ts';

export const HEADER_LEN = 8;
export const CHECKSUM = 2;
export const REST = 4;
export const TARGET = 8;
export const ND_LEN = 24; //   NS / NA without options

export const DEST_UNREACH = 1;
export const PACKET_TOO_BIG = 2;
export const TIME_EXCEEDED = 3;
export const PARAM_PROBLEM = 4;
export const ECHO_REQUEST = 128;
export const ECHO_REPLY = 129;
export const ROUTER_SOLICIT = 133;
export const ROUTER_ADVERT = 134;
export const NEIGHBOR_SOLICIT = 135;
export const NEIGHBOR_ADVERT = 136;
export const REDIRECT = 137;
export const types = nameSet(
  {
    [DEST_UNREACH]: 'destination-unreachable',
    [PACKET_TOO_BIG]: 'packet-too-big',
    [TIME_EXCEEDED]: 'time-exceeded',
    [PARAM_PROBLEM]: 'parameter-problem',
    [ECHO_REQUEST]: 'echo-request',
    [ECHO_REPLY]: 'echo-reply',
    130: 'mld-query',
    131: 'mld-report',
    132: 'mld-done',
    [ROUTER_SOLICIT]: 'router-solicitation',
    [ROUTER_ADVERT]: 'router-advertisement',
    [NEIGHBOR_SOLICIT]: 'neighbor-solicitation',
    [NEIGHBOR_ADVERT]: 'neighbor-advertisement',
    [REDIRECT]: 'redirect',
    143: 'mldv2-report',
  },
  2,
);

export const OPT_SLL = 1;
export const OPT_TLL = 2;
export const OPT_PREFIX = 3;
export const OPT_REDIRECTED = 4;
export const OPT_MTU = 5;

/** Neighbor Advertisement flags in `rest` (RFC 4861 §4.4). */
export const NA_ROUTER = 0x80000000;
export const NA_SOLICITED = 0x40000000;
export const NA_OVERRIDE = 0x20000000;

/** Types 0..127 are errors (RFC 4443 §2.1): never answered with another error. */
export const isError = (t: number): boolean => t < 128;
export const hasTarget = (t: number): boolean => t === NEIGHBOR_SOLICIT || t === NEIGHBOR_ADVERT;
/** Where ND options start for the types whose options we decode, or -1. */
export const optionsStart = (t: number): number =>
  t === NEIGHBOR_SOLICIT || t === NEIGHBOR_ADVERT ? ND_LEN : t === ROUTER_SOLICIT ? HEADER_LEN : -1;

export const type = (b: Uint8Array, o: number): number => b[o]!;
export const code = (b: Uint8Array, o: number): number => b[o + 1]!;
export const checksumField = (b: Uint8Array, o: number): number => u16(b, o + CHECKSUM);
export const rest = (b: Uint8Array, o: number): number => u32(b, o + REST);
export const echoId = (b: Uint8Array, o: number): number => u16(b, o + 4);
export const echoSeq = (b: Uint8Array, o: number): number => u16(b, o + 6);
export const mtu = (b: Uint8Array, o: number): number => u32(b, o + 4);
export const pointer = (b: Uint8Array, o: number): number => u32(b, o + 4);
export const echoRest = (id: number, seq: number): number => (((id & 0xffff) << 16) | (seq & 0xffff)) >>> 0;

// ---- checksum (ip6 = offset of the IPv6 header; [o, end) the message) ----

export function fillChecksum(b: Uint8Array, ip6: number, o: number, end: number): void {
  l4.fill(b, ip6, o, end, ipProto.ICMPV6, CHECKSUM, false);
}
export function verifyChecksum(b: Uint8Array, ip6: number, o: number, end: number): boolean {
  return l4.verify(b, ip6, o, end, ipProto.ICMPV6);
}

export interface Icmpv6Repr {
  type: number;
  code: number;
  /** Carried verbatim; fillChecksum() computes it. */
  checksum: number;
  /** Bytes 4..7 (echo id/seq, MTU, pointer, NA flags). */
  rest: number;
  /** NS/NA target (16 bytes; zero for other types). */
  target: Uint8Array;
  /** Ethernet link-layer address options (RS/NS/NA); the first of each kind is kept (Linux does too). */
  hasSll: boolean;
  sll: Uint8Array;
  hasTll: boolean;
  tll: Uint8Array;
}

export function newRepr(): Icmpv6Repr {
  return {
    type: ECHO_REQUEST,
    code: 0,
    checksum: 0,
    rest: 0,
    target: new Uint8Array(16),
    hasSll: false,
    sll: new Uint8Array(6),
    hasTll: false,
    tll: new Uint8Array(6),
  };
}

/**
 * Decodes ND options in [o, end): each needs Length ≥ 1 and must fit (RFC 4861 §4.6: a zero length
 * means discard the packet) → else BAD_OPTION. Link-layer options of length 1 carry a MAC.
 */
export function parseOptions(b: Uint8Array, o: number, end: number, out: Icmpv6Repr): Status {
  let i = o;
  while (i < end) {
    if (end - i < 2) return BAD_OPTION;
    const len = b[i + 1]! << 3;
    if (len === 0 || len > end - i) return BAD_OPTION;
    const t = b[i]!;
    if (len === 8 && t === OPT_SLL && !out.hasSll) {
      out.hasSll = true;
      for (let k = 0; k < 6; k++) out.sll[k] = b[i + 2 + k]!;
    } else if (len === 8 && t === OPT_TLL && !out.hasTll) {
      out.hasTll = true;
      for (let k = 0; k < 6; k++) out.tll[k] = b[i + 2 + k]!;
    }
    i += len;
  }
  return OK;
}

/**
 * fewer than 8 bytes, or an NS/NA shorter than 24 → TRUNCATED; bad ND options → BAD_OPTION.
 * The checksum is not verified here (verifyChecksum needs the IPv6 header).
 */
export function parse(b: Uint8Array, o: number, end: number, out: Icmpv6Repr): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  const t = b[o]!;
  out.type = t;
  out.code = b[o + 1]!;
  out.checksum = checksumField(b, o);
  out.rest = rest(b, o);
  out.hasSll = false;
  out.hasTll = false;
  out.sll.fill(0);
  out.tll.fill(0);
  if (hasTarget(t)) {
    if (end - o < ND_LEN) return TRUNCATED;
    for (let k = 0; k < 16; k++) out.target[k] = b[o + TARGET + k]!;
  } else out.target.fill(0);
  const os = optionsStart(t);
  return os < 0 ? OK : parseOptions(b, o + os, end, out);
}

export function reprHeaderLen(r: Icmpv6Repr): number {
  const os = optionsStart(r.type);
  if (os < 0) return HEADER_LEN;
  return os + (r.hasSll ? 8 : 0) + (r.hasTll ? 8 : 0);
}

/** Writes the header, the NS/NA target and the link-layer options (SLL then TLL); checksum as given. */
export function emit(r: Icmpv6Repr, b: Uint8Array, o: number): void {
  b[o] = r.type;
  b[o + 1] = r.code;
  setU16(b, o + CHECKSUM, r.checksum);
  setU32(b, o + REST, r.rest);
  if (hasTarget(r.type)) for (let k = 0; k < 16; k++) b[o + TARGET + k] = r.target[k]!;
  const os = optionsStart(r.type);
  if (os < 0) return;
  let i = o + os;
  if (r.hasSll) i = emitLlOption(b, i, OPT_SLL, r.sll);
  if (r.hasTll) emitLlOption(b, i, OPT_TLL, r.tll);
}

/** Writes an 8-byte link-layer address option (Ethernet MAC); returns the offset after it. */
export function emitLlOption(b: Uint8Array, i: number, kind: number, mac: Uint8Array): number {
  b[i] = kind;
  b[i + 1] = 1;
  for (let k = 0; k < 6; k++) b[i + 2 + k] = mac[k]!;
  return i + 8;
}

/**
 * The receive-side validity checks of RFC 4861 §6.1.1 (RS), §7.1.1 (NS) and §7.1.2 (NA), for the message
 * at `o` inside the IPv6 packet at `ip6` (checksum aside: verifyChecksum):
 *   Hop Limit ≠ 255 or Code ≠ 0 or a multicast Target → BAD_FIELD;  too short → BAD_LENGTH;
 *   NA to a multicast destination with S set → BAD_FLAGS;
 *   NS / RS from the unspecified address carrying a Source Link-Layer option → BAD_OPTION;
 *   NS from the unspecified address to a non-solicited-node destination → BAD_FIELD.
 */
export function checkNd(b: Uint8Array, ip6: number, o: number, end: number, r: Icmpv6Repr): Status {
  if (b[ip6 + 7] !== 255 || r.code !== 0) return BAD_FIELD;
  if (end - o < (r.type === ROUTER_SOLICIT ? HEADER_LEN : ND_LEN)) return BAD_LENGTH;
  if (hasTarget(r.type) && r.target[0] === 0xff) return BAD_FIELD;
  if (r.type === NEIGHBOR_ADVERT && b[ip6 + 24] === 0xff && (r.rest & NA_SOLICITED) !== 0) return BAD_FLAGS;
  let unspecified = true;
  for (let k = 0; k < 16; k++) if (b[ip6 + 8 + k] !== 0) unspecified = false;
  if (unspecified && (r.type === NEIGHBOR_SOLICIT || r.type === ROUTER_SOLICIT)) {
    if (r.hasSll) return BAD_OPTION;
    // Solicited-node multicast: ff02::1:ffXX:XXXX (RFC 4291 §2.7.1)
    if (r.type === NEIGHBOR_SOLICIT) {
      const d = ip6 + 24;
      const prefix = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
      for (let k = 0; k < prefix.length; k++) if (b[d + k] !== prefix[k]) return BAD_FIELD;
    }
  }
  return OK;
}

export function format(b: Uint8Array, o: number, end: number): string {
  const r = newRepr();
  const st = parse(b, o, end, r);
  if (st !== OK) return `ICMPv6 ${statusName(st)}`;
  let s = `ICMPv6 ${types.name(r.type)} code ${r.code}`;
  if (r.type === ECHO_REQUEST || r.type === ECHO_REPLY) s += ` id=${echoId(b, o)} seq=${echoSeq(b, o)}`;
  else if (r.type === PACKET_TOO_BIG) s += ` mtu=${mtu(b, o)}`;
  else if (r.type === PARAM_PROBLEM) s += ` pointer=${pointer(b, o)}`;
  if (hasTarget(r.type)) {
    s += ` target ${formatIpv6(r.target, 0)}`;
  }
  if (r.hasSll) s += ' +sll';
  if (r.hasTll) s += ' +tll';
  return `${s} len=${end - o}`;
}

export const codec: Codec<Icmpv6Repr> = {
  name: 'icmpv6',
  newRepr,
  headerLen: reprHeaderLen,
  parse,
  emit,
  format,
};
