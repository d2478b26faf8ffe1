// Flow key extraction, one pass over the headers (cf. OVS lib/flow.c miniflow_extract):
//   Ethernet (IEEE 802.3) → up to 2 VLAN tags (802.1Q 0x8100 / 802.1ad 0x88a8) → ARP (RFC 826) |
//   IPv4 (RFC 791) | IPv6 (RFC 8200, extension headers skipped) → TCP (RFC 9293) | UDP (RFC 768) |
//   SCTP (RFC 9260) | ICMPv4 (RFC 792) | ICMPv6 (RFC 4443) with ND target/options (RFC 4861 §4.3/4.4).
// Like OVS, a header that is truncated just ends the extraction: the fields found so far stay, the rest
// are zero, and the status says TRUNCATED (the caller counts it; the packet can still match L2 flows).
// Never reads outside [start, end); never allocates.
import type { Packet } from '../packet/packet.ts';
import { OK, type Status, TRUNCATED } from '../wire/status.ts';
import {
  ARP_OP,
  ARP_SHA,
  ARP_SPA,
  ARP_THA,
  ARP_TPA,
  DL_DST,
  DL_SRC,
  DL_TYPE,
  DL_TYPE_NONE,
  type FlowKey,
  FRAG_ANY,
  FRAG_LATER,
  ICMP_CODE,
  ICMP_TYPE,
  IN_PORT,
  IPV6_DST,
  IPV6_LABEL,
  IPV6_SRC,
  KEY_WORDS,
  ND_SLL,
  ND_TARGET,
  ND_TLL,
  NW_DST,
  NW_FRAG,
  NW_PROTO,
  NW_SRC,
  NW_TOS,
  NW_TTL,
  TCP_FLAGS,
  TP_DST,
  TP_SRC,
  TUN_DST,
  TUN_ENCAP,
  TUN_FLAGS,
  TUN_ID,
  TUN_IPV6_DST,
  TUN_IPV6_SRC,
  TUN_SRC,
  VLAN_CFI,
  VLAN_TCI,
  VLAN2_TCI,
} from './key.ts';

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** MAC at b[o..o+6) into key words w (high 16 bits), w+1 (low 32 bits). */
function mac(b: Uint8Array, o: number, k: FlowKey, w: number): void {
  k[w] = u16(b, o);
  k[w + 1] = u32(b, o + 2);
}

function ip6(b: Uint8Array, o: number, k: FlowKey, w: number): void {
  k[w] = u32(b, o);
  k[w + 1] = u32(b, o + 4);
  k[w + 2] = u32(b, o + 8);
  k[w + 3] = u32(b, o + 12);
}

/**
 * Fills `k` from packet `p`: in_port, tunnel metadata (p.tun*), then the headers of the frame that starts
 * at p.innerL2 when the packet was decapsulated in place (innerL2 >= 0), else at p.start. Sets the header
 * offsets it found: l2/l3/l4 for a plain frame, innerL3/innerL4 for an inner one (-1 when absent), so
 * actions can rewrite fields without parsing again. `clean`: words [clean, KEY_WORDS) of k are already 0
 * (the default, KEY_WORDS, assumes nothing).
 */
export function extractKey(p: Packet, k: FlowKey, clean: number = KEY_WORDS): Status {
  // Every word of [0, 33) (in_port, L2, IPv4, L4, tunnel metadata) is stored below, zeros included, as
  // straight-line code (measured on this VM: 25 such stores ≈ 6.5 ns, fill(0) of the whole key, a builtin
  // call, ≈ 16.6 ns, a 33-word loop ≈ 15.4 ns). The rest only when the caller can't vouch for it: the
  // datapath reuses one key, and its last extraction's shape says how far that one wrote (shapeEnd).
  if (clean > TUN_IPV6_DST + 4) k.fill(0, TUN_IPV6_DST + 4, clean);
  k[IN_PORT] = p.inPort >>> 0;
  // Without tunnel metadata, words 19..32 are all to be 0: already so when clean ≤ 19.
  if (p.tunEncap !== 0 || clean > TUN_ID) tunnelWords(p, k);
  const inner = p.innerL2 >= 0;
  const l2 = inner ? p.innerL2 : p.start;
  const b = p.buf;
  let st: Status = OK;
  if (ipv4Fast(b, p.view, l2, p.end, k)) {
    found.l3 = l2 + 14;
    found.l4 = l2 + 34;
  } else {
    zeroFrameWords(k);
    st = extractFrame(b, l2, p.end, k);
  }
  if (inner) {
    p.innerL3 = found.l3;
    p.innerL4 = found.l4;
  } else {
    p.l2 = l2;
    p.l3 = found.l3;
    p.l4 = found.l4;
  }
  return st;
}

