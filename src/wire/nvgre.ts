// NVGRE header, RFC 7637 §3.2: GRE (RFC 2784/2890) with K set, C and S clear, Protocol Type 0x6558
// (Transparent Ethernet Bridging) and the 32-bit key split into a Virtual Subnet ID and a FlowID.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |0| |1|0|   Reserved0     | Ver |   Protocol Type 0x6558        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |               Virtual Subnet ID (VSID, 24)    |    FlowID     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// So a conforming header is 20 00 65 58 VV VV VV FF. VSIDs 0–0xFFF are reserved for future use and
// 0xFFFFFF for vendor NVE-to-NVE use (§3.2): reported by `reservedVsid`, not rejected here. FlowID is
// per-flow entropy (0 if not generated) that transit devices must not change.
//
// Receive policy: Ver ≠ 0 ⇒ BAD_VERSION; R ⇒ UNSUPPORTED (as gre.ts); C or S set, K clear, or the
// RFC 2784 discard bits ⇒ BAD_FLAGS ("C and S MUST be 0, K MUST be 1"); Protocol Type ≠ 0x6558 ⇒
// BAD_FIELD. The ignorable flag bits (0x03F8) are reported.
import { u16, u24 } from './bytes.ts';
import type { Codec } from './codec.ts';
import {
  FLAG_C,
  FLAG_K,
  FLAG_R,
  FLAG_S,
  FLAGS_DISCARD,
  FLAGS_IGNORED,
  PROTO_TEB,
  VERSION_MASK,
} from './gre.ts';
import { BAD_FIELD, BAD_FLAGS, BAD_VERSION, OK, type Status, TRUNCATED, UNSUPPORTED } from './status.ts';

export const HEADER_LEN = 8;
export const VSID_MAX = 0xffffff;
const VSID = 4;
const FLOW_ID = 7;

export const vsid = (b: Uint8Array, o: number): number => u24(b, o + VSID);
export const flowId = (b: Uint8Array, o: number): number => b[o + FLOW_ID]!;
/** RFC 7637 §3.2: 0–0xFFF reserved for future use, 0xFFFFFF for vendor-specific NVE-to-NVE use. */
export const reservedVsid = (v: number): boolean => v <= 0xfff || v === 0xffffff;

export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < 4) return TRUNCATED;
  const w = u16(b, o);
  if ((w & VERSION_MASK) !== 0) return BAD_VERSION;
  if ((w & FLAG_R) !== 0) return UNSUPPORTED;
  if ((w & (FLAG_C | FLAG_K | FLAG_S | FLAGS_DISCARD)) !== FLAG_K) return BAD_FLAGS;
  if (end - o < HEADER_LEN) return TRUNCATED;
  if (u16(b, o + 2) !== PROTO_TEB) return BAD_FIELD;
  return OK;
}

export interface NvgreRepr {
  vsid: number;
  flowId: number;
  /** Flags-word bits 0x03F8 (ignored on receipt). */
  rsvdFlags: number;
}

export function newRepr(): NvgreRepr {
  return { vsid: 0, flowId: 0, rsvdFlags: 0 };
}

export function headerLen(_r: NvgreRepr): number {
  return HEADER_LEN;
}

export function parse(b: Uint8Array, o: number, end: number, out: NvgreRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  out.vsid = u24(b, o + VSID);
  out.flowId = b[o + FLOW_ID]!;
  out.rsvdFlags = u16(b, o) & FLAGS_IGNORED;
  return OK;
}

export function emit(r: NvgreRepr, b: Uint8Array, o: number): void {
  const w = FLAG_K | (r.rsvdFlags & FLAGS_IGNORED);
  b[o] = w >>> 8;
  b[o + 1] = w;
  b[o + 2] = PROTO_TEB >>> 8;
  b[o + 3] = PROTO_TEB & 0xff;
  b[o + VSID] = r.vsid >>> 16;
  b[o + VSID + 1] = r.vsid >>> 8;
  b[o + VSID + 2] = r.vsid;
  b[o + FLOW_ID] = r.flowId;
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `NVGRE truncated (${Math.max(0, end - o)} bytes)`;
  const st = check(b, o, end);
  return `NVGRE vsid=${vsid(b, o)} flowid=${flowId(b, o)}${st === OK ? '' : ' (not NVGRE)'}`;
}

export const codec: Codec<NvgreRepr> = { name: 'nvgre', newRepr, headerLen, parse, emit, format };
