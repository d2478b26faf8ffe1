// Ethernet II frame header (IEEE 802.3 §3.1.1, DIX Ethernet II framing of RFC 894).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                 Destination MAC (48 bits)                     |
//   +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                               |                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//   |                   Source MAC (48 bits)                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |      EtherType / TPID         |  payload (46..1500 bytes) ...
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The FCS is not part of what we see (NICs, TAP and AF_PACKET strip it). Short frames arrive padded to
// 60 bytes; upper layers find their own end from their length fields, not from the frame end.
// A type below 0x0600 is an 802.3 length (LLC follows): parse keeps the raw value, `isLength` tells.
import { formatMac, setU16, u16 } from './bytes.ts';
import type { Codec } from './codec.ts';
import * as types from './ether-type.ts';
import { OK, type Status, TRUNCATED } from './status.ts';

export const HEADER_LEN = 14;
export const DST = 0;
export const SRC = 6;
export const TYPE = 12;
/** Smallest frame on the wire without FCS (64 − 4); shorter frames are padded by the sender. */
export const MIN_FRAME = 60;

export const etherType = (b: Uint8Array, o: number): number => u16(b, o + TYPE);
export const setEtherType = (b: Uint8Array, o: number, v: number): void => setU16(b, o + TYPE, v);
/** I/G bit: the least significant bit of the first octet (IEEE 802 §8.2). */
export const isMulticast = (b: Uint8Array, o: number): boolean => (b[o]! & 1) === 1;
export const isBroadcast = (b: Uint8Array, o: number): boolean =>
  (b[o]! & b[o + 1]! & b[o + 2]! & b[o + 3]! & b[o + 4]! & b[o + 5]!) === 0xff;
export const isSrcMulticast = (b: Uint8Array, o: number): boolean => (b[o + SRC]! & 1) === 1;
export const isLength = (type: number): boolean => type < types.MIN_TYPE;

export function check(_b: Uint8Array, o: number, end: number): Status {
  return end - o < HEADER_LEN ? TRUNCATED : OK;
}

export interface EthernetRepr {
  /** 6 bytes each; parse copies into these (caller-owned, reused). */
  dst: Uint8Array;
  src: Uint8Array;
  etherType: number;
}

export function newRepr(): EthernetRepr {
  return { dst: new Uint8Array(6), src: new Uint8Array(6), etherType: 0 };
}

export function parse(b: Uint8Array, o: number, end: number, out: EthernetRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  for (let i = 0; i < 6; i++) {
    out.dst[i] = b[o + DST + i]!;
    out.src[i] = b[o + SRC + i]!;
  }
  out.etherType = u16(b, o + TYPE);
  return OK;
}

export function emit(r: EthernetRepr, b: Uint8Array, o: number): void {
  for (let i = 0; i < 6; i++) {
    b[o + DST + i] = r.dst[i]!;
    b[o + SRC + i] = r.src[i]!;
  }
  setU16(b, o + TYPE, r.etherType);
}

export const headerLen = (_r: EthernetRepr): number => HEADER_LEN;

export function format(b: Uint8Array, o: number, end: number): string {
  if (check(b, o, end) !== OK) return `Ethernet truncated (${Math.max(0, end - o)} bytes)`;
  const t = u16(b, o + TYPE);
  return `Ethernet ${formatMac(b, o + SRC)} > ${formatMac(b, o + DST)} type ${types.name(t)}`;
}

export const codec: Codec<EthernetRepr> = { name: 'ethernet', newRepr, headerLen, parse, emit, format };
