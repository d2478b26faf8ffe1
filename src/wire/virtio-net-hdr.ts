// virtio_net_hdr: the offload header in front of each frame on a TAP with IFF_VNET_HDR, an AF_PACKET
// socket with PACKET_VNET_HDR, or a virtio-net queue. Layout from the Linux UAPI header
// include/uapi/linux/virtio_net.h (struct virtio_net_hdr / _mrg_rxbuf / _v1) and the virtio 1.x spec
// §5.1.6. LITTLE-ENDIAN (virtio 1.x; a TAP uses host order unless TUNSETVNETBE/LE, i.e. LE on x86).
//
//   byte 0        1          2..3       4..5       6..7         8..9          10..11
//  +-------+----------+----------+----------+------------+-------------+--------------+
//  | flags | gso_type | hdr_len  | gso_size | csum_start | csum_offset | num_buffers  |
//  +-------+----------+----------+----------+------------+-------------+--------------+
//  \_________________________ 10 bytes (legacy) ______________________/  12 bytes (mrg_rxbuf / v1)
//
//  flags:    0x01 NEEDS_CSUM (sum [csum_start, end) and store at csum_start + csum_offset; the field
//            holds the pseudo-header sum), 0x02 DATA_VALID (rx: checksum already verified),
//            0x04 RSC_INFO, 0x08 UDP_TUNNEL_CSUM (2025: the outer UDP checksum is partial too).
//  gso_type: 0 NONE, 1 TCPV4, 3 UDP (UFO, legacy), 4 TCPV6, 5 UDP_L4 (USO); | 0x80 ECN (the TCP
//            flow uses ECN: CWR only on the first segment); | 0x20 UDP_TUNNEL_IPV4 / | 0x40
//            UDP_TUNNEL_IPV6 (2025 UDP-tunnel GSO: the frame is VXLAN/Geneve-encapsulated).
//  hdr_len:  bytes of headers (a hint on transmit); gso_size: payload bytes per segment (the MSS);
//  csum_start: offset of the L4 header from the frame start; csum_offset: 16 for TCP, 6 for UDP.
//
// Receive policy = what Linux's virtio_net_hdr_to_skb rejects with -EINVAL, measured by writing headers
// into a TAP on kernel 6.18 (test/conformance/virtio-kernel.test.ts keeps checking it):
//  - a base gso type other than the five ⇒ UNSUPPORTED;
//  - ECN/tunnel bits without GSO, both tunnel bits, gso_size 0 or 0xFFFF (GSO_BY_FRAGS) ⇒ BAD_FIELD;
//  - UDP_L4 without NEEDS_CSUM, or with ECN ⇒ BAD_FIELD;
//  - NEEDS_CSUM with csum_offset ≠ 16 on TCP GSO or ≠ 6 on UDP_L4 GSO (commit 89add40066f9, 2024), or
//    csum_start below 20 (40 for TCPV6: the kernel's nh_min_len) ⇒ BAD_FIELD.
// Flag bits the kernel does not know are ignored, as it ignores them. Tunnel bits are accepted here;
// a TAP refuses them unless UDP-tunnel GSO was negotiated (TUN_F_UDP_TUNNEL_GSO), which is the port's
// business. Offsets against the frame length are checked by `checkFrame` once that length is known.
// gso_type numbers equal packet.ts's GSO_* constants.
import { u16le } from './bytes.ts';
import type { Codec } from './codec.ts';
import { BAD_FIELD, OK, type Status, TRUNCATED, UNSUPPORTED } from './status.ts';

export const HEADER_LEN = 10;
/** With num_buffers: virtio_net_hdr_mrg_rxbuf / virtio_net_hdr_v1 (TUNSETVNETHDRSZ 12). */
export const HEADER_LEN_MRG = 12;
/** virtio_net_hdr_v1_hash (20) and _v1_hash_tunnel (24): the tunnel offsets sit at 20 and 22. */
export const HEADER_LEN_HASH = 20;
export const HEADER_LEN_HASH_TUNNEL = 24;

export const F_NEEDS_CSUM = 0x01;
export const F_DATA_VALID = 0x02;
export const F_RSC_INFO = 0x04;
export const F_UDP_TUNNEL_CSUM = 0x08;
export const F_KNOWN = 0x0f;

export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_UDP_L4 = 5;
export const GSO_UDP_TUNNEL_IPV4 = 0x20;
export const GSO_UDP_TUNNEL_IPV6 = 0x40;
export const GSO_ECN = 0x80;
export const GSO_TUNNEL = GSO_UDP_TUNNEL_IPV4 | GSO_UDP_TUNNEL_IPV6;
/** The bits of gso_type that are not the base type. */
export const GSO_MODIFIERS = GSO_ECN | GSO_UDP_TUNNEL_IPV4 | GSO_UDP_TUNNEL_IPV6;

