// IPv6 fixed header, RFC 8200 §3 (Traffic Class = DSCP + ECN per RFC 2474 / RFC 3168; Flow Label
// RFC 6437). Extension headers: ipv6-ext.ts.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version| Traffic Class |           Flow Label                  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Payload Length        |  Next Header  |   Hop Limit   |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                 Source Address (128 bits)                     |
//   |                 Destination Address (128 bits)                |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Payload Length counts everything after these 40 bytes, extension headers included. A Payload Length
// of 0 with a Jumbo Payload option (RFC 2675) is not supported: it parses as an empty payload.
import { formatIpv6, parseIpv6, setU16, u16 } from './bytes.ts';
import type { Codec } from './codec.ts';
import * as ipProto from './ip-proto.ts';
import { BAD_VERSION, OK, type Status, statusName, TRUNCATED } from './status.ts';

export const HEADER_LEN = 40;
export const PAYLOAD_LEN = 4;
export const NEXT_HEADER = 6;
export const HOP_LIMIT = 7;
export const SRC = 8;
export const DST = 24;
/** Minimum link MTU, RFC 8200 §5. */
export const MIN_MTU = 1280;

export const version = (b: Uint8Array, o: number): number => b[o]! >>> 4;
export const trafficClass = (b: Uint8Array, o: number): number => ((b[o]! & 0x0f) << 4) | (b[o + 1]! >>> 4);
export const dscp = (b: Uint8Array, o: number): number => trafficClass(b, o) >>> 2;
export const ecn = (b: Uint8Array, o: number): number => (b[o + 1]! >>> 4) & 3;
export const flowLabel = (b: Uint8Array, o: number): number =>
  ((b[o + 1]! & 0x0f) << 16) | (b[o + 2]! << 8) | b[o + 3]!;
export const payloadLen = (b: Uint8Array, o: number): number => u16(b, o + PAYLOAD_LEN);
export const nextHeader = (b: Uint8Array, o: number): number => b[o + NEXT_HEADER]!;
export const hopLimit = (b: Uint8Array, o: number): number => b[o + HOP_LIMIT]!;
/** Offset just past the datagram: use this as `end` for what follows, not the frame end. */
export const payloadEnd = (b: Uint8Array, o: number): number => o + HEADER_LEN + payloadLen(b, o);
/** Multicast destination (ff00::/8, RFC 4291 §2.7). */
export const isDstMulticast = (b: Uint8Array, o: number): boolean => b[o + DST] === 0xff;

export function setVersionClassFlow(b: Uint8Array, o: number, tc: number, flow: number): void {
  b[o] = 0x60 | ((tc >>> 4) & 0x0f);
  b[o + 1] = ((tc & 0x0f) << 4) | ((flow >>> 16) & 0x0f);
  b[o + 2] = flow >>> 8;
  b[o + 3] = flow;
}
export const setPayloadLen = (b: Uint8Array, o: number, v: number): void => setU16(b, o + PAYLOAD_LEN, v);
export const setNextHeader = (b: Uint8Array, o: number, v: number): void => void (b[o + NEXT_HEADER] = v);
export const setHopLimit = (b: Uint8Array, o: number, v: number): void => void (b[o + HOP_LIMIT] = v);

/** <40 bytes or fewer than 40 + Payload Length → TRUNCATED; version ≠ 6 → BAD_VERSION. */
export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  if (b[o]! >>> 4 !== 6) return BAD_VERSION;
  if (end - o - HEADER_LEN < payloadLen(b, o)) return TRUNCATED;
  return OK;
}

export interface Ipv6Repr {
  trafficClass: number;
  flowLabel: number;
  payloadLen: number;
  nextHeader: number;
  hopLimit: number;
  /** 16 bytes each, caller-owned. */
  src: Uint8Array;
  dst: Uint8Array;
}

export function newRepr(): Ipv6Repr {
  return {
    trafficClass: 0,
    flowLabel: 0,
    payloadLen: 0,
    nextHeader: ipProto.NONE,
    hopLimit: 64,
    src: new Uint8Array(16),
    dst: new Uint8Array(16),
  };
}

export function parse(b: Uint8Array, o: number, end: number, out: Ipv6Repr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  out.trafficClass = trafficClass(b, o);
  out.flowLabel = flowLabel(b, o);
  out.payloadLen = payloadLen(b, o);
  out.nextHeader = nextHeader(b, o);
  out.hopLimit = hopLimit(b, o);
  for (let i = 0; i < 16; i++) {
    out.src[i] = b[o + SRC + i]!;
    out.dst[i] = b[o + DST + i]!;
  }
  return OK;
}

export function emit(r: Ipv6Repr, b: Uint8Array, o: number): void {
  setVersionClassFlow(b, o, r.trafficClass, r.flowLabel);
  setU16(b, o + PAYLOAD_LEN, r.payloadLen);
  b[o + NEXT_HEADER] = r.nextHeader;
  b[o + HOP_LIMIT] = r.hopLimit;
  for (let i = 0; i < 16; i++) {
    b[o + SRC + i] = r.src[i]!;
    b[o + DST + i] = r.dst[i]!;
  }
}

export const headerLen = (_r: Ipv6Repr): number => HEADER_LEN;

export function format(b: Uint8Array, o: number, end: number): string {
  const st = check(b, o, end);
  if (st !== OK) return `IPv6 ${statusName(st)}`;
  return (
    `IPv6 ${formatIpv6(b, o + SRC)} > ${formatIpv6(b, o + DST)} ${ipProto.name(nextHeader(b, o))}` +
    ` plen=${payloadLen(b, o)} hlim=${hopLimit(b, o)}` +
    (trafficClass(b, o) ? ` tc=0x${trafficClass(b, o).toString(16)}` : '') +
    (flowLabel(b, o) ? ` flow=0x${flowLabel(b, o).toString(16)}` : '')
  );
}

/** Text → 16 bytes (control plane, tests; allocates, throws on bad text). */
export function addr(text: string): Uint8Array {
  const a = new Uint8Array(16);
  parseIpv6(text, a, 0);
  return a;
}

export const codec: Codec<Ipv6Repr> = { name: 'ipv6', newRepr, headerLen, parse, emit, format };
