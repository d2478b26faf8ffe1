// ICMP for IPv4, RFC 792 (Fragmentation Needed's Next-Hop MTU: RFC 1191 §4; extended errors RFC 4884
// not decoded). Every message starts with the same 8 bytes; the last 4 depend on the type:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Type      |     Code      |          Checksum             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | echo (0, 8):            Identifier        |  Sequence Number  |
//   | unreachable (3):        unused            |  Next-Hop MTU (code 4, RFC 1191)
//   | redirect (5):           Gateway Internet Address               |
//   | time exceeded (11):     unused                                 |
//   | parameter problem (12): Pointer (8 bits)  |  unused            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | data: echo payload, or for errors the IP header + ≥ 8 bytes of the offending datagram
//
// The checksum covers the whole message (no pseudo-header). The Repr keeps the 4 type-specific bytes as
// one u32 `rest`, so every type round-trips; accessors name them. `end` = end of the IP payload.
import { setU16, setU32, u16, u32 } from './bytes.ts';
import { checksum, fold, sum } from './checksum.ts';
import type { Codec } from './codec.ts';
import { nameSet } from './registry.ts';
import { OK, type Status, statusName, TRUNCATED } from './status.ts';

export const HEADER_LEN = 8;
export const CHECKSUM = 2;
export const REST = 4;

export const ECHO_REPLY = 0;
export const DEST_UNREACH = 3;
export const SOURCE_QUENCH = 4;
export const REDIRECT = 5;
export const ECHO_REQUEST = 8;
export const ROUTER_ADVERT = 9;
export const ROUTER_SOLICIT = 10;
export const TIME_EXCEEDED = 11;
export const PARAM_PROBLEM = 12;
export const TIMESTAMP = 13;
export const TIMESTAMP_REPLY = 14;
export const types = nameSet(
  {
    [ECHO_REPLY]: 'echo-reply',
    [DEST_UNREACH]: 'destination-unreachable',
    [SOURCE_QUENCH]: 'source-quench',
    [REDIRECT]: 'redirect',
    [ECHO_REQUEST]: 'echo-request',
    [ROUTER_ADVERT]: 'router-advertisement',
    [ROUTER_SOLICIT]: 'router-solicitation',
    [TIME_EXCEEDED]: 'time-exceeded',
    [PARAM_PROBLEM]: 'parameter-problem',
    [TIMESTAMP]: 'timestamp',
    [TIMESTAMP_REPLY]: 'timestamp-reply',
  },
  2,
);

/** Destination Unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const UNREACH_NET = 0;
export const UNREACH_HOST = 1;
export const UNREACH_PROTOCOL = 2;
export const UNREACH_PORT = 3;
export const UNREACH_FRAG_NEEDED = 4;
export const UNREACH_SRC_ROUTE = 5;
export const UNREACH_ADMIN = 13;
/** Time Exceeded codes. */
export const EXCEEDED_TTL = 0;
export const EXCEEDED_REASSEMBLY = 1;

/** Error messages quote a datagram and must never be answered with another error (RFC 1122 §3.2.2). */
export const isError = (type: number): boolean =>
  type === DEST_UNREACH ||
  type === SOURCE_QUENCH ||
  type === REDIRECT ||
  type === TIME_EXCEEDED ||
  type === PARAM_PROBLEM;

export const type = (b: Uint8Array, o: number): number => b[o]!;
export const code = (b: Uint8Array, o: number): number => b[o + 1]!;
export const checksumField = (b: Uint8Array, o: number): number => u16(b, o + CHECKSUM);
export const rest = (b: Uint8Array, o: number): number => u32(b, o + REST);
export const echoId = (b: Uint8Array, o: number): number => u16(b, o + 4);
export const echoSeq = (b: Uint8Array, o: number): number => u16(b, o + 6);
/** RFC 1191: the MTU of the next-hop network, in the low 16 bits (0 from pre-RFC 1191 routers). */
export const nextHopMtu = (b: Uint8Array, o: number): number => u16(b, o + 6);
export const pointer = (b: Uint8Array, o: number): number => b[o + 4]!;
export const gateway = (b: Uint8Array, o: number): number => u32(b, o + 4);
/** Offset of the quoted IP header in an error message. */
export const quoteOffset = (o: number): number => o + HEADER_LEN;

/** `rest` values for the common messages. */
export const echoRest = (id: number, seq: number): number => (((id & 0xffff) << 16) | (seq & 0xffff)) >>> 0;
export const fragNeededRest = (mtu: number): number => mtu & 0xffff;
export const pointerRest = (ptr: number): number => ((ptr & 0xff) << 24) >>> 0;

export function check(_b: Uint8Array, o: number, end: number): Status {
  return end - o < HEADER_LEN ? TRUNCATED : OK;
}

/** Computes and stores the checksum over the message [o, end). */
export function fillChecksum(b: Uint8Array, o: number, end: number): void {
  b[o + CHECKSUM] = 0;
  b[o + CHECKSUM + 1] = 0;
  setU16(b, o + CHECKSUM, checksum(b, o, end));
}

export function verifyChecksum(b: Uint8Array, o: number, end: number): boolean {
  return fold(sum(b, o, end)) === 0xffff;
}

export interface Icmpv4Repr {
  type: number;
  code: number;
  /** Carried verbatim; fillChecksum() computes it once the data is in place. */
  checksum: number;
  /** Bytes 4..7 as a u32 (echoRest / fragNeededRest / pointerRest build it). */
  rest: number;
}

export function newRepr(): Icmpv4Repr {
  return { type: ECHO_REQUEST, code: 0, checksum: 0, rest: 0 };
}

export function parse(b: Uint8Array, o: number, end: number, out: Icmpv4Repr): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  out.type = b[o]!;
  out.code = b[o + 1]!;
  out.checksum = checksumField(b, o);
  out.rest = rest(b, o);
  return OK;
}

export function emit(r: Icmpv4Repr, b: Uint8Array, o: number): void {
  b[o] = r.type;
  b[o + 1] = r.code;
  setU16(b, o + CHECKSUM, r.checksum);
  setU32(b, o + REST, r.rest);
}

export const headerLen = (_r: Icmpv4Repr): number => HEADER_LEN;

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `ICMP ${statusName(TRUNCATED)}`;
  const t = type(b, o);
  let s = `ICMP ${types.name(t)} code ${code(b, o)}`;
  if (t === ECHO_REQUEST || t === ECHO_REPLY) s += ` id=${echoId(b, o)} seq=${echoSeq(b, o)}`;
  else if (t === DEST_UNREACH && code(b, o) === UNREACH_FRAG_NEEDED) s += ` mtu=${nextHopMtu(b, o)}`;
  else if (t === PARAM_PROBLEM) s += ` pointer=${pointer(b, o)}`;
  return `${s} len=${end - o}${verifyChecksum(b, o, end) ? '' : ' bad-csum'}`;
}

export const codec: Codec<Icmpv4Repr> = { name: 'icmpv4', newRepr, headerLen, parse, emit, format };