/** Offsets of the checksum field inside the L4 header. */
export const CSUM_OFFSET_TCP = 16;
export const CSUM_OFFSET_UDP = 6;

const FLAGS = 0;
const GSO_TYPE = 1;
const HDR_LEN = 2;
const GSO_SIZE = 4;
const CSUM_START = 6;
const CSUM_OFFSET = 8;
const NUM_BUFFERS = 10;

export const flags = (b: Uint8Array, o: number): number => b[o + FLAGS]!;
export const gsoType = (b: Uint8Array, o: number): number => b[o + GSO_TYPE]!;
export const hdrLen = (b: Uint8Array, o: number): number => u16le(b, o + HDR_LEN);
export const gsoSize = (b: Uint8Array, o: number): number => u16le(b, o + GSO_SIZE);
export const csumStart = (b: Uint8Array, o: number): number => u16le(b, o + CSUM_START);
export const csumOffset = (b: Uint8Array, o: number): number => u16le(b, o + CSUM_OFFSET);
export const numBuffers = (b: Uint8Array, o: number): number => u16le(b, o + NUM_BUFFERS);
/** v1_hash_tunnel only: offset of the outer transport header and of the inner network header. */
export const outerThOffset = (b: Uint8Array, o: number): number => u16le(b, o + 20);
export const innerNhOffset = (b: Uint8Array, o: number): number => u16le(b, o + 22);

export const baseGsoType = (t: number): number => t & ~GSO_MODIFIERS;

const gsoNames = ['none', 'tcpv4', 'unknown(2)', 'udp', 'tcpv6', 'udp-l4'];
export function gsoTypeName(t: number): string {
  const base = baseGsoType(t);
  let s = gsoNames[base] ?? `unknown(${base})`;
  if (t & GSO_UDP_TUNNEL_IPV4) s += '+tunnel4';
  if (t & GSO_UDP_TUNNEL_IPV6) s += '+tunnel6';
  if (t & GSO_ECN) s += '+ecn';
  return s;
}

function checkFields(t: number, size: number, cstart: number, coff: number, f: number): Status {
  const base = t & ~GSO_MODIFIERS;
  // ECN or tunnel bits on a non-GSO frame: the kernel's switch on the base type falls to -EINVAL.
  if (base === GSO_NONE) {
    if (t !== GSO_NONE) return BAD_FIELD;
  } else {
    if (base !== GSO_TCPV4 && base !== GSO_UDP && base !== GSO_TCPV6 && base !== GSO_UDP_L4)
      return UNSUPPORTED;
    if ((t & GSO_TUNNEL) === GSO_TUNNEL) return BAD_FIELD;
    // 0 is no segment size at all; 0xFFFF is the kernel's GSO_BY_FRAGS marker, refused from userspace.
    if (size === 0 || size === 0xffff) return BAD_FIELD;
    // USO must carry a partial checksum and cannot take the (TCP-only) ECN bit.
    if (base === GSO_UDP_L4 && ((f & F_NEEDS_CSUM) === 0 || (t & GSO_ECN) !== 0)) return BAD_FIELD;
  }
  if ((f & F_NEEDS_CSUM) === 0) return OK;
  // The checksum field must sit where the GSO type's transport header keeps it.
  if ((base === GSO_TCPV4 || base === GSO_TCPV6) && coff !== CSUM_OFFSET_TCP) return BAD_FIELD;
  if (base === GSO_UDP_L4 && coff !== CSUM_OFFSET_UDP) return BAD_FIELD;
  // csum_start is the transport offset: at least one IPv4 header (IPv6 for TCPV6) past the frame start.
  if (cstart < (base === GSO_TCPV6 ? 40 : 20)) return BAD_FIELD;
  return OK;
}

function checkLen(b: Uint8Array, o: number, end: number, len: number): Status {
  if (end - o < len) return TRUNCATED;
  const t = b[o + GSO_TYPE]!;
  return checkFields(
    t,
    u16le(b, o + GSO_SIZE),
    u16le(b, o + CSUM_START),
    u16le(b, o + CSUM_OFFSET),
    b[o + FLAGS]!,
  );
}

/** The 10-byte header. */
export function check(b: Uint8Array, o: number, end: number): Status {
  return checkLen(b, o, end, HEADER_LEN);
}

/** The 12-byte header (num_buffers is not judged: 0 on transmit, ≥ 1 on mergeable receive). */
export function checkMrg(b: Uint8Array, o: number, end: number): Status {
  return checkLen(b, o, end, HEADER_LEN_MRG);
}

export interface VirtioNetHdrRepr {
  flags: number;
  /** Full gso_type byte: base type | ECN | tunnel bits. */
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  /** 12-byte form only; 0 after a 10-byte parse. */
  numBuffers: number;
}