/** Words 19..32: the tunnel metadata of p, zeros where it has none. */
function tunnelWords(p: Packet, k: FlowKey): void {
  if (p.tunEncap === 0) {
    k[TUN_ID] = 0;
    k[TUN_ID + 1] = 0;
    k[TUN_SRC] = 0;
    k[TUN_DST] = 0;
    k[TUN_FLAGS] = 0;
    k[TUN_ENCAP] = 0;
    zeroIpv6Tunnel(k);
    return;
  }
  k[TUN_ENCAP] = p.tunEncap;
  k[TUN_ID] = p.tunIdHi >>> 0;
  k[TUN_ID + 1] = p.tunIdLo >>> 0;
  k[TUN_FLAGS] = p.tunFlags & 0xffff;
  const v = p.tunIpVersion;
  k[TUN_SRC] = v === 4 ? p.tunView.getUint32(0) : 0;
  k[TUN_DST] = v === 4 ? p.tunView.getUint32(16) : 0;
  if (v === 6) {
    ip6(p.tunSrc, 0, k, TUN_IPV6_SRC);
    ip6(p.tunDst, 0, k, TUN_IPV6_DST);
  } else zeroIpv6Tunnel(k);
}

/** Words 25..32 (tun_ipv6_src, tun_ipv6_dst), straight-line (as extractKey: stores beat a loop here). */
function zeroIpv6Tunnel(k: FlowKey): void {
  k[TUN_IPV6_SRC] = 0;
  k[TUN_IPV6_SRC + 1] = 0;
  k[TUN_IPV6_SRC + 2] = 0;
  k[TUN_IPV6_SRC + 3] = 0;
  k[TUN_IPV6_DST] = 0;
  k[TUN_IPV6_DST + 1] = 0;
  k[TUN_IPV6_DST + 2] = 0;
  k[TUN_IPV6_DST + 3] = 0;
}

/**
 * Bytes from the L4 header of an untagged Ethernet / IPv4 (IHL 5) frame at o to the IP end: the total
 * length only ever shortens the frame (ipv4Fast; frame-snap.ts asks the same of the packets it matches).
 */
export function l4Room(v: DataView, o: number, end: number): number {
  const tot = v.getUint16(o + 16);
  const l3end = tot >= 20 && o + 14 + tot < end ? o + 14 + tot : end;
  return l3end - (o + 34);
}

/**
 * The common frame in one straight pass: untagged Ethernet, IPv4 without options, not a fragment, TCP /
 * UDP / SCTP / ICMP with the whole L4 header present. Writes every word 1..18 and returns true; false
 * (having written some) for anything else, which the general parser below then takes from scratch.
 * The same rules as ipv4() and l4(): the IPv4 total length only ever shortens what is read.
 */
function ipv4Fast(b: Uint8Array, v: DataView, o: number, end: number, k: FlowKey): boolean {
  if (end - o < 38 || v.getUint16(o + 12) !== 0x0800 || b[o + 14] !== 0x45) return false;
  if ((v.getUint16(o + 20) & 0x3fff) !== 0) return false;
  const proto = b[o + 23]!;
  const room = l4Room(v, o, end);
  const l4 = o + 34;
  if (proto === 6) {
    if (room < 20) return false;
    k[TP_SRC] = v.getUint16(l4);
    k[TP_DST] = v.getUint16(l4 + 2);
    k[TCP_FLAGS] = v.getUint16(l4 + 12) & 0x0fff;
    k[ICMP_TYPE] = 0;
    k[ICMP_CODE] = 0;
  } else if (proto === 17 || proto === 132) {
    if (room < 8) return false;
    k[TP_SRC] = v.getUint16(l4);
    k[TP_DST] = v.getUint16(l4 + 2);
    k[TCP_FLAGS] = 0;
    k[ICMP_TYPE] = 0;
    k[ICMP_CODE] = 0;
  } else if (proto === 1) {
    if (room < 4) return false;
    k[TP_SRC] = 0;
    k[TP_DST] = 0;
    k[TCP_FLAGS] = 0;
    k[ICMP_TYPE] = b[l4]!;
    k[ICMP_CODE] = b[l4 + 1]!;
  } else return false;
  k[DL_DST] = v.getUint16(o);
  k[DL_DST + 1] = v.getUint32(o + 2);
  k[DL_SRC] = v.getUint16(o + 6);
  k[DL_SRC + 1] = v.getUint32(o + 8);
  k[DL_TYPE] = 0x0800;
  k[VLAN_TCI] = 0;
  k[VLAN2_TCI] = 0;
  k[NW_SRC] = v.getUint32(o + 26);
  k[NW_DST] = v.getUint32(o + 30);
  k[NW_PROTO] = proto;
  k[NW_TOS] = b[o + 15]!;
  k[NW_TTL] = b[o + 22]!;
  k[NW_FRAG] = 0;
  return true;
}

