// TCP options, RFC 9293 §3.2 (EOL 0, NOP 1, MSS 2), RFC 7323 §2–3 (Window Scale 3, Timestamps 8),
// RFC 2018 §2–3 (SACK-Permitted 4, SACK 5). Others are kept by kind and position.
//
//   kind 0  EOL                      end of the list (the rest of the header is padding)
//   kind 1  NOP                      one byte, alignment
//   kind 2  MSS       len 4          u16 maximum segment size (SYN only)
//   kind 3  WS        len 3          u8 shift count (RFC 7323: > 14 is used as 14)
//   kind 4  SACK_PERM len 2
//   kind 5  SACK      len 2 + 8n     n = 1..4 left/right edge u32 pairs
//   kind 8  TS        len 10         u32 TSval, u32 TSecr
//   other             len ≥ 2        kept: kind, offset of the data, data length
//
// A length < 2, an option running past the header, or a known kind with the wrong length → BAD_OPTION.
// Linux (tcp_parse_options) stops silently at such garbage instead; we report it so the caller can
// count it, and the fields parsed before the bad option remain in `out`.
import { setU16, setU32, u16, u32 } from './bytes.ts';
import type { Codec } from './codec.ts';
import { BAD_OPTION, OK, type Status, statusName, TOO_MANY } from './status.ts';

export const EOL = 0;
export const NOP = 1;
export const MSS = 2;
export const WSCALE = 3;
export const SACK_PERM = 4;
export const SACK = 5;
export const TIMESTAMP = 8;
export const MAX_SACK_BLOCKS = 4; // (40 − 2) / 8
export const MAX_UNKNOWN = 8;
export const MAX_LEN = 40;

export interface TcpOptions {
  /** -1 when absent. */
  mss: number;
  /** -1 when absent; the raw shift (may exceed 14 on the wire). */
  wscale: number;
  sackPermitted: boolean;
  sackCount: number;
  /** Left edges and right edges, [0, sackCount) meaningful. */
  sackLeft: Uint32Array;
  sackRight: Uint32Array;
  hasTimestamp: boolean;
  tsVal: number;
  tsEcr: number;
  /** Options of other kinds: kind, and where their data sits relative to the options start. */
  unknownCount: number;
  unknownKind: Uint8Array;
  unknownAt: Uint8Array;
  unknownLen: Uint8Array;
}

export function newRepr(): TcpOptions {
  return {
    mss: -1,
    wscale: -1,
    sackPermitted: false,
    sackCount: 0,
    sackLeft: new Uint32Array(MAX_SACK_BLOCKS),
    sackRight: new Uint32Array(MAX_SACK_BLOCKS),
    hasTimestamp: false,
    tsVal: 0,
    tsEcr: 0,
    unknownCount: 0,
    unknownKind: new Uint8Array(MAX_UNKNOWN),
    unknownAt: new Uint8Array(MAX_UNKNOWN),
    unknownLen: new Uint8Array(MAX_UNKNOWN),
  };
}

function reset(out: TcpOptions): void {
  out.mss = -1;
  out.wscale = -1;
  out.sackPermitted = false;
  out.sackCount = 0;
  out.sackLeft.fill(0);
  out.sackRight.fill(0);
  out.hasTimestamp = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  out.unknownCount = 0;
  out.unknownKind.fill(0);
  out.unknownAt.fill(0);
  out.unknownLen.fill(0);
}

/**
 * Decodes the options in [o, end) — for a TCP header at h: o = h + 20, end = h + tcp.headerLen(b, h).
 * More than MAX_UNKNOWN unknown options → TOO_MANY.
 */
