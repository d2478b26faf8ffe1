// STT's TCP-like segment header, draft-davie-stt-08 §3.2 / §3.5 (a 20-byte TCP header, RFC 9293 §3.1,
// whose SEQ and ACK are re-purposed; IP protocol 6, destination port 7471).
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |     Source Port (flow hash)   |   Destination Port (7471)     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  STT frame length (SEQ hi)    | Fragment offset (SEQ lo)      |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                Frame identifier (ACK number)                  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Off=5 | Rsv |N|C|E|U|A|P|R|S|F|            Window             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |           Checksum            |        Urgent Pointer         |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// SEQ = frame length << 16 | byte offset of this segment's payload in the frame (the frame is the
// 18-byte STT header plus the inner Ethernet frame); the length is the same in every segment of a
// frame. ACK = frame identifier, constant within a frame. OVS (datapath/linux/compat/stt.c) sends
// data offset 5, flags ACK|PSH on its template (GSO leaves PSH on the last segment only), window
// 0xFFFF and urgent 0; the checksum is the ordinary TCP checksum over the IPv4/IPv6 pseudo-header.
//
// Receive policy (stt.md §2.3, §7): data offset < 5 ⇒ BAD_LENGTH; > 5 ⇒ UNSUPPORTED (OVS strips a fixed
// 20 bytes and Wireshark misparses: nobody sends options); no payload, frame length < 18 + 14, or
// offset + payload > frame length ⇒ BAD_LENGTH. Flags, window and urgent pointer are ignored and
// reported. `end` is the end of this TCP segment (the IP payload end), so the payload is [o+20, end).
// The checksum needs the IP pseudo-header and is checked by `checksumOk`, not by parse.
import { u16, u32 } from './bytes.ts';
import { checksum, fold, sum } from './checksum.ts';
import type { Codec } from './codec.ts';
import { BAD_LENGTH, OK, type Status, TRUNCATED, UNSUPPORTED } from './status.ts';
import { STT_PORT } from './tunnel-ports.ts';

export const HEADER_LEN = 20;
/** 18-byte STT header + 14-byte inner Ethernet header: nothing shorter is a frame. */
export const MIN_FRAME_LEN = 32;
export const TCP_FIN = 0x001;
export const TCP_SYN = 0x002;
export const TCP_RST = 0x004;
export const TCP_PSH = 0x008;
export const TCP_ACK = 0x010;
export const TCP_URG = 0x020;
export const TCP_ECE = 0x040;
export const TCP_CWR = 0x080;
export const TCP_NS = 0x100;
/** What OVS puts on its template: ACK so NICs look at the ACK field, PSH so LRO flushes. */
export const OVS_FLAGS = TCP_ACK | TCP_PSH;
export const OVS_WINDOW = 0xffff;
export const DEFAULT_PORT = STT_PORT;

const SRC_PORT = 0;
const DST_PORT = 2;
const FRAME_LEN = 4;
const FRAG_OFF = 6;
const FRAME_ID = 8;
const DOFF_FLAGS = 12;
const WINDOW = 14;
const CHECKSUM = 16;
const URGENT = 18;

export const srcPort = (b: Uint8Array, o: number): number => u16(b, o + SRC_PORT);
export const dstPort = (b: Uint8Array, o: number): number => u16(b, o + DST_PORT);
export const frameLen = (b: Uint8Array, o: number): number => u16(b, o + FRAME_LEN);
export const fragOffset = (b: Uint8Array, o: number): number => u16(b, o + FRAG_OFF);
export const frameId = (b: Uint8Array, o: number): number => u32(b, o + FRAME_ID);
/** Data offset in bytes (the field counts 32-bit words). */
export const dataOffset = (b: Uint8Array, o: number): number => (b[o + DOFF_FLAGS]! >>> 4) << 2;
/** The 12 bits after the data offset: reserved (3), NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN. */
export const tcpFlags = (b: Uint8Array, o: number): number => ((b[o + DOFF_FLAGS]! & 0x0f) << 8) | b[o + 13]!;
export const window = (b: Uint8Array, o: number): number => u16(b, o + WINDOW);
export const checksumField = (b: Uint8Array, o: number): number => u16(b, o + CHECKSUM);

export function setFragOffset(b: Uint8Array, o: number, v: number): void {
  b[o + FRAG_OFF] = v >>> 8;
  b[o + FRAG_OFF + 1] = v;
}

export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  const doff = dataOffset(b, o);
  if (doff < HEADER_LEN) return BAD_LENGTH;
  if (doff > HEADER_LEN) return UNSUPPORTED;
  const payload = end - o - HEADER_LEN;
  const total = u16(b, o + FRAME_LEN);
  if (payload === 0 || total < MIN_FRAME_LEN || u16(b, o + FRAG_OFF) + payload > total) return BAD_LENGTH;
  return OK;
}

