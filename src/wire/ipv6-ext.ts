// IPv6 extension headers, RFC 8200 §4 (order §4.1, options §4.2, Hop-by-Hop §4.3, Routing §4.4,
// Fragment §4.5, Destination Options §4.6, No Next Header §4.7), uniform format RFC 6564, AH RFC 4302.
//
// Generic (Hop-by-Hop, Routing, Destination Options, Mobility, HIP, Shim6, 253/254):
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Next Header  |  Hdr Ext Len  |   data … ((Hdr Ext Len + 1) × 8 − 2 bytes)
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// Fragment (always 8 bytes):
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                         Identification                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// AH: Next Header | Payload Len ((len + 2) × 4 bytes) | …      ESP: opaque, ends the walk.
//
// The walker returns the upper-layer protocol and its offset in one pass, with the fragment header's
// fields when there is one. Hostile chains are bounded: at most MAX_EXT_HEADERS headers (a legal
// chain has at most 7 kinds with Destination Options twice, RFC 8200 §4.1), each one must fit in
// [o, end), Hop-by-Hop only directly after the IPv6 header, at most one Fragment header, and option
// TLVs inside Hop-by-Hop / Destination Options must tile their header exactly.
import { setU16, setU32, u16, u32 } from './bytes.ts';
import type { Codec } from './codec.ts';
import * as ipProto from './ip-proto.ts';
import { BAD_OPTION, OK, type Status, statusName, TOO_MANY, TRUNCATED } from './status.ts';

export const MAX_EXT_HEADERS = 8;
export const FRAG_HEADER_LEN = 8;
/** Option types inside Hop-by-Hop / Destination Options (RFC 8200 §4.2, IANA ipv6-parameters). */
export const OPT_PAD1 = 0;
export const OPT_PADN = 1;
export const OPT_JUMBO = 0xc2; //        RFC 2675
export const OPT_ROUTER_ALERT = 0x05; // RFC 2711
/** The two high bits of an option type: what to do when the option is not recognised (RFC 8200 §4.2). */
export const optionAction = (type: number): number => type >>> 6;

export interface Ipv6Chain {
  /** Upper-layer protocol: TCP, UDP, ICMPv6…, or NONE (59), ESP (50), or for a non-first fragment the
   * fragment header's Next Header (the upper-layer header is not in this packet). */
  proto: number;
  /** Absolute offset of the upper-layer header (or of ESP / of the fragment data). */
  offset: number;
  /** Absolute offset of the Next Header byte that names `proto` (patched when a header is removed). */
  protoField: number;
  /** Extension headers walked. */
  count: number;
  /** Offsets of the headers of interest, -1 when absent. */
  hopByHop: number;
  routing: number;
  fragHeader: number;
  /** Fragment header fields (meaningful when fragHeader ≥ 0): offset in bytes, M flag, identification. */
  fragOffset: number;
  fragMore: boolean;
  fragId: number;
}

export function newChain(): Ipv6Chain {
  return {
    proto: 0,
    offset: 0,
    protoField: 0,
    count: 0,
    hopByHop: -1,
    routing: -1,
    fragHeader: -1,
    fragOffset: 0,
    fragMore: false,
    fragId: 0,
  };
}

/** Options in [o, end) must be Pad1 bytes or type/len/data TLVs that end exactly at `end`. */
export function checkOptions(b: Uint8Array, o: number, end: number): Status {
  let i = o;
  while (i < end) {
    if (b[i] === OPT_PAD1) {
      i++;
      continue;
    }
    if (i + 2 > end) return BAD_OPTION;
    i += 2 + b[i + 1]!;
  }
  return i === end ? OK : BAD_OPTION;
}

/**
 * Walks the chain that starts after the IPv6 header at `ip6` and ends at `end` (= ipv6.payloadEnd);
 * call it after ipv6.check(b, ip6, …) returned OK (it reads the fixed header's Next Header unchecked).
 * OK: `out` describes the upper layer. Otherwise TRUNCATED (a header runs past `end`), BAD_OPTION
 * (Hop-by-Hop not first, a second Fragment header, malformed option TLVs), TOO_MANY (chain too long).
 */