function zeroFrameWords(k: FlowKey): void {
  k[1] = 0;
  k[2] = 0;
  k[3] = 0;
  k[4] = 0;
  k[5] = 0;
  k[6] = 0;
  k[7] = 0;
  k[8] = 0;
  k[9] = 0;
  k[10] = 0;
  k[11] = 0;
  k[12] = 0;
  k[13] = 0;
  k[14] = 0;
  k[15] = 0;
  k[16] = 0;
  k[17] = 0;
  k[18] = 0;
}

// Offsets found by the last extractFrame call (module scratch: extraction is synchronous and not
// reentrant, and this keeps the hot path free of result objects). Fields of one object, not module
// `let`s: those cost a context load and a hole check at every access.
const found = { l3: -1, l4: -1 };

/** Extracts the L2..L4 fields of the Ethernet frame in b[o, end) into k (which the caller zeroed). */
export function extractFrame(b: Uint8Array, o: number, end: number, k: FlowKey): Status {
  found.l3 = -1;
  found.l4 = -1;
  if (end - o < 14) return TRUNCATED;
  mac(b, o, k, DL_DST);
  mac(b, o + 6, k, DL_SRC);
  let t = u16(b, o + 12);
  o += 14;
  // Up to two VLAN tags; a third stays part of the payload (as OVS with FLOW_MAX_VLAN_HEADERS = 2).
  if (t === 0x8100 || t === 0x88a8) {
    if (end - o < 4) return TRUNCATED;
    k[VLAN_TCI] = u16(b, o) | VLAN_CFI;
    t = u16(b, o + 2);
    o += 4;
    if (t === 0x8100 || t === 0x88a8) {
      if (end - o < 4) return TRUNCATED;
      k[VLAN2_TCI] = u16(b, o) | VLAN_CFI;
      t = u16(b, o + 2);
      o += 4;
    }
  }
  // 802.3 length field: LLC/SNAP with OUI 0 carries an ethertype; anything else has none (OVS parse_ethertype).
  if (t < 0x600) {
    if (
      end - o >= 8 &&
      b[o] === 0xaa &&
      b[o + 1] === 0xaa &&
      b[o + 2] === 0x03 &&
      u16(b, o + 3) === 0 &&
      b[o + 5] === 0
    ) {
      t = u16(b, o + 6);
      o += 8;
    } else t = DL_TYPE_NONE;
  }
  k[DL_TYPE] = t;
  if (t === 0x0800) return ipv4(b, o, end, k);
  if (t === 0x86dd) return ipv6(b, o, end, k);
  if (t === 0x0806 || t === 0x8035) return arp(b, o, end, k);
  return OK;
}

function arp(b: Uint8Array, o: number, end: number, k: FlowKey): Status {
  if (end - o < 28) return TRUNCATED;
  found.l3 = o;
  // Only Ethernet/IPv4 ARP has fields we can name (OVS does the same check).
  if (u16(b, o) !== 1 || u16(b, o + 2) !== 0x0800 || b[o + 4] !== 6 || b[o + 5] !== 4) return OK;
  const op = u16(b, o + 6);
  // OVS keeps the opcode in the 8-bit nw_proto slot, so opcodes above 255 read as 0.
  k[ARP_OP] = op <= 0xff ? op : 0;
  mac(b, o + 8, k, ARP_SHA);
  k[ARP_SPA] = u32(b, o + 14);
  mac(b, o + 18, k, ARP_THA);
  k[ARP_TPA] = u32(b, o + 24);
  return OK;
}

function ipv4(b: Uint8Array, o: number, end: number, k: FlowKey): Status {
  if (end - o < 20) return TRUNCATED;
  const ihl = (b[o]! & 0x0f) * 4;
  if (b[o]! >> 4 !== 4 || ihl < 20 || end - o < ihl) return TRUNCATED;
  found.l3 = o;
  k[NW_TOS] = b[o + 1]!;
  k[NW_TTL] = b[o + 8]!;
  const proto = b[o + 9]!;
  k[NW_PROTO] = proto;
  k[NW_SRC] = u32(b, o + 12);
  k[NW_DST] = u32(b, o + 16);
  const frag = u16(b, o + 6);
  // MF = 0x2000, offset = low 13 bits: a later fragment has no L4 header to read.
  if (frag & 0x3fff) {
    k[NW_FRAG] = FRAG_ANY;
    if (frag & 0x1fff) {
      k[NW_FRAG] = FRAG_ANY | FRAG_LATER;
      return OK;
    }
  }
  // Trust the total length only to shorten the packet (Ethernet padding), never to read past end.
  const tot = u16(b, o + 2);
  const l3end = tot >= ihl && o + tot < end ? o + tot : end;
  return l4(b, o + ihl, l3end, k, proto, false);
}

