// Geneve header, RFC 8926 §3.4 (UDP dst port 6081), with option TLVs (§3.5).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |        Virtual Network Identifier (VNI)       |    Reserved   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                    Variable-Length Options                    |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
//  Option (§3.5):
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |          Option Class         |C|    Type     |R|R|R| Length  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                 Variable-Length Option Data (Length × 4)      |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Units: Opt Len and option Length count 4-byte words, so options are 0..63×4 = 0..252 bytes and the
// header 8..260 bytes; an option is 4 + 0..31×4 = 4..128 bytes. Accessors return bytes.
//
// Receive policy (an endpoint that parses options, §3.4/§3.5): Ver ≠ 0 ⇒ BAD_VERSION; fewer bytes than
// 8 + Opt Len ⇒ TRUNCATED; options that do not tile Opt Len exactly (a TLV header or body running past
// it) ⇒ BAD_OPTION ("MUST be silently dropped"). The walk is bounded by Opt Len (≤ 63 steps). A critical
// option with the base C bit clear is a sender error that the Repr reports (critOpts vs. critical); the
// decap drops unknown critical options whatever C says. O is reported, not acted on.
//
// Options are not copied on the hot path: `parse` validates them in place (they start at o + 8) and the
// data path reads them with the option accessors. `parseCopy` (the codec's parse, for control plane,
// templates and tests) also copies them into the Repr's preallocated `options` buffer, which `emit` writes.
import { u16, u24 } from './bytes.ts';
import type { Codec } from './codec.ts';
import { BAD_OPTION, BAD_VERSION, OK, type Status, TRUNCATED } from './status.ts';

export const HEADER_LEN = 8;
export const OPTIONS_MAX = 252;
export const OPTION_HEADER_LEN = 4;
export const OPTION_DATA_MAX = 124;
export const FLAG_O = 0x80;
export const FLAG_C = 0x40;
export const FLAGS_RESERVED = 0x3f;
export const OPT_TYPE_CRITICAL = 0x80;
export const VNI_MAX = 0xffffff;
/** Transparent Ethernet Bridging: the payload is an Ethernet frame. */
export const PROTO_ETHERNET = 0x6558;

const VER_OPTLEN = 0;
const FLAGS = 1;
const PROTO = 2;
const VNI = 4;
const RSVD8 = 7;

export const version = (b: Uint8Array, o: number): number => b[o + VER_OPTLEN]! >>> 6;
/** Options length in bytes (the field is in 4-byte words). */
export const optionsLen = (b: Uint8Array, o: number): number => (b[o + VER_OPTLEN]! & 0x3f) << 2;
export const protocol = (b: Uint8Array, o: number): number => u16(b, o + PROTO);
export const vni = (b: Uint8Array, o: number): number => u24(b, o + VNI);
export const oam = (b: Uint8Array, o: number): boolean => (b[o + FLAGS]! & FLAG_O) !== 0;
export const critical = (b: Uint8Array, o: number): boolean => (b[o + FLAGS]! & FLAG_C) !== 0;
/** Header length in bytes, options included. */
export const length = (b: Uint8Array, o: number): number => HEADER_LEN + optionsLen(b, o);

// Option accessors take the option's own offset `at` (first option: o + HEADER_LEN).
export const optionClass = (b: Uint8Array, at: number): number => u16(b, at);
/** The full type byte, critical bit included. */
export const optionType = (b: Uint8Array, at: number): number => b[at + 2]!;
export const optionCritical = (b: Uint8Array, at: number): boolean => (b[at + 2]! & OPT_TYPE_CRITICAL) !== 0;
/** Option length in bytes, its 4-byte header included. */
export const optionLen = (b: Uint8Array, at: number): number =>
  OPTION_HEADER_LEN + ((b[at + 3]! & 0x1f) << 2);
export const optionDataLen = (b: Uint8Array, at: number): number => (b[at + 3]! & 0x1f) << 2;