export function walk(b: Uint8Array, ip6: number, end: number, out: Ipv6Chain): Status {
  let nh = b[ip6 + 6]!;
  let field = ip6 + 6;
  let i = ip6 + 40;
  out.count = 0;
  out.hopByHop = -1;
  out.routing = -1;
  out.fragHeader = -1;
  out.fragOffset = 0;
  out.fragMore = false;
  out.fragId = 0;
  for (;;) {
    if (nh === ipProto.FRAGMENT) {
      if (out.fragHeader >= 0) return BAD_OPTION;
      if (end - i < FRAG_HEADER_LEN) return TRUNCATED;
      out.fragHeader = i;
      out.fragOffset = u16(b, i + 2) & 0xfff8;
      out.fragMore = (b[i + 3]! & 1) === 1;
      out.fragId = u32(b, i + 4);
      field = i;
      nh = b[i]!;
      i += FRAG_HEADER_LEN;
      // Non-first fragment: what follows is data from the middle of the datagram (Linux ipv6_skip_exthdr).
      if (out.fragOffset !== 0) {
        out.count++;
        break;
      }
    } else if (ipProto.isGenericExtHeader(nh)) {
      if (nh === ipProto.HOPOPT && out.count !== 0) return BAD_OPTION;
      if (end - i < 2) return TRUNCATED;
      const len = (b[i + 1]! + 1) << 3;
      if (end - i < len) return TRUNCATED;
      if (nh === ipProto.HOPOPT || nh === ipProto.DSTOPTS) {
        const st = checkOptions(b, i + 2, i + len);
        if (st !== OK) return st;
        if (nh === ipProto.HOPOPT) out.hopByHop = i;
      } else if (nh === ipProto.ROUTING) out.routing = i;
      field = i;
      nh = b[i]!;
      i += len;
    } else if (nh === ipProto.AH) {
      if (end - i < 2) return TRUNCATED;
      const len = (b[i + 1]! + 2) << 2;
      if (end - i < len) return TRUNCATED;
      field = i;
      nh = b[i]!;
      i += len;
    } else break; // upper layer, ESP or No Next Header
    if (++out.count > MAX_EXT_HEADERS) return TOO_MANY;
  }
  out.proto = nh;
  out.offset = i;
  out.protoField = field;
  return OK;
}

// ---- the Fragment header as a codec (fragmentation / reassembly build and read it) ----

export interface FragmentRepr {
  nextHeader: number;
  /** Bytes, a multiple of 8. */
  offset: number;
  more: boolean;
  ident: number;
  /** The Reserved byte and the two Res bits: zero on send, kept so parse → emit is lossless. */
  reserved: number;
  res2: number;
}

export function newFragmentRepr(): FragmentRepr {
  return { nextHeader: 0, offset: 0, more: false, ident: 0, reserved: 0, res2: 0 };
}

export function parseFragment(b: Uint8Array, o: number, end: number, out: FragmentRepr): Status {
  if (end - o < FRAG_HEADER_LEN) return TRUNCATED;
  const w = u16(b, o + 2);
  out.nextHeader = b[o]!;
  out.reserved = b[o + 1]!;
  out.offset = w & 0xfff8;
  out.res2 = (w >>> 1) & 3;
  out.more = (w & 1) === 1;
  out.ident = u32(b, o + 4);
  return OK;
}

export function emitFragment(r: FragmentRepr, b: Uint8Array, o: number): void {
  b[o] = r.nextHeader;
  b[o + 1] = r.reserved;
  setU16(b, o + 2, (r.offset & 0xfff8) | ((r.res2 & 3) << 1) | (r.more ? 1 : 0));
  setU32(b, o + 4, r.ident);
}

export function formatFragment(b: Uint8Array, o: number, end: number): string {
  const r = newFragmentRepr();
  const st = parseFragment(b, o, end, r);
  if (st !== OK) return `IPv6-Frag ${statusName(st)}`;
  return `IPv6-Frag off=${r.offset}${r.more ? '+' : ''} id=0x${r.ident.toString(16)} next=${ipProto.name(r.nextHeader)}`;
}

export const fragmentCodec: Codec<FragmentRepr> = {
  name: 'ipv6-frag',
  newRepr: newFragmentRepr,
  headerLen: () => FRAG_HEADER_LEN,
  parse: parseFragment,
  emit: emitFragment,
  format: formatFragment,
};

/**
 * Writes a Hop-by-Hop or Destination Options header of `len` bytes (a multiple of 8, ≥ 8) holding only
 * padding: after Next Header and Hdr Ext Len, len − 2 ≥ 6 bytes remain, so one PadN option (type,
 * length len − 4, zeros) fills them exactly (RFC 8200 §4.2).
 */
export function emitPadOptionsHeader(b: Uint8Array, o: number, nextHeader: number, len: number): void {
  b[o] = nextHeader;
  b[o + 1] = (len >>> 3) - 1;
  b[o + 2] = OPT_PADN;
  b[o + 3] = len - 4;
  for (let i = o + 4; i < o + len; i++) b[i] = 0;
}
