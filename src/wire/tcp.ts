// TCP header, RFC 9293 §3.1 (ECE/CWR: RFC 3168 §6.1; NS: RFC 3540, historic — the same bit is AE in
// AccECN, RFC 9768). Options are carried as raw bytes here and decoded by tcp-options.ts.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Source Port          |       Destination Port        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                        Sequence Number                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Acknowledgment Number                      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Data |Rsv  |N|C|E|U|A|P|R|S|F|                               |
//   | Offset|     |S|W|C|R|C|S|S|Y|I|            Window             |
//   |       |     | |R|E|G|K|H|T|N|N|                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |           Checksum            |         Urgent Pointer        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Options (0..40 bytes)      |    Padding    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Host units: headerLen() is Data Offset × 4 bytes. Sequence numbers are u32 (>>> 0).
// TCP has no length field: the segment ends where the IP payload ends (ipv4/ipv6 payloadEnd).
import { setU16, setU32, u16, u32 } from './bytes.ts';
import type { Codec } from './codec.ts';
import * as ipProto from './ip-proto.ts';
import * as l4 from './l4-checksum.ts';
import { BAD_LENGTH, OK, type Status, statusName, TRUNCATED } from './status.ts';

export const HEADER_LEN = 20; //  without options
export const MAX_HEADER_LEN = 60;
export const MAX_OPTIONS_LEN = 40;
export const SRC_PORT = 0;
export const DST_PORT = 2;
export const SEQ = 4;
export const ACK = 8;
export const OFFSET_FLAGS = 12;
export const WINDOW = 14;
export const CHECKSUM = 16;
export const URGENT = 18;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK_FLAG = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;
export const NS = 0x100; // AE under AccECN
export const FLAGS_MASK = 0x1ff;
const FLAG_NAMES = ['F', 'S', 'R', 'P', '.', 'U', 'E', 'W', 'N'];

export const srcPort = (b: Uint8Array, o: number): number => u16(b, o + SRC_PORT);
export const dstPort = (b: Uint8Array, o: number): number => u16(b, o + DST_PORT);
export const seq = (b: Uint8Array, o: number): number => u32(b, o + SEQ);
export const ack = (b: Uint8Array, o: number): number => u32(b, o + ACK);
export const headerLen = (b: Uint8Array, o: number): number => (b[o + OFFSET_FLAGS]! >>> 4) << 2;
/** The nine flag bits, NS (0x100) down to FIN (0x01). */
export const flags = (b: Uint8Array, o: number): number => u16(b, o + OFFSET_FLAGS) & FLAGS_MASK;
/** The three bits between Data Offset and NS; zero on send (RFC 9293). */
export const reserved = (b: Uint8Array, o: number): number => (b[o + OFFSET_FLAGS]! >>> 1) & 7;
export const window = (b: Uint8Array, o: number): number => u16(b, o + WINDOW);
export const checksumField = (b: Uint8Array, o: number): number => u16(b, o + CHECKSUM);
export const urgent = (b: Uint8Array, o: number): number => u16(b, o + URGENT);
export const optionsOffset = (o: number): number => o + HEADER_LEN;

export const setSrcPort = (b: Uint8Array, o: number, v: number): void => setU16(b, o + SRC_PORT, v);
export const setDstPort = (b: Uint8Array, o: number, v: number): void => setU16(b, o + DST_PORT, v);
export const setSeq = (b: Uint8Array, o: number, v: number): void => setU32(b, o + SEQ, v);
export const setAck = (b: Uint8Array, o: number, v: number): void => setU32(b, o + ACK, v);
/** Replaces the nine flag bits, keeping Data Offset and the reserved bits. */
export function setFlags(b: Uint8Array, o: number, v: number): void {
  b[o + OFFSET_FLAGS] = (b[o + OFFSET_FLAGS]! & 0xfe) | ((v >>> 8) & 1);
  b[o + OFFSET_FLAGS + 1] = v;
}
export const setWindow = (b: Uint8Array, o: number, v: number): void => setU16(b, o + WINDOW, v);
export const setChecksum = (b: Uint8Array, o: number, v: number): void => setU16(b, o + CHECKSUM, v);
export const setUrgent = (b: Uint8Array, o: number, v: number): void => setU16(b, o + URGENT, v);

/**
 * fewer than 20 bytes, or fewer than Data Offset × 4 → TRUNCATED; Data Offset < 5 → BAD_LENGTH.
 * Options are not validated here (tcp-options.ts parse does that); `end` is the segment end.
 */
export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  const hlen = headerLen(b, o);
  if (hlen < HEADER_LEN) return BAD_LENGTH;
  if (end - o < hlen) return TRUNCATED;
  return OK;
}