/**
 * Walks the options in [at, optEnd): the number of options, or -BAD_OPTION if they do not tile the
 * range exactly. Sets bit 0x100 of the result when some option is critical (count = result & 0xff).
 */
export function walkOptions(b: Uint8Array, at: number, optEnd: number): number {
  let count = 0;
  let crit = 0;
  while (at < optEnd) {
    if (optEnd - at < OPTION_HEADER_LEN) return -BAD_OPTION;
    const len = OPTION_HEADER_LEN + ((b[at + 3]! & 0x1f) << 2);
    if (len > optEnd - at) return -BAD_OPTION;
    if ((b[at + 2]! & OPT_TYPE_CRITICAL) !== 0) crit = 0x100;
    at += len;
    count++;
  }
  return count | crit;
}

/**
 * Offset of the first option with this class and type (type compared without the critical bit) in the
 * header at o, or -1. Call only after `check`/`parse` accepted the header (the walk trusts the lengths).
 */
export function findOption(b: Uint8Array, o: number, cls: number, type: number): number {
  const optEnd = o + HEADER_LEN + optionsLen(b, o);
  for (let at = o + HEADER_LEN; at < optEnd; at += OPTION_HEADER_LEN + ((b[at + 3]! & 0x1f) << 2)) {
    if (u16(b, at) === cls && ((b[at + 2]! ^ type) & 0x7f) === 0) return at;
  }
  return -1;
}

export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  if (b[o + VER_OPTLEN]! >>> 6 !== 0) return BAD_VERSION;
  const optEnd = o + length(b, o);
  if (optEnd > end) return TRUNCATED;
  const w = walkOptions(b, o + HEADER_LEN, optEnd);
  return w < 0 ? -w : OK;
}

export interface GeneveRepr {
  /** 0 on every header parse accepts; emit writes it (for bad-version test frames). */
  version: number;
  oam: boolean;
  /** The base C bit. */
  critical: boolean;
  /** Byte 1 bits 0x3F. */
  rsvdFlags: number;
  protocol: number;
  vni: number;
  reserved8: number;
  /** Options length in bytes (multiple of 4, ≤ 252). */
  optLen: number;
  optCount: number;
  /** Some option's type has the critical bit. */
  critOpts: boolean;
  /**
   * Option bytes, OPTIONS_MAX long, the first optLen valid and the rest zero. Written by emit; filled
   * by parseCopy only (hot-path `parse` leaves it alone: read options in the packet instead).
   */
  options: Uint8Array;
}

export function newRepr(): GeneveRepr {
  return {
    version: 0,
    oam: false,
    critical: false,
    rsvdFlags: 0,
    protocol: PROTO_ETHERNET,
    vni: 0,
    reserved8: 0,
    optLen: 0,
    optCount: 0,
    critOpts: false,
    options: new Uint8Array(OPTIONS_MAX),
  };
}

export function headerLen(r: GeneveRepr): number {
  return HEADER_LEN + r.optLen;
}

/** Hot path: validates everything and fills the Repr except `options` (options stay in b at o + 8). */
export function parse(b: Uint8Array, o: number, end: number, out: GeneveRepr): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  const v = b[o + VER_OPTLEN]!;
  if (v >>> 6 !== 0) return BAD_VERSION;
  const optLen = (v & 0x3f) << 2;
  if (optLen > end - o - HEADER_LEN) return TRUNCATED;
  const w = walkOptions(b, o + HEADER_LEN, o + HEADER_LEN + optLen);
  if (w < 0) return -w;
  const f = b[o + FLAGS]!;
  out.version = 0;
  out.oam = (f & FLAG_O) !== 0;
  out.critical = (f & FLAG_C) !== 0;
  out.rsvdFlags = f & FLAGS_RESERVED;
  out.protocol = u16(b, o + PROTO);
  out.vni = u24(b, o + VNI);
  out.reserved8 = b[o + RSVD8]!;
  out.optLen = optLen;
  out.optCount = w & 0xff;
  out.critOpts = (w & 0x100) !== 0;
  return OK;
}