/**
 * Offsets against the frame that follows the header (`frameLen` bytes), as TAP (tun_get_user) and
 * AF_PACKET (__packet_snd_vnet_parse) check them before virtio_net_hdr_to_skb:
 *  - hdr_len, raised to csum_start + csum_offset + 2 when NEEDS_CSUM, must not exceed the frame;
 *  - with NEEDS_CSUM, csum_start + max(L4 header, csum_offset + 2) must lie inside the frame, where the
 *    L4 header is 20 bytes for TCP GSO, 8 for UDP GSO and 0 without GSO.
 */
export function checkFrame(r: VirtioNetHdrRepr, frameLen: number): Status {
  if ((r.flags & F_NEEDS_CSUM) === 0) return r.hdrLen > frameLen ? BAD_FIELD : OK;
  const field = r.csumStart + r.csumOffset + 2;
  if (Math.max(r.hdrLen, field) > frameLen) return BAD_FIELD;
  const base = baseGsoType(r.gsoType);
  const thlen = base === GSO_TCPV4 || base === GSO_TCPV6 ? 20 : base === GSO_NONE ? 0 : 8;
  if (r.csumStart + Math.max(thlen, r.csumOffset + 2) > frameLen) return BAD_FIELD;
  return OK;
}

export function newRepr(): VirtioNetHdrRepr {
  return { flags: 0, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0, numBuffers: 0 };
}

function parseFields(b: Uint8Array, o: number, out: VirtioNetHdrRepr): void {
  out.flags = b[o + FLAGS]!;
  out.gsoType = b[o + GSO_TYPE]!;
  out.hdrLen = u16le(b, o + HDR_LEN);
  out.gsoSize = u16le(b, o + GSO_SIZE);
  out.csumStart = u16le(b, o + CSUM_START);
  out.csumOffset = u16le(b, o + CSUM_OFFSET);
}

/** Parses the 10-byte header. */
export function parse(b: Uint8Array, o: number, end: number, out: VirtioNetHdrRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  parseFields(b, o, out);
  out.numBuffers = 0;
  return OK;
}

/** Parses the 12-byte header. */
export function parseMrg(b: Uint8Array, o: number, end: number, out: VirtioNetHdrRepr): Status {
  const st = checkMrg(b, o, end);
  if (st !== OK) return st;
  parseFields(b, o, out);
  out.numBuffers = u16le(b, o + NUM_BUFFERS);
  return OK;
}

/** Writes the 10-byte header. */
export function emit(r: VirtioNetHdrRepr, b: Uint8Array, o: number): void {
  b[o + FLAGS] = r.flags;
  b[o + GSO_TYPE] = r.gsoType;
  b[o + HDR_LEN] = r.hdrLen;
  b[o + HDR_LEN + 1] = r.hdrLen >>> 8;
  b[o + GSO_SIZE] = r.gsoSize;
  b[o + GSO_SIZE + 1] = r.gsoSize >>> 8;
  b[o + CSUM_START] = r.csumStart;
  b[o + CSUM_START + 1] = r.csumStart >>> 8;
  b[o + CSUM_OFFSET] = r.csumOffset;
  b[o + CSUM_OFFSET + 1] = r.csumOffset >>> 8;
}

/** Writes the 12-byte header. */
export function emitMrg(r: VirtioNetHdrRepr, b: Uint8Array, o: number): void {
  emit(r, b, o);
  b[o + NUM_BUFFERS] = r.numBuffers;
  b[o + NUM_BUFFERS + 1] = r.numBuffers >>> 8;
}

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `vnet truncated (${Math.max(0, end - o)} bytes)`;
  const f = flags(b, o);
  let s = `vnet flags=${f & F_NEEDS_CSUM ? 'needs-csum' : ''}${f & F_DATA_VALID ? (f & 1 ? ',' : '') + 'data-valid' : ''}`;
  if (!(f & 3)) s += '-';
  if (f & F_NEEDS_CSUM) s += ` csum=${csumStart(b, o)}+${csumOffset(b, o)}`;
  if (gsoType(b, o) !== GSO_NONE) s += ` gso=${gsoTypeName(gsoType(b, o))} size=${gsoSize(b, o)}`;
  s += ` hdr_len=${hdrLen(b, o)}`;
  if (end - o >= HEADER_LEN_MRG) s += ` (num_buffers=${numBuffers(b, o)} if 12-byte)`;
  return s;
}

export const codec: Codec<VirtioNetHdrRepr> = {
  name: 'virtio-net-hdr',
  newRepr,
  headerLen: () => HEADER_LEN,
  parse,
  emit,
  format,
};
export const codecMrg: Codec<VirtioNetHdrRepr> = {
  name: 'virtio-net-hdr-mrg',
  newRepr,
  headerLen: () => HEADER_LEN_MRG,
  parse: parseMrg,
  emit: emitMrg,
  format,
};
