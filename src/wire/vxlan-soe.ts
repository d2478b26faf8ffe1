// VXLAN-SOE header, draft-zhou-li-vxlan-soe-01 §2 (segmentation offload metadata in the VXLAN
// header; same UDP port as VXLAN, enabled per peer by configuration).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |S|R|R|R|I|R|R|R|  MSS (high 8) |        Reserved (16)          |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |          VXLAN Network Identifier (VNI, 24)   |  MSS (low 8)  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// S (byte 0, 0x80): the inner frame is NOT segmented; the MSS (bytes 1 and 7, hi/lo) is what the
// receiver must segment to (TCP: payload per segment; UDP: IP payload per fragment, i.e. the guest's
// virtio gso_size). Example from the draft, VNI 42 with MSS 1448 = 0x05A8: 88 05 00 00 00 00 2A A8.
// S clear ⇒ plain VXLAN and the MSS bytes MUST be 0. Bytes 2–3 are left free for GPE's Next Protocol.
//
// The bits collide with VXLAN-GBP (S = G, MSS-hi = D/A flags byte) and RCO (byte 7): never mix them on
// one tunnel. tshark and scapy decode S=1 headers as GBP; Linux drops them as unknown flags.
//
// Receive policy: I clear ⇒ BAD_FLAGS; S clear with a non-zero MSS byte ⇒ BAD_FIELD (not SOE: GBP,
// RCO or garbage); S set with MSS 0 ⇒ BAD_FIELD (nothing to segment to). Reserved bits: reported.
//
// Revision -00 (§3.3 of our notes, obsolete) used |S|C|R|R|I|R|R|R| Reserved(8) | Overlay MTU(16) |:
// `revisionOf` tells the two apart when cheap, `parse00` reads it.
import { u16, u24 } from './bytes.ts';
import type { Codec } from './codec.ts';
import { BAD_FIELD, BAD_FLAGS, OK, type Status, TRUNCATED } from './status.ts';

export const HEADER_LEN = 8;
export const FLAG_S = 0x80;
export const FLAG_I = 0x08;
/** -00 only: inner checksum must be recomputed when segmenting. */
export const FLAG_C_00 = 0x40;
/** Byte-0 bits that are reserved in -01 (all but S and I). */
export const FLAGS_RESERVED = 0x77;
export const VNI_MAX = 0xffffff;

const FLAGS = 0;
const MSS_HI = 1;
const RSVD16 = 2;
const VNI = 4;
const MSS_LO = 7;

export const soe = (b: Uint8Array, o: number): boolean => (b[o + FLAGS]! & FLAG_S) !== 0;
/** The overlay MSS: high byte at 1, low byte at 7. */
export const mss = (b: Uint8Array, o: number): number => (b[o + MSS_HI]! << 8) | b[o + MSS_LO]!;
export const vni = (b: Uint8Array, o: number): number => u24(b, o + VNI);

export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  const f = b[o + FLAGS]!;
  if ((f & FLAG_I) === 0) return BAD_FLAGS;
  const m = mss(b, o);
  if ((f & FLAG_S) === 0 ? m !== 0 : m === 0) return BAD_FIELD;
  return OK;
}

export interface VxlanSoeRepr {
  /** S bit: the payload is an unsegmented frame to be cut to `mss`. */
  soe: boolean;
  /** 0 when `soe` is false. */
  mss: number;
  vni: number;
  /** Byte 0 without S and I. */
  rsvdFlags: number;
  /** Bytes 2–3 (free for GPE's Next Protocol). */
  reserved16: number;
}

export function newRepr(): VxlanSoeRepr {
  return { soe: false, mss: 0, vni: 0, rsvdFlags: 0, reserved16: 0 };
}

export function headerLen(_r: VxlanSoeRepr): number {
  return HEADER_LEN;
}

export function parse(b: Uint8Array, o: number, end: number, out: VxlanSoeRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  const f = b[o + FLAGS]!;
  out.soe = (f & FLAG_S) !== 0;
  out.mss = mss(b, o);
  out.vni = u24(b, o + VNI);
  out.rsvdFlags = f & FLAGS_RESERVED;
  out.reserved16 = u16(b, o + RSVD16);
  return OK;
}

export function emit(r: VxlanSoeRepr, b: Uint8Array, o: number): void {
  const m = r.soe ? r.mss : 0;
  b[o + FLAGS] = (r.soe ? FLAG_S : 0) | FLAG_I | (r.rsvdFlags & FLAGS_RESERVED);
  b[o + MSS_HI] = m >>> 8;
  b[o + RSVD16] = r.reserved16 >>> 8;
  b[o + RSVD16 + 1] = r.reserved16;
  b[o + VNI] = r.vni >>> 16;
  b[o + VNI + 1] = r.vni >>> 8;
  b[o + VNI + 2] = r.vni;
  b[o + MSS_LO] = m;
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `VXLAN-SOE truncated (${Math.max(0, end - o)} bytes)`;
  const rev = revisionOf(b, o);
  if (rev === 0) return `VXLAN-SOE-00 vni=${vni(b, o)} mtu=${u16(b, o + 2)}${b[o]! & FLAG_C_00 ? ' C' : ''}`;
  return `VXLAN-SOE vni=${vni(b, o)}${soe(b, o) ? ` S mss=${mss(b, o)}` : ''}${b[o]! & FLAG_I ? '' : ' (I clear)'}`;
}

export const codec: Codec<VxlanSoeRepr> = { name: 'vxlan-soe', newRepr, headerLen, parse, emit, format };

// ---- revision -00 (recognition only; never sent) ----

export interface VxlanSoe00Repr {
  soe: boolean;
  /** C: inner checksum must be recomputed per segment. */
  csum: boolean;
  /** Overlay MTU: max inner L3 packet size (L3 header included, Ethernet excluded). */
  mtu: number;
  vni: number;
}

/**
 * Which revision a header (already length-checked, 8 bytes at o) looks like: 1, 0, or -1 when it can
 * be either or neither. S clear is plain VXLAN, i.e. valid -01. With S set: -00 keeps byte 1 and byte 7
 * zero and the MTU in bytes 2–3 (and may set C); -01 keeps bytes 2–3 zero and the MSS in bytes 1 and 7.
 */
export function revisionOf(b: Uint8Array, o: number): number {
  const f = b[o]!;
  if ((f & FLAG_S) === 0) return (f & FLAG_C_00) === 0 ? 1 : -1;
  const hiLo = b[o + MSS_HI]! | b[o + MSS_LO]!;
  const mid = u16(b, o + RSVD16);
  if (mid !== 0 && hiLo === 0) return 0;
  if (mid === 0 && hiLo !== 0 && (f & FLAG_C_00) === 0) return 1;
  return -1;
}

export function parse00(b: Uint8Array, o: number, end: number, out: VxlanSoe00Repr): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  const f = b[o]!;
  if ((f & FLAG_I) === 0) return BAD_FLAGS;
  out.soe = (f & FLAG_S) !== 0;
  out.csum = (f & FLAG_C_00) !== 0;
  out.mtu = u16(b, o + RSVD16);
  out.vni = u24(b, o + VNI);
  return OK;
}