/** `parse` plus a copy of the option bytes into out.options (control plane, templates, tests). */
export function parseCopy(b: Uint8Array, o: number, end: number, out: GeneveRepr): Status {
  const st = parse(b, o, end, out);
  if (st !== OK) return st;
  const opts = out.options;
  const from = o + HEADER_LEN;
  for (let i = 0; i < out.optLen; i++) opts[i] = b[from + i]!;
  opts.fill(0, out.optLen);
  return OK;
}

export function emit(r: GeneveRepr, b: Uint8Array, o: number): void {
  b[o + VER_OPTLEN] = ((r.version & 3) << 6) | ((r.optLen >>> 2) & 0x3f);
  b[o + FLAGS] = (r.oam ? FLAG_O : 0) | (r.critical ? FLAG_C : 0) | (r.rsvdFlags & FLAGS_RESERVED);
  b[o + PROTO] = r.protocol >>> 8;
  b[o + PROTO + 1] = r.protocol;
  b[o + VNI] = r.vni >>> 16;
  b[o + VNI + 1] = r.vni >>> 8;
  b[o + VNI + 2] = r.vni;
  b[o + RSVD8] = r.reserved8;
  const opts = r.options;
  for (let i = 0; i < r.optLen; i++) b[o + HEADER_LEN + i] = opts[i]!;
}

/**
 * Writes one option at `at` (control plane: building templates and test frames); returns the offset
 * after it. `type` is the full type byte (set 0x80 for critical); data length must be a multiple of 4,
 * at most 124 (throws otherwise: a programmer error, not hostile input).
 */
export function writeOption(b: Uint8Array, at: number, cls: number, type: number, data: Uint8Array): number {
  if (data.length % 4 !== 0 || data.length > OPTION_DATA_MAX)
    throw new Error(`geneve option data must be a multiple of 4 up to 124 bytes, got ${data.length}`);
  b[at] = cls >>> 8;
  b[at + 1] = cls;
  b[at + 2] = type;
  b[at + 3] = data.length >>> 2;
  b.set(data, at + OPTION_HEADER_LEN);
  return at + OPTION_HEADER_LEN + data.length;
}

/** Fills r.options/optLen/optCount/critOpts from a list (control plane); sets the base C bit to match. */
export function setOptions(
  r: GeneveRepr,
  list: readonly { cls: number; type: number; data: Uint8Array }[],
): void {
  r.options.fill(0);
  let at = 0;
  let crit = false;
  for (const opt of list) {
    if (at + OPTION_HEADER_LEN + opt.data.length > OPTIONS_MAX)
      throw new Error('geneve options exceed 252 bytes');
    at = writeOption(r.options, at, opt.cls, opt.type, opt.data);
    crit ||= (opt.type & OPT_TYPE_CRITICAL) !== 0;
  }
  r.optLen = at;
  r.optCount = list.length;
  r.critOpts = crit;
  r.critical = crit;
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `Geneve truncated (${Math.max(0, end - o)} bytes)`;
  let s = `Geneve ver=${version(b, o)} vni=${vni(b, o)} proto=0x${protocol(b, o).toString(16).padStart(4, '0')}`;
  if (oam(b, o)) s += ' O';
  if (critical(b, o)) s += ' C';
  const optEnd = Math.min(end, o + length(b, o));
  if (optEnd < o + length(b, o)) s += ` opts=${optionsLen(b, o)}B (truncated)`;
  for (let at = o + HEADER_LEN; at + OPTION_HEADER_LEN <= optEnd; at += optionLen(b, at)) {
    s += ` opt(class=0x${optionClass(b, at).toString(16).padStart(4, '0')} type=0x${optionType(b, at).toString(16).padStart(2, '0')} len=${optionDataLen(b, at)})`;
  }
  return s;
}

export const codec: Codec<GeneveRepr> = {
  name: 'geneve',
  newRepr,
  headerLen,
  parse: parseCopy,
  emit,
  format,
};
