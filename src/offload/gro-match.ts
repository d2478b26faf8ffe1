// The two questions GRO asks of a new packet and a held aggregate (encapsulations.md §7.2, §9):
//   sameFlow — is it the same flow at all? (No: the aggregate stays held, the packet goes its own way.)
//   mergeBlocker — same flow, but may it join? (No: the aggregate is delivered, by the reason returned.)
// Headers are described by a GroView of offsets relative to the packet start, so the held side works
// the same whether it is still the first packet or already the superframe copy of it.
//
// Linux conditions, by header (tcp_gro_receive, inet_gro_receive/inet_gro_flush, ipv6_gro_receive,
// udp_gro_receive, vxlan/geneve_gro_receive):
//   flow identity: L2 header bytes; IPv4 src, dst, protocol (IPv6: src, dst, next header, flow label);
//     TCP ports; tunnels also: outer L2, outer addresses, UDP ports, outer UDP checksum zero/non-zero,
//     tunnel header bytes, inner L2.
//   merge blockers: TCP flag word (doff, flags, window) differing except CWR/FIN/PSH; CWR set; ACK
//     number; option bytes; IPv4 TTL/TOS/DF (IPv6 traffic class/hop limit); IPv4 ID neither ID₀+count
//     nor fixed (fixed decided on the 2nd packet: DF and same ID); outer IPv4 the same, except that an
//     outer header with DF set has its ID ignored (inet_gro_flush, outer); seq ≠ expected; payload > MSS.
import { u16, u32 } from '../wire/bytes.ts';
import { TCP_CWR, TCP_FIN, TCP_PSH } from './frame-layout.ts';
import * as r from './gro-reasons.ts';

export interface GroView {
  tunnel: boolean;
  oL3: number; //   outer IP (tunnel only)
  oL4: number; //   outer UDP
  oIpV: number;
  at: number; //    inner frame start (tunnel only; = iL3 when the inner has no Ethernet)
  iL3: number; //   the TCP flow's IP header
  iL4: number;
  iPay: number;
  iIpV: number;
  payloadLen: number;
}

export function newView(): GroView {
  return { tunnel: false, oL3: 0, oL4: 0, oIpV: 0, at: 0, iL3: 0, iL4: 0, iPay: 0, iIpV: 0, payloadLen: 0 };
}

export function copyView(from: GroView, to: GroView): void {
  to.tunnel = from.tunnel;
  to.oL3 = from.oL3;
  to.oL4 = from.oL4;
  to.oIpV = from.oIpV;
  to.at = from.at;
  to.iL3 = from.iL3;
  to.iL4 = from.iL4;
  to.iPay = from.iPay;
  to.iIpV = from.iIpV;
  to.payloadLen = from.payloadLen;
}