/** `pseudo` is pseudoSum4/pseudoSum6(…, 6, end − o) of the enclosing IP header. */
export function checksumOk(b: Uint8Array, o: number, end: number, pseudo: number): boolean {
  return fold(sum(b, o, end, pseudo)) === 0xffff;
}

/** Computes and stores the TCP checksum over pseudo-header + [o, end). */
export function fillChecksum(b: Uint8Array, o: number, end: number, pseudo: number): void {
  b[o + CHECKSUM] = 0;
  b[o + CHECKSUM + 1] = 0;
  const c = checksum(b, o, end, pseudo);
  b[o + CHECKSUM] = c >>> 8;
  b[o + CHECKSUM + 1] = c;
}

export interface SttTcpRepr {
  srcPort: number;
  dstPort: number;
  /** SEQ high half: STT frame length (18 + inner Ethernet frame). */
  frameLen: number;
  /** SEQ low half: offset of this segment's payload in the frame. */
  fragOff: number;
  /** ACK number: frame identifier (unsigned 32-bit). */
  frameId: number;
  /** The 12 flag bits (see tcpFlags). */
  flags: number;
  window: number;
  checksum: number;
  urgent: number;
}

export function newRepr(): SttTcpRepr {
  return {
    srcPort: 0,
    dstPort: STT_PORT,
    frameLen: 0,
    fragOff: 0,
    frameId: 0,
    flags: OVS_FLAGS,
    window: OVS_WINDOW,
    checksum: 0,
    urgent: 0,
  };
}

export function headerLen(_r: SttTcpRepr): number {
  return HEADER_LEN;
}

export function parse(b: Uint8Array, o: number, end: number, out: SttTcpRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  out.srcPort = u16(b, o + SRC_PORT);
  out.dstPort = u16(b, o + DST_PORT);
  out.frameLen = u16(b, o + FRAME_LEN);
  out.fragOff = u16(b, o + FRAG_OFF);
  out.frameId = u32(b, o + FRAME_ID);
  out.flags = tcpFlags(b, o);
  out.window = u16(b, o + WINDOW);
  out.checksum = u16(b, o + CHECKSUM);
  out.urgent = u16(b, o + URGENT);
  return OK;
}

export function emit(r: SttTcpRepr, b: Uint8Array, o: number): void {
  b[o + SRC_PORT] = r.srcPort >>> 8;
  b[o + SRC_PORT + 1] = r.srcPort;
  b[o + DST_PORT] = r.dstPort >>> 8;
  b[o + DST_PORT + 1] = r.dstPort;
  b[o + FRAME_LEN] = r.frameLen >>> 8;
  b[o + FRAME_LEN + 1] = r.frameLen;
  b[o + FRAG_OFF] = r.fragOff >>> 8;
  b[o + FRAG_OFF + 1] = r.fragOff;
  b[o + FRAME_ID] = r.frameId >>> 24;
  b[o + FRAME_ID + 1] = r.frameId >>> 16;
  b[o + FRAME_ID + 2] = r.frameId >>> 8;
  b[o + FRAME_ID + 3] = r.frameId;
  // Data offset 5 words (20 bytes) in the high nibble; the flags' top 4 bits in the low one.
  b[o + DOFF_FLAGS] = 0x50 | ((r.flags >>> 8) & 0x0f);
  b[o + DOFF_FLAGS + 1] = r.flags;
  b[o + WINDOW] = r.window >>> 8;
  b[o + WINDOW + 1] = r.window;
  b[o + CHECKSUM] = r.checksum >>> 8;
  b[o + CHECKSUM + 1] = r.checksum;
  b[o + URGENT] = r.urgent >>> 8;
  b[o + URGENT + 1] = r.urgent;
}

const FLAG_NAMES = 'FSRPAUECN';
export function flagNames(f: number): string {
  let s = '';
  for (let i = 0; i < FLAG_NAMES.length; i++) if (f & (1 << i)) s += FLAG_NAMES[i];
  return s || '-';
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `STT-TCP truncated (${Math.max(0, end - o)} bytes)`;
  return (
    `STT-TCP ${srcPort(b, o)} > ${dstPort(b, o)} frame=0x${frameId(b, o).toString(16).padStart(8, '0')} ` +
    `len=${frameLen(b, o)} off=${fragOffset(b, o)} seg=${end - o - HEADER_LEN} [${flagNames(tcpFlags(b, o))}]` +
    (dataOffset(b, o) !== HEADER_LEN ? ` doff=${dataOffset(b, o)}` : '')
  );
}

export const codec: Codec<SttTcpRepr> = { name: 'stt-tcp', newRepr, headerLen, parse, emit, format };
