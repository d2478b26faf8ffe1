// UDP header, RFC 768 (IPv6 rules: RFC 8200 §8.1; zero-checksum tunnels: RFC 6935 / RFC 6936).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Source Port          |       Destination Port        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Length (header + data)    |           Checksum            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Checksum: one's complement over pseudo-header + header + data. A computed 0 is sent as 0xffff,
// because 0 on the wire means "no checksum" — allowed over IPv4, forbidden over IPv6 unless the
// receiver opted in for tunnels (RFC 6936; Linux vxlan `udp6zerocsumrx`).
// `end` passed to check/parse/verify is the end of the IP payload (ipv4.payloadEnd), never the frame end.
import { setU16, u16 } from './bytes.ts';
import type { Codec } from './codec.ts';
import * as ipProto from './ip-proto.ts';
import * as l4 from './l4-checksum.ts';
import { BAD_CHECKSUM, BAD_LENGTH, OK, type Status, statusName, TRUNCATED } from './status.ts';

export const HEADER_LEN = 8;
export const SRC_PORT = 0;
export const DST_PORT = 2;
export const LENGTH = 4;
export const CHECKSUM = 6;

export const srcPort = (b: Uint8Array, o: number): number => u16(b, o + SRC_PORT);
export const dstPort = (b: Uint8Array, o: number): number => u16(b, o + DST_PORT);
/** The Length field: header + data, in bytes. */
export const length = (b: Uint8Array, o: number): number => u16(b, o + LENGTH);
export const checksumField = (b: Uint8Array, o: number): number => u16(b, o + CHECKSUM);
export const setSrcPort = (b: Uint8Array, o: number, v: number): void => setU16(b, o + SRC_PORT, v);
export const setDstPort = (b: Uint8Array, o: number, v: number): void => setU16(b, o + DST_PORT, v);
export const setLength = (b: Uint8Array, o: number, v: number): void => setU16(b, o + LENGTH, v);
export const setChecksum = (b: Uint8Array, o: number, v: number): void => setU16(b, o + CHECKSUM, v);

/**
 * fewer than 8 bytes → TRUNCATED; Length < 8 → BAD_LENGTH (this includes 0, the IPv6 jumbogram form,
 * which we do not support); Length > bytes available → TRUNCATED. Bytes after Length (IP payload
 * longer than the datagram) are ignored, as Linux trims them (udp_rcv → pskb_trim_rcsum).
 */
export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  const len = length(b, o);
  if (len < HEADER_LEN) return BAD_LENGTH;
  if (len > end - o) return TRUNCATED;
  return OK;
}

// ---- checksums (l3 = offset of the IPv4 or IPv6 header, o = offset of the UDP header) ----

/** Computes and stores the checksum over [o, o + Length) (0 is sent as 0xffff). */
export function fillChecksum(b: Uint8Array, l3: number, o: number): void {
  l4.fill(b, l3, o, o + length(b, o), ipProto.UDP, CHECKSUM, true);
}

/** Stores the pseudo-header partial sum for NEEDS_CSUM offload (csumOffset = CHECKSUM). */
export function fillPseudo(b: Uint8Array, l3: number, o: number): void {
  l4.fillPseudo(b, l3, o, o + length(b, o), ipProto.UDP, CHECKSUM);
}

/**
 * OK, or BAD_CHECKSUM. A zero field means "not computed": accepted over IPv4 (RFC 768) and over IPv6
 * only when `allowZero6` (RFC 6936 tunnel endpoints); otherwise BAD_CHECKSUM (RFC 8200 §8.1).
 * Call after check() returned OK.
 */
export function verifyChecksum(b: Uint8Array, l3: number, o: number, allowZero6 = false): Status {
  if (checksumField(b, o) === 0) return b[l3]! >>> 4 === 6 && !allowZero6 ? BAD_CHECKSUM : OK;
  return l4.verify(b, l3, o, o + length(b, o), ipProto.UDP) ? OK : BAD_CHECKSUM;
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** Data bytes after the header (Length − 8). */
  payloadLen: number;
  /** Carried verbatim by parse/emit; fillChecksum() computes it once the payload and IP header exist. */
  checksum: number;
}

export function newRepr(): UdpRepr {
  return { srcPort: 0, dstPort: 0, payloadLen: 0, checksum: 0 };
}

export function parse(b: Uint8Array, o: number, end: number, out: UdpRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  out.srcPort = srcPort(b, o);
  out.dstPort = dstPort(b, o);
  out.payloadLen = length(b, o) - HEADER_LEN;
  out.checksum = checksumField(b, o);
  return OK;
}

export function emit(r: UdpRepr, b: Uint8Array, o: number): void {
  setU16(b, o + SRC_PORT, r.srcPort);
  setU16(b, o + DST_PORT, r.dstPort);
  setU16(b, o + LENGTH, HEADER_LEN + r.payloadLen);
  setU16(b, o + CHECKSUM, r.checksum);
}

export const headerLen = (_r: UdpRepr): number => HEADER_LEN;

export function format(b: Uint8Array, o: number, end: number): string {
  const st = check(b, o, end);
  if (st !== OK) return `UDP ${statusName(st)}`;
  return `UDP ${srcPort(b, o)} > ${dstPort(b, o)} len=${length(b, o) - HEADER_LEN} csum=0x${checksumField(b, o).toString(16).padStart(4, '0')}`;
}

export const codec: Codec<UdpRepr> = { name: 'udp', newRepr, headerLen, parse, emit, format };