function eq(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

function ipKeyEq(a: Uint8Array, ia: number, b: Uint8Array, ib: number, v: number): boolean {
  if (v === 4) return a[ia + 9] === b[ib + 9] && eq(a, ia + 12, b, ib + 12, 8);
  // Next header, flow label (low 20 bits of word 0), addresses.
  return (
    a[ia + 6] === b[ib + 6] && ((u32(a, ia) ^ u32(b, ib)) & 0xfffff) === 0 && eq(a, ia + 8, b, ib + 8, 32)
  );
}

export function sameFlow(
  a: Uint8Array,
  sa: number,
  A: GroView,
  b: Uint8Array,
  sb: number,
  B: GroView,
): boolean {
  if (A.tunnel !== B.tunnel || A.iIpV !== B.iIpV) return false;
  const firstL3 = A.tunnel ? A.oL3 : A.iL3;
  if (firstL3 !== (B.tunnel ? B.oL3 : B.iL3) || !eq(a, sa, b, sb, firstL3)) return false;
  if (A.tunnel) {
    if (A.oIpV !== B.oIpV || A.at !== B.at || A.iL3 !== B.iL3) return false;
    if (!ipKeyEq(a, sa + A.oL3, b, sb + B.oL3, A.oIpV)) return false;
    const ua = sa + A.oL4;
    const ub = sb + B.oL4;
    if (!eq(a, ua, b, ub, 4)) return false;
    if ((u16(a, ua + 6) === 0) !== (u16(b, ub + 6) === 0)) return false;
    // Tunnel header and inner Ethernet: [outer UDP + 8, inner IP).
    if (!eq(a, ua + 8, b, ub + 8, A.iL3 - A.oL4 - 8)) return false;
  }
  if (!ipKeyEq(a, sa + A.iL3, b, sb + B.iL3, A.iIpV)) return false;
  return eq(a, sa + A.iL4, b, sb + B.iL4, 4);
}

/** IPv4 TTL/TOS/DF or IPv6 traffic class/hop limit differ. */
function ipFieldsDiffer(a: Uint8Array, ia: number, b: Uint8Array, ib: number, v: number): boolean {
  if (v === 4)
    return a[ia + 8] !== b[ib + 8] || a[ia + 1] !== b[ib + 1] || ((a[ia + 6]! ^ b[ib + 6]!) & 0x40) !== 0;
  return ((u32(a, ia) ^ u32(b, ib)) & 0x0ff00000) !== 0 || a[ia + 7] !== b[ib + 7];
}

/** Aggregate state the ID rule needs. */
export interface IdState {
  count: number;
  fixedId: boolean; //     inner IPv4 ID constant (DF set, decided on the 2nd packet)
  outerFixedId: boolean;
}

/** -1 when B may join A (held, `count` packets so far); else the FLUSH_* reason. */
export function mergeBlocker(
  a: Uint8Array,
  sa: number,
  A: GroView,
  b: Uint8Array,
  sb: number,
  B: GroView,
  st: IdState,
): number {
  const ta = sa + A.iL4;
  const tb = sb + B.iL4;
  const flagsB = b[tb + 13]!;
  if ((flagsB & TCP_CWR) !== 0) return r.FLUSH_CWR;
  const ignore = ((TCP_CWR | TCP_FIN | TCP_PSH) << 16) >>> 0;
  if (((u32(a, ta + 12) ^ u32(b, tb + 12)) & ~ignore) !== 0) return r.FLUSH_FLAGS;
  if (u32(a, ta + 8) !== u32(b, tb + 8)) return r.FLUSH_ACK;
  if (!eq(a, ta + 20, b, tb + 20, A.iPay - A.iL4 - 20)) return r.FLUSH_OPTIONS;
  const ia = sa + A.iL3;
  const ib = sb + B.iL3;
  if (ipFieldsDiffer(a, ia, b, ib, A.iIpV)) return r.FLUSH_IP;
  if (A.iIpV === 4 && !idOk(a, ia, b, ib, st.count, st.fixedId)) return r.FLUSH_IP_ID;
  if (A.tunnel) {
    const oa = sa + A.oL3;
    const ob = sb + B.oL3;
    if (ipFieldsDiffer(a, oa, b, ob, A.oIpV)) return r.FLUSH_OUTER_IP;
    // Outer IPv4 with DF: ID ignored (inet_gro_flush, outer); without DF it must increment.
    if (A.oIpV === 4 && (b[ob + 6]! & 0x40) === 0 && !idOk(a, oa, b, ob, st.count, false))
      return r.FLUSH_OUTER_IP;
  }
  return -1;
}

function idOk(a: Uint8Array, ia: number, b: Uint8Array, ib: number, count: number, fixed: boolean): boolean {
  const offset = (u16(b, ib + 4) - u16(a, ia + 4)) & 0xffff;
  return offset === (fixed ? 0 : count & 0xffff);
}

/** Decided when the 2nd packet joins (count 1): DF set and the same ID → a fixed-ID ("atomic") flow. */
export function startsFixedId(a: Uint8Array, ia: number, b: Uint8Array, ib: number): boolean {
  return (b[ib + 6]! & 0x40) !== 0 && u16(a, ia + 4) === u16(b, ib + 4);
}
