// VXLAN-GPE header, draft-ietf-nvo3-vxlan-gpe-12 §3.2 (unchanged in -13; UDP dst port 4790).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |R|R|Ver|I|P|B|O|           Reserved (16)       | Next Protocol |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |          VXLAN Network Identifier (VNI, 24)   | Reserved (8)  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
//  Ver (mask 0x30): 0.  I (0x08): VNI valid, MUST be 1.  P (0x04): Next Protocol present.
//  B (0x02): ingress-replicated BUM.  O (0x01): OAM packet.
//
// Receive policy: Ver ≠ 0 ⇒ BAD_VERSION ("MUST drop unsupported versions"); I clear ⇒ BAD_FLAGS;
// P clear with a non-zero Next Protocol ⇒ BAD_FIELD (with P = 0 the field MUST be 0 and the payload
// is Ethernet, §3.2). R bits and reserved fields are ignored and reported. The O bit is reported;
// whether OAM is processed or dropped (Linux drops it) is the decap's policy, not the codec's.
import { u16, u24 } from './bytes.ts';
import type { Codec } from './codec.ts';
import { nameSet } from './registry.ts';
import { BAD_FIELD, BAD_FLAGS, BAD_VERSION, OK, type Status, TRUNCATED } from './status.ts';

export const HEADER_LEN = 8;
export const FLAG_I = 0x08;
export const FLAG_P = 0x04;
export const FLAG_B = 0x02;
export const FLAG_O = 0x01;
export const VERSION_MASK = 0x30;
export const FLAGS_RESERVED = 0xc0;
export const VNI_MAX = 0xffffff;

/** Next Protocol registry (§11.2): open set. 0x80–0xFD are shim headers; 5 is Wireshark's MPLS. */
export const NP_IPV4 = 1;
export const NP_IPV6 = 2;
export const NP_ETHERNET = 3;
export const NP_NSH = 4;
export const NP_MPLS = 5;
export const nextProtocols = nameSet(
  { [NP_IPV4]: 'ipv4', [NP_IPV6]: 'ipv6', [NP_ETHERNET]: 'ethernet', [NP_NSH]: 'nsh', [NP_MPLS]: 'mpls' },
  2,
);

/** The EtherType of a payload with this Next Protocol (for the inner dispatch), or -1. */
export function etherTypeOf(np: number): number {
  switch (np) {
    case NP_IPV4:
      return 0x0800;
    case NP_IPV6:
      return 0x86dd;
    case NP_ETHERNET:
      return 0x6558; // Transparent Ethernet Bridging, as Geneve and NVGRE name an Ethernet payload
    case NP_NSH:
      return 0x894f;
    case NP_MPLS:
      return 0x8847;
    default:
      return -1;
  }
}

/** A shim header (NP 0x80–0xFD, §3.3) precedes the real payload; transit nodes skip unknown ones. */
export const isShim = (np: number): boolean => np >= 0x80 && np <= 0xfd;

const FLAGS = 0;
const RSVD16 = 1;
const NEXT_PROTO = 3;
const VNI = 4;
const RSVD8 = 7;

export const version = (b: Uint8Array, o: number): number => (b[o + FLAGS]! & VERSION_MASK) >>> 4;
export const nextProtocol = (b: Uint8Array, o: number): number => b[o + NEXT_PROTO]!;
export const vni = (b: Uint8Array, o: number): number => u24(b, o + VNI);

export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  const f = b[o + FLAGS]!;
  if ((f & VERSION_MASK) !== 0) return BAD_VERSION;
  if ((f & FLAG_I) === 0) return BAD_FLAGS;
  if ((f & FLAG_P) === 0 && b[o + NEXT_PROTO] !== 0) return BAD_FIELD;
  return OK;
}

/**
 * Linux's receive rule for a `gpe` vxlan device (vxlan_rcv + vxlan_parse_gpe_hdr, measured on 6.18 by
 * test/conformance/vxlan-kernel.test.ts): on top of `check`, P must be set, B and O clear (Linux does
 * not process OAM and does not know B), every reserved bit and field zero, and the Next Protocol one
 * it maps to an EtherType (IPv4, IPv6, Ethernet, NSH). Anything else ⇒ BAD_FLAGS / BAD_FIELD.
 */
export function strictCheck(b: Uint8Array, o: number, end: number): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  if ((b[o]! & (FLAGS_RESERVED | FLAG_P | FLAG_B | FLAG_O)) !== FLAG_P) return BAD_FLAGS;
  if (u16(b, o + RSVD16) !== 0 || b[o + RSVD8] !== 0) return BAD_FLAGS;
  const np = b[o + NEXT_PROTO]!;
  return np >= NP_IPV4 && np <= NP_NSH ? OK : BAD_FIELD;
}

export interface VxlanGpeRepr {
  /** 0 on every header parse accepts; emit writes it, so tests can build bad-version frames. */
  version: number;
  /** P | B | O bits of byte 0. */
  flags: number;
  nextProto: number;
  vni: number;
  /** The two R bits of byte 0 (mask 0xC0). */
  rsvdFlags: number;
  /** Bytes 1–2. */
  reserved16: number;
  /** Byte 7. */
  reserved8: number;
}

export function newRepr(): VxlanGpeRepr {
  return {
    version: 0,
    flags: FLAG_P,
    nextProto: NP_ETHERNET,
    vni: 0,
    rsvdFlags: 0,
    reserved16: 0,
    reserved8: 0,
  };
}

export function headerLen(_r: VxlanGpeRepr): number {
  return HEADER_LEN;
}

export function parse(b: Uint8Array, o: number, end: number, out: VxlanGpeRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  const f = b[o + FLAGS]!;
  out.version = 0;
  out.flags = f & (FLAG_P | FLAG_B | FLAG_O);
  out.nextProto = b[o + NEXT_PROTO]!;
  out.vni = u24(b, o + VNI);
  out.rsvdFlags = f & FLAGS_RESERVED;
  out.reserved16 = u16(b, o + RSVD16);
  out.reserved8 = b[o + RSVD8]!;
  return OK;
}

export function emit(r: VxlanGpeRepr, b: Uint8Array, o: number): void {
  b[o + FLAGS] =
    (r.rsvdFlags & FLAGS_RESERVED) | ((r.version << 4) & VERSION_MASK) | FLAG_I | (r.flags & 0x07);
  b[o + RSVD16] = r.reserved16 >>> 8;
  b[o + RSVD16 + 1] = r.reserved16;
  b[o + NEXT_PROTO] = r.nextProto;
  b[o + VNI] = r.vni >>> 16;
  b[o + VNI + 1] = r.vni >>> 8;
  b[o + VNI + 2] = r.vni;
  b[o + RSVD8] = r.reserved8;
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `VXLAN-GPE truncated (${Math.max(0, end - o)} bytes)`;
  const f = b[o + FLAGS]!;
  const bits = `${f & FLAG_I ? 'I' : '-'}${f & FLAG_P ? 'P' : '-'}${f & FLAG_B ? 'B' : '-'}${f & FLAG_O ? 'O' : '-'}`;
  return `VXLAN-GPE ver=${version(b, o)} ${bits} np=${nextProtocols.name(b[o + NEXT_PROTO]!)} vni=${vni(b, o)}`;
}

export const codec: Codec<VxlanGpeRepr> = { name: 'vxlan-gpe', newRepr, headerLen, parse, emit, format };
