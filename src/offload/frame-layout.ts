// Where the headers of a frame are, found by walking them (Ethernet → ≤2 VLAN tags → IPv4 | IPv6 (+ the
// generic extension headers) → TCP | UDP). The segmenters and coalescers trust only this walk, never the
// offsets a guest or another stage claims: a virtio_net_hdr from userspace is untrusted input (Linux
// marks it SKB_GSO_DODGY and re-derives offsets the same way).
//
//   Ethernet (14) [VLAN 802.1Q/802.1ad (4)]{0,2}  IPv4 (IHL·4) | IPv6 (40 + ext)   TCP (doff·4) | UDP (8)
//   ^l2                                            ^l3                             ^l4            ^payload
//
// IPv4 (RFC 791 §3.1): ver/IHL @0, TOS @1, total length @2, ID @4, flags+frag offset @6, TTL @8,
//   protocol @9, header checksum @10, src @12, dst @16.
// IPv6 (RFC 8200 §3): ver/TC/flow label @0, payload length @4, next header @6, hop limit @7, src @8,
//   dst @24. Hop-by-hop (0), routing (43), destination options (60) are skipped: length = (hdr[1]+1)·8.
// TCP (RFC 9293 §3.1): ports @0/@2, seq @4, ack @8, data offset @12 (high nibble, 32-bit words),
//   flags @13, window @14, checksum @16, urgent @18.   UDP (RFC 768): ports, length @4, checksum @6.
import { u16 } from '../wire/bytes.ts';
import * as et from '../wire/ether-type.ts';
import * as ipp from '../wire/ip-proto.ts';
import {
  BAD_FIELD,
  BAD_LENGTH,
  BAD_VERSION,
  OK,
  type Status,
  TOO_MANY,
  TRUNCATED,
  UNSUPPORTED,
} from '../wire/status.ts';

export const ETH_LEN = 14;
export const IPV4_MIN = 20;
export const IPV6_LEN = 40;
export const TCP_MIN = 20;
export const UDP_LEN = 8;
/** Ethernet frames below 60 bytes are padded (ethernet.ts MIN_FRAME): only they may have bytes after the IP end. */
const MIN_FRAME = 60;
const MAX_VLAN_TAGS = 2;
const MAX_EXT_HEADERS = 4;

// TCP flag bits (byte 13).
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export interface Layout {
  l2: number; //      -1 when the walk started at L3
  l3: number;
  l4: number;
  ipVersion: number; // 4 | 6
  ipHdrLen: number; //  IPv4 IHL·4, or 40 + extension headers for IPv6
  l4Proto: number; //   upper-layer protocol after the extension headers
  l4HdrLen: number; //  TCP doff·4 or 8
  payload: number; //   l4 + l4HdrLen
  ipEnd: number; //     end of the IP datagram by its length field (≤ frame end)
}

export function newLayout(): Layout {
  return { l2: -1, l3: -1, l4: -1, ipVersion: 0, ipHdrLen: 0, l4Proto: 0, l4HdrLen: 0, payload: 0, ipEnd: 0 };
}

/** Walks an Ethernet frame b[o, end). Statuses: TRUNCATED, BAD_LENGTH, BAD_VERSION, UNSUPPORTED, TOO_MANY, BAD_FIELD. */
export function parseFrame(b: Uint8Array, o: number, end: number, out: Layout): Status {
  if (end - o < ETH_LEN) return TRUNCATED;
  let type = u16(b, o + 12);
  let l3 = o + ETH_LEN;
  for (let tags = 0; et.isVlanTpid(type); tags++) {
    if (tags === MAX_VLAN_TAGS) return TOO_MANY;
    if (end - l3 < 4) return TRUNCATED;
    type = u16(b, l3 + 2);
    l3 += 4;
  }
  const st = parseIp(b, l3, type, end, out);
  out.l2 = o;
  if (st === OK && out.ipEnd < end && end - o > MIN_FRAME) return BAD_LENGTH;
  return st;
}

/** Walks from an IP header whose EtherType is `type` (IPv4/IPv6), for GRE/GPE payloads without Ethernet. */
export function parseIp(b: Uint8Array, l3: number, type: number, end: number, out: Layout): Status {
  out.l2 = -1;
  out.l3 = l3;
  let l4: number;
  let proto: number;
  if (type === et.IPV4) {
    if (end - l3 < IPV4_MIN) return TRUNCATED;
    if (b[l3]! >>> 4 !== 4) return BAD_VERSION;
    const ihl = (b[l3]! & 0x0f) << 2;
    const total = u16(b, l3 + 2);
    if (ihl < IPV4_MIN || total < ihl) return BAD_LENGTH;
    if (total > end - l3) return TRUNCATED;
    // A fragment (MF set or offset non-zero) carries no L4 header of its own to segment or merge.
    if ((u16(b, l3 + 6) & 0x3fff) !== 0) return BAD_FIELD;
    out.ipVersion = 4;
    out.ipHdrLen = ihl;
    out.ipEnd = l3 + total;
    l4 = l3 + ihl;
    proto = b[l3 + 9]!;
  } else if (type === et.IPV6) {
    if (end - l3 < IPV6_LEN) return TRUNCATED;
    if (b[l3]! >>> 4 !== 6) return BAD_VERSION;
    const payloadLen = u16(b, l3 + 4);
    // Payload length 0 is a jumbogram (RFC 2675, BIG TCP): not supported here.
    if (payloadLen === 0) return UNSUPPORTED;
    if (payloadLen > end - l3 - IPV6_LEN) return TRUNCATED;
    out.ipVersion = 6;
    out.ipEnd = l3 + IPV6_LEN + payloadLen;
    proto = b[l3 + 6]!;
    l4 = l3 + IPV6_LEN;
    for (let n = 0; ipp.isGenericExtHeader(proto) && proto !== ipp.NONE; n++) {
      if (n === MAX_EXT_HEADERS) return TOO_MANY;
      if (out.ipEnd - l4 < 8) return TRUNCATED;
      proto = b[l4]!;
      l4 += (b[l4 + 1]! + 1) << 3;
    }
    if (proto === ipp.FRAGMENT) return BAD_FIELD;
    out.ipHdrLen = l4 - l3;
  } else {
    return UNSUPPORTED;
  }
  out.l4 = l4;
  out.l4Proto = proto;
  if (proto === ipp.TCP) {
    if (out.ipEnd - l4 < TCP_MIN) return TRUNCATED;
    const doff = (b[l4 + 12]! >>> 4) << 2;
    if (doff < TCP_MIN) return BAD_LENGTH;
    if (doff > out.ipEnd - l4) return TRUNCATED;
    out.l4HdrLen = doff;
  } else if (proto === ipp.UDP) {
    if (out.ipEnd - l4 < UDP_LEN) return TRUNCATED;
    const len = u16(b, l4 + 4);
    // UDP length must match the IP payload (RFC 768); the rest of the stack would drop the datagram.
    if (len !== out.ipEnd - l4) return BAD_LENGTH;
    out.l4HdrLen = UDP_LEN;
  } else {
    out.l4HdrLen = 0;
  }
  out.payload = l4 + out.l4HdrLen;
  return OK;
}
