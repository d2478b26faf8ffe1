// VXLAN header, RFC 7348 §5 (8 bytes after the outer UDP header, dst port 4789; Linux's old default 8472).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |R|R|R|R|I|R|R|R|                 Reserved (24)                 |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |          VXLAN Network Identifier (VNI, 24)   | Reserved (8)  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Receive policy: the I flag must be set (else BAD_FLAGS, as the RFC and Linux's vxlan_rcv require).
// The R bits are "ignored on receipt" (RFC 7348 §5) and reported in the Repr, so that a caller can
// be as strict as Linux (which drops any reserved bit it was not configured for: `strictCheck`),
// or read the extensions that live there (GBP, RCO, SOE: see vxlan-soe.ts). Emit always sets I and
// writes the reserved fields from the Repr (0 for a conforming sender).
import { u24 } from './bytes.ts';
import type { Codec } from './codec.ts';
import { BAD_FLAGS, OK, type Status, TRUNCATED } from './status.ts';

export const HEADER_LEN = 8;
/** I flag, byte 0. */
export const FLAG_I = 0x08;
/** Every byte-0 bit but I. */
export const FLAGS_RESERVED = 0xf7;
export const VNI_MAX = 0xffffff;

const FLAGS = 0;
const RSVD24 = 1;
const VNI = 4;
const RSVD8 = 7;

export const flags = (b: Uint8Array, o: number): number => b[o + FLAGS]!;
export const vni = (b: Uint8Array, o: number): number => u24(b, o + VNI);
export function setVni(b: Uint8Array, o: number, v: number): void {
  b[o + VNI] = v >>> 16;
  b[o + VNI + 1] = v >>> 8;
  b[o + VNI + 2] = v;
}

export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  if ((b[o + FLAGS]! & FLAG_I) === 0) return BAD_FLAGS;
  return OK;
}

/** Linux's receive rule (vxlan_rcv, no GBP/RCO/GPE configured): any reserved bit set ⇒ drop. */
export function strictCheck(b: Uint8Array, o: number, end: number): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  if ((b[o]! & FLAGS_RESERVED) !== 0 || u24(b, o + RSVD24) !== 0 || b[o + RSVD8] !== 0) return BAD_FLAGS;
  return OK;
}

export interface VxlanRepr {
  vni: number;
  /** Byte 0 without the I bit (0 from a conforming sender). */
  rsvdFlags: number;
  /** Bytes 1–3. */
  reserved24: number;
  /** Byte 7. */
  reserved8: number;
}

export function newRepr(): VxlanRepr {
  return { vni: 0, rsvdFlags: 0, reserved24: 0, reserved8: 0 };
}

export function headerLen(_r: VxlanRepr): number {
  return HEADER_LEN;
}

export function parse(b: Uint8Array, o: number, end: number, out: VxlanRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  out.vni = u24(b, o + VNI);
  out.rsvdFlags = b[o + FLAGS]! & FLAGS_RESERVED;
  out.reserved24 = u24(b, o + RSVD24);
  out.reserved8 = b[o + RSVD8]!;
  return OK;
}

export function emit(r: VxlanRepr, b: Uint8Array, o: number): void {
  b[o + FLAGS] = (r.rsvdFlags & FLAGS_RESERVED) | FLAG_I;
  b[o + RSVD24] = r.reserved24 >>> 16;
  b[o + RSVD24 + 1] = r.reserved24 >>> 8;
  b[o + RSVD24 + 2] = r.reserved24;
  setVni(b, o, r.vni);
  b[o + RSVD8] = r.reserved8;
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `VXLAN truncated (${Math.max(0, end - o)} bytes)`;
  const f = b[o + FLAGS]!;
  let s = `VXLAN vni=${vni(b, o)} flags=0x${f.toString(16).padStart(2, '0')}`;
  if ((f & FLAG_I) === 0) s += ' (I clear: invalid)';
  const r24 = u24(b, o + RSVD24);
  if ((f & FLAGS_RESERVED) !== 0 || r24 !== 0 || b[o + RSVD8] !== 0)
    s += ` rsvd=0x${r24.toString(16).padStart(6, '0')}/0x${b[o + RSVD8]!.toString(16).padStart(2, '0')}`;
  return s;
}

export const codec: Codec<VxlanRepr> = { name: 'vxlan', newRepr, headerLen, parse, emit, format };