function ipv6(b: Uint8Array, o: number, end: number, k: FlowKey): Status {
  if (end - o < 40) return TRUNCATED;
  found.l3 = o;
  const vtcfl = u32(b, o);
  k[NW_TOS] = (vtcfl >>> 20) & 0xff;
  k[IPV6_LABEL] = vtcfl & 0xfffff;
  k[NW_TTL] = b[o + 7]!;
  ip6(b, o + 8, k, IPV6_SRC);
  ip6(b, o + 24, k, IPV6_DST);
  const plen = u16(b, o + 4);
  const l3end = Math.min(o + 40 + plen, end);
  let nh = b[o + 6]!;
  o += 40;
  // Extension headers (RFC 8200 §4): hop-by-hop 0, routing 43, destination options 60 are 8*(len+1)
  // bytes; AH 51 is 4*(len+2); fragment 44 is 8 bytes. Bounded: at most 16 headers.
  for (let n = 0; n < 16; n++) {
    if (nh === 0 || nh === 43 || nh === 60 || nh === 51) {
      if (l3end - o < 8) return TRUNCATED;
      const len = nh === 51 ? (b[o + 1]! + 2) * 4 : (b[o + 1]! + 1) * 8;
      if (l3end - o < len) return TRUNCATED;
      nh = b[o]!;
      o += len;
    } else if (nh === 44) {
      if (l3end - o < 8) return TRUNCATED;
      const off = u16(b, o + 2);
      nh = b[o]!;
      o += 8;
      // An atomic fragment (offset 0, M clear) is not a fragment for matching (RFC 6946; OVS agrees).
      if (off & 0xfff9) {
        k[NW_FRAG] = FRAG_ANY;
        if (off & 0xfff8) {
          k[NW_FRAG] = FRAG_ANY | FRAG_LATER;
          k[NW_PROTO] = nh;
          return OK;
        }
      }
    } else break;
  }
  k[NW_PROTO] = nh;
  return l4(b, o, l3end, k, nh, true);
}

function l4(b: Uint8Array, o: number, end: number, k: FlowKey, proto: number, v6: boolean): Status {
  if (proto === 6) {
    if (end - o < 20) return TRUNCATED;
    found.l4 = o;
    k[TP_SRC] = u16(b, o);
    k[TP_DST] = u16(b, o + 2);
    k[TCP_FLAGS] = u16(b, o + 12) & 0x0fff;
  } else if (proto === 17 || proto === 132) {
    if (end - o < 8) return TRUNCATED;
    found.l4 = o;
    k[TP_SRC] = u16(b, o);
    k[TP_DST] = u16(b, o + 2);
  } else if ((proto === 1 && !v6) || (proto === 58 && v6)) {
    if (end - o < 4) return TRUNCATED;
    found.l4 = o;
    const type = b[o]!;
    k[ICMP_TYPE] = type;
    k[ICMP_CODE] = b[o + 1]!;
    if (v6 && (type === 135 || type === 136) && b[o + 1] === 0) return nd(b, o, end, k, type);
  }
  return OK;
}

/** Neighbor Solicitation (135) / Advertisement (136): target, then SLL (1) / TLL (2) options. */
function nd(b: Uint8Array, o: number, end: number, k: FlowKey, type: number): Status {
  if (end - o < 24) return TRUNCATED;
  ip6(b, o + 8, k, ND_TARGET);
  o += 24;
  while (end - o >= 8) {
    const ot = b[o]!;
    const len = b[o + 1]! * 8;
    // A zero-length option is invalid (RFC 4861 §4.6) and would loop forever: OVS drops the ND fields.
    if (len === 0 || end - o < len) {
      for (let i = 0; i < 4; i++) k[ND_TARGET + i] = 0;
      k[ND_SLL] = k[ND_SLL + 1] = k[ND_TLL] = k[ND_TLL + 1] = 0;
      return TRUNCATED;
    }
    if (len === 8) {
      if (ot === 1 && type === 135 && k[ND_SLL] === 0 && k[ND_SLL + 1] === 0) mac(b, o + 2, k, ND_SLL);
      else if (ot === 2 && type === 136 && k[ND_TLL] === 0 && k[ND_TLL + 1] === 0) mac(b, o + 2, k, ND_TLL);
    }
    o += len;
  }
  return OK;
}