// ---- checksum (l3 = offset of the IPv4/IPv6 header, [o, end) = the whole segment) ----

export function fillChecksum(b: Uint8Array, l3: number, o: number, end: number): void {
  l4.fill(b, l3, o, end, ipProto.TCP, CHECKSUM, false);
}
/** Pseudo-header partial sum for NEEDS_CSUM offload (csumOffset = CHECKSUM). */
export function fillPseudo(b: Uint8Array, l3: number, o: number, end: number): void {
  l4.fillPseudo(b, l3, o, end, ipProto.TCP, CHECKSUM);
}
export function verifyChecksum(b: Uint8Array, l3: number, o: number, end: number): boolean {
  return l4.verify(b, l3, o, end, ipProto.TCP);
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** NS..FIN, 9 bits. */
  flags: number;
  /** The 3 reserved bits, kept so parse → emit is lossless. */
  reserved: number;
  window: number;
  /** Carried verbatim; fillChecksum() computes it over the finished segment. */
  checksum: number;
  urgent: number;
  /** Raw option bytes, padding included (a multiple of 4, ≤ 40); [optionsLen, 40) is zero. */
  options: Uint8Array;
  optionsLen: number;
}

export function newRepr(): TcpRepr {
  return {
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    reserved: 0,
    window: 0,
    checksum: 0,
    urgent: 0,
    options: new Uint8Array(MAX_OPTIONS_LEN),
    optionsLen: 0,
  };
}

export function parse(b: Uint8Array, o: number, end: number, out: TcpRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  out.srcPort = srcPort(b, o);
  out.dstPort = dstPort(b, o);
  out.seq = seq(b, o);
  out.ack = ack(b, o);
  out.flags = flags(b, o);
  out.reserved = reserved(b, o);
  out.window = window(b, o);
  out.checksum = checksumField(b, o);
  out.urgent = urgent(b, o);
  // Bytes past optionsLen stay zero (the Repr invariant): only the tail the previous parse used is cleared.
  const prev = out.optionsLen;
  out.optionsLen = headerLen(b, o) - HEADER_LEN;
  for (let i = 0; i < out.optionsLen; i++) out.options[i] = b[o + HEADER_LEN + i]!;
  for (let i = out.optionsLen; i < prev; i++) out.options[i] = 0;
  return OK;
}

export const reprHeaderLen = (r: TcpRepr): number => HEADER_LEN + ((r.optionsLen + 3) & ~3);

/** Writes header + options (zero-padded to 4: 0 is EOL, RFC 9293 §3.1); checksum written as given. */
export function emit(r: TcpRepr, b: Uint8Array, o: number): void {
  const hlen = reprHeaderLen(r);
  setU16(b, o + SRC_PORT, r.srcPort);
  setU16(b, o + DST_PORT, r.dstPort);
  setU32(b, o + SEQ, r.seq);
  setU32(b, o + ACK, r.ack);
  b[o + OFFSET_FLAGS] = ((hlen >>> 2) << 4) | ((r.reserved & 7) << 1) | ((r.flags >>> 8) & 1);
  b[o + OFFSET_FLAGS + 1] = r.flags;
  setU16(b, o + WINDOW, r.window);
  setU16(b, o + CHECKSUM, r.checksum);
  setU16(b, o + URGENT, r.urgent);
  for (let i = 0; i < hlen - HEADER_LEN; i++) b[o + HEADER_LEN + i] = i < r.optionsLen ? r.options[i]! : 0;
}

/** tcpdump-style flag letters: S, F, R, P, U, E (ECE), W (CWR), N (NS), '.' for ACK. */
export function flagText(f: number): string {
  let s = '';
  for (const i of [1, 0, 2, 3, 5, 6, 7, 8, 4]) if (f & (1 << i)) s += FLAG_NAMES[i];
  return s || 'none';
}

export function format(b: Uint8Array, o: number, end: number): string {
  const st = check(b, o, end);
  if (st !== OK) return `TCP ${statusName(st)}`;
  const f = flags(b, o);
  return (
    `TCP ${srcPort(b, o)} > ${dstPort(b, o)} [${flagText(f)}] seq=${seq(b, o)}` +
    (f & ACK_FLAG ? ` ack=${ack(b, o)}` : '') +
    ` win=${window(b, o)} len=${end - o - headerLen(b, o)}` +
    (headerLen(b, o) > HEADER_LEN ? ` opts=${headerLen(b, o) - HEADER_LEN}` : '')
  );
}

export const codec: Codec<TcpRepr> = { name: 'tcp', newRepr, headerLen: reprHeaderLen, parse, emit, format };