export function parse(b: Uint8Array, o: number, end: number, out: TcpOptions): Status {
  reset(out);
  let i = o;
  while (i < end) {
    const kind = b[i]!;
    if (kind === EOL) break;
    if (kind === NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return BAD_OPTION;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return BAD_OPTION;
    switch (kind) {
      case MSS:
        if (len !== 4) return BAD_OPTION;
        out.mss = u16(b, i + 2);
        break;
      case WSCALE:
        if (len !== 3) return BAD_OPTION;
        out.wscale = b[i + 2]!;
        break;
      case SACK_PERM:
        if (len !== 2) return BAD_OPTION;
        out.sackPermitted = true;
        break;
      case SACK: {
        // (len − 2) must be a non-zero multiple of 8; ≤ 4 blocks follows from len ≤ 40 − 2.
        if (len < 10 || (len - 2) % 8 !== 0) return BAD_OPTION;
        const n = (len - 2) >>> 3;
        for (let k = 0; k < n; k++) {
          out.sackLeft[k] = u32(b, i + 2 + 8 * k);
          out.sackRight[k] = u32(b, i + 6 + 8 * k);
        }
        out.sackCount = n;
        break;
      }
      case TIMESTAMP:
        if (len !== 10) return BAD_OPTION;
        out.hasTimestamp = true;
        out.tsVal = u32(b, i + 2);
        out.tsEcr = u32(b, i + 6);
        break;
      default: {
        if (out.unknownCount === MAX_UNKNOWN) return TOO_MANY;
        const k = out.unknownCount++;
        out.unknownKind[k] = kind;
        out.unknownAt[k] = i + 2 - o;
        out.unknownLen[k] = len - 2;
      }
    }
    i += len;
  }
  return OK;
}

/**
 * Bytes emit() writes: Linux's layouts (tcp_options_write) — MSS; NOP NOP TS, or SACK_PERM TS when
 * both; NOP WS; NOP NOP SACK_PERM when alone; NOP NOP SACK. Unknown options are not emitted (their
 * data is not in the repr). Rounded up to 4 with EOL (0) padding. Over 40 is the caller's error.
 */
export function emitLen(r: TcpOptions): number {
  let n = 0;
  if (r.mss >= 0) n += 4;
  if (r.hasTimestamp)
    n += 12; //                      (NOP NOP | SACK_PERM) + TS(10)
  else if (r.sackPermitted) n += 4; //                 NOP NOP SACK_PERM
  if (r.wscale >= 0) n += 4; //                        NOP WS(3)
  if (r.sackCount > 0) n += 4 + 8 * r.sackCount; //   NOP NOP SACK(2 + 8n)
  return n;
}

export const headerLen = emitLen;

export function emit(r: TcpOptions, b: Uint8Array, o: number): void {
  let i = o;
  if (r.mss >= 0) {
    b[i] = MSS;
    b[i + 1] = 4;
    setU16(b, i + 2, r.mss);
    i += 4;
  }
  if (r.hasTimestamp) {
    if (r.sackPermitted) {
      b[i] = SACK_PERM;
      b[i + 1] = 2;
    } else {
      b[i] = NOP;
      b[i + 1] = NOP;
    }
    b[i + 2] = TIMESTAMP;
    b[i + 3] = 10;
    setU32(b, i + 4, r.tsVal);
    setU32(b, i + 8, r.tsEcr);
    i += 12;
  } else if (r.sackPermitted) {
    b[i] = NOP;
    b[i + 1] = NOP;
    b[i + 2] = SACK_PERM;
    b[i + 3] = 2;
    i += 4;
  }
  if (r.wscale >= 0) {
    b[i] = NOP;
    b[i + 1] = WSCALE;
    b[i + 2] = 3;
    b[i + 3] = r.wscale;
    i += 4;
  }
  if (r.sackCount > 0) {
    b[i] = NOP;
    b[i + 1] = NOP;
    b[i + 2] = SACK;
    b[i + 3] = 2 + 8 * r.sackCount;
    for (let k = 0; k < r.sackCount; k++) {
      setU32(b, i + 4 + 8 * k, r.sackLeft[k]!);
      setU32(b, i + 8 + 8 * k, r.sackRight[k]!);
    }
    i += 4 + 8 * r.sackCount;
  }
}

export function format(b: Uint8Array, o: number, end: number): string {
  const r = newRepr();
  const st = parse(b, o, end, r);
  const parts: string[] = [];
  if (r.mss >= 0) parts.push(`mss ${r.mss}`);
  if (r.sackPermitted) parts.push('sackOK');
  if (r.hasTimestamp) parts.push(`TS val ${r.tsVal} ecr ${r.tsEcr}`);
  if (r.wscale >= 0) parts.push(`wscale ${r.wscale}`);
  if (r.sackCount) {
    const blocks: string[] = [];
    for (let k = 0; k < r.sackCount; k++) blocks.push(`{${r.sackLeft[k]}:${r.sackRight[k]}}`);
    parts.push(`sack ${r.sackCount} ${blocks.join('')}`);
  }
  for (let k = 0; k < r.unknownCount; k++) parts.push(`opt-${r.unknownKind[k]}:${r.unknownLen[k]}`);
  if (st !== OK) parts.push(statusName(st));
  return `[${parts.join(',')}]`;
}

export const codec: Codec<TcpOptions> = { name: 'tcp-options', newRepr, headerLen, parse, emit, format };
