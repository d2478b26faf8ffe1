// IEEE 802.1Q VLAN tags (C-tag, TPID 0x8100) and 802.1ad (S-tag, TPID 0x88a8), IEEE 802.1Q-2018 §9.6.
//
// In the frame a tag is TPID + TCI, inserted where the EtherType was; the TPID occupies the EtherType
// position, so this codec covers what follows it (Linux's struct vlan_hdr, gopacket's Dot1Q):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | PCP |D|         VID           |   EtherType (inner / next TPID)|
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//     TCI: PCP 3 bits priority, DEI 1 bit drop eligible, VID 12 bits
//
// VID 0 means "priority tag only"; VID 0xfff is reserved. Neither is rejected here (the switch decides).
// The tag-stack walker reads up to MAX_TAGS tags after an Ethernet header, as Open vSwitch does
// (FLOW_MAX_VLAN_HEADERS = 2); a third tag is TOO_MANY.
import { setU16, u16 } from './bytes.ts';
import type { Codec } from './codec.ts';
import * as etherType from './ether-type.ts';
import { OK, type Status, statusName, TOO_MANY, TRUNCATED } from './status.ts';

export const HEADER_LEN = 4;
export const TCI = 0;
export const TYPE = 2;
export const MAX_TAGS = 2;
export const VID_MASK = 0x0fff;
export const DEI_BIT = 0x1000;

export const tci = (b: Uint8Array, o: number): number => u16(b, o + TCI);
export const pcp = (b: Uint8Array, o: number): number => b[o + TCI]! >>> 5;
export const dei = (b: Uint8Array, o: number): boolean => (b[o + TCI]! & 0x10) !== 0;
export const vid = (b: Uint8Array, o: number): number => u16(b, o + TCI) & VID_MASK;
export const innerType = (b: Uint8Array, o: number): number => u16(b, o + TYPE);
export const setTci = (b: Uint8Array, o: number, v: number): void => setU16(b, o + TCI, v);
export const setInnerType = (b: Uint8Array, o: number, v: number): void => setU16(b, o + TYPE, v);
/** TCI from its fields. */
export const makeTci = (pcpV: number, deiV: boolean, vidV: number): number =>
  ((pcpV & 7) << 13) | (deiV ? DEI_BIT : 0) | (vidV & VID_MASK);

export function check(_b: Uint8Array, o: number, end: number): Status {
  return end - o < HEADER_LEN ? TRUNCATED : OK;
}

export interface VlanRepr {
  pcp: number;
  dei: boolean;
  vid: number;
  /** The EtherType after the tag (or the next tag's TPID). */
  etherType: number;
}

export function newRepr(): VlanRepr {
  return { pcp: 0, dei: false, vid: 0, etherType: 0 };
}

export function parse(b: Uint8Array, o: number, end: number, out: VlanRepr): Status {
  if (end - o < HEADER_LEN) return TRUNCATED;
  out.pcp = pcp(b, o);
  out.dei = dei(b, o);
  out.vid = vid(b, o);
  out.etherType = innerType(b, o);
  return OK;
}

export function emit(r: VlanRepr, b: Uint8Array, o: number): void {
  setU16(b, o + TCI, makeTci(r.pcp, r.dei, r.vid));
  setU16(b, o + TYPE, r.etherType);
}

export const headerLen = (_r: VlanRepr): number => HEADER_LEN;

export function format(b: Uint8Array, o: number, end: number): string {
  if (end - o < HEADER_LEN) return `802.1Q ${statusName(TRUNCATED)}`;
  return `802.1Q vid=${vid(b, o)} pcp=${pcp(b, o)}${dei(b, o) ? ' DEI' : ''} type ${etherType.name(innerType(b, o))}`;
}

export const codec: Codec<VlanRepr> = { name: 'vlan', newRepr, headerLen, parse, emit, format };

// ---- tag stack ----

export interface VlanStack {
  /** Tags found, outermost first. */
  count: number;
  tpid: Uint16Array;
  tci: Uint16Array;
  /** The EtherType after the last tag, and where that payload starts (absolute offset). */
  etherType: number;
  offset: number;
}

export function newStack(): VlanStack {
  return {
    count: 0,
    tpid: new Uint16Array(MAX_TAGS),
    tci: new Uint16Array(MAX_TAGS),
    etherType: 0,
    offset: 0,
  };
}

/**
 * Walks the tags of the Ethernet frame at `l2` (TPIDs 0x8100, 0x88a8, 0x9100 in any order, as Linux
 * and OVS accept). OK: `out` has the tags, the final EtherType and the L3 offset. TRUNCATED when the
 * frame ends inside the header or a tag; TOO_MANY when a third tag follows.
 */
export function parseStack(b: Uint8Array, l2: number, end: number, out: VlanStack): Status {
  out.count = 0;
  if (end - l2 < 14) return TRUNCATED;
  let type = u16(b, l2 + 12);
  let o = l2 + 14;
  while (etherType.isVlanTpid(type)) {
    if (out.count === MAX_TAGS) return TOO_MANY;
    if (end - o < HEADER_LEN) return TRUNCATED;
    out.tpid[out.count] = type;
    out.tci[out.count] = u16(b, o);
    out.count++;
    type = u16(b, o + TYPE);
    o += HEADER_LEN;
  }
  out.etherType = type;
  out.offset = o;
  return OK;
}
