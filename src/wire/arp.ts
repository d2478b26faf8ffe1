// ARP for Ethernet and IPv4, RFC 826 (operation codes: IANA "arp-parameters"; RARP RFC 903,
// InARP RFC 2390). Other hardware/protocol pairs are well-formed ARP but UNSUPPORTED here.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Hardware type (1)         |     Protocol type (0x0800)    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  HLEN (6)     |  PLEN (4)     |          Operation            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Sender hardware address (6)  …  Sender protocol address (4)  |
//   |  Target hardware address (6)  …  Target protocol address (4)  |   28 bytes in all
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import { formatIpv4, formatMac, setU16, setU32, u16, u32 } from './bytes.ts';
import type { Codec } from './codec.ts';
import * as etherType from './ether-type.ts';
import { nameSet } from './registry.ts';
import { OK, type Status, statusName, TRUNCATED, UNSUPPORTED } from './status.ts';

export const HEADER_LEN = 28;
export const HTYPE_ETHERNET = 1;
export const SHA = 8;
export const SPA = 14;
export const THA = 18;
export const TPA = 24;

export const OP_REQUEST = 1;
export const OP_REPLY = 2;
export const OP_RREQUEST = 3;
export const OP_RREPLY = 4;
export const OP_INREQUEST = 8;
export const OP_INREPLY = 9;
export const ops = nameSet({
  [OP_REQUEST]: 'request',
  [OP_REPLY]: 'reply',
  [OP_RREQUEST]: 'rarp-request',
  [OP_RREPLY]: 'rarp-reply',
  [OP_INREQUEST]: 'inarp-request',
  [OP_INREPLY]: 'inarp-reply',
});

export const htype = (b: Uint8Array, o: number): number => u16(b, o);
export const ptype = (b: Uint8Array, o: number): number => u16(b, o + 2);
export const op = (b: Uint8Array, o: number): number => u16(b, o + 6);
export const spa = (b: Uint8Array, o: number): number => u32(b, o + SPA);
export const tpa = (b: Uint8Array, o: number): number => u32(b, o + TPA);

/**
 * fewer than 8 bytes → TRUNCATED; not Ethernet (1) / IPv4 (0x0800) / 6 / 4 → UNSUPPORTED;
 * fewer than 28 bytes → TRUNCATED.
 */
export function check(b: Uint8Array, o: number, end: number): Status {
  if (end - o < 8) return TRUNCATED;
  if (htype(b, o) !== HTYPE_ETHERNET || ptype(b, o) !== etherType.IPV4 || b[o + 4] !== 6 || b[o + 5] !== 4)
    return UNSUPPORTED;
  return end - o < HEADER_LEN ? TRUNCATED : OK;
}

export interface ArpRepr {
  op: number;
  sha: Uint8Array;
  spa: number;
  tha: Uint8Array;
  tpa: number;
}

export function newRepr(): ArpRepr {
  return { op: OP_REQUEST, sha: new Uint8Array(6), spa: 0, tha: new Uint8Array(6), tpa: 0 };
}

export function parse(b: Uint8Array, o: number, end: number, out: ArpRepr): Status {
  const st = check(b, o, end);
  if (st !== OK) return st;
  out.op = op(b, o);
  for (let i = 0; i < 6; i++) {
    out.sha[i] = b[o + SHA + i]!;
    out.tha[i] = b[o + THA + i]!;
  }
  out.spa = spa(b, o);
  out.tpa = tpa(b, o);
  return OK;
}

export function emit(r: ArpRepr, b: Uint8Array, o: number): void {
  setU16(b, o, HTYPE_ETHERNET);
  setU16(b, o + 2, etherType.IPV4);
  b[o + 4] = 6;
  b[o + 5] = 4;
  setU16(b, o + 6, r.op);
  for (let i = 0; i < 6; i++) {
    b[o + SHA + i] = r.sha[i]!;
    b[o + THA + i] = r.tha[i]!;
  }
  setU32(b, o + SPA, r.spa);
  setU32(b, o + TPA, r.tpa);
}

export const headerLen = (_r: ArpRepr): number => HEADER_LEN;

export function format(b: Uint8Array, o: number, end: number): string {
  const st = check(b, o, end);
  if (st !== OK) return `ARP ${statusName(st)}`;
  return (
    `ARP ${ops.name(op(b, o))} ${formatIpv4(b, o + SPA)} (${formatMac(b, o + SHA)}) → ` +
    `${formatIpv4(b, o + TPA)} (${formatMac(b, o + THA)})`
  );
}

export const codec: Codec<ArpRepr> = { name: 'arp', newRepr, headerLen, parse, emit, format };
