// The previous fast-decapsulated packet of a receive batch, recognised by its outer header words
// (underlay-input.ts receiveUnderlay): a packet that repeats it decapsulates to the same Decap
// (decap-fast.ts decapUdpTunnel4) and gets the same GRO answer (Coalescer.passesDecapped), so neither
// runs again. A burst from one tunnel peer is mostly one outer flow; VPP's vxlan4-input keeps its last
// tunnel lookup the same way. On the datapath bench the two cost ≈ 20 ns of a decapsulated packet's ≈ 103.
//
// Words read at o = p.start; the packet's start and end must be the previous packet's, so every offset
// the Decap holds (l3, l4, inner, innerEnd…) is this packet's too:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-------------------------------+-------------------------------+
//   |  ethertype 0x0800             |  (o+12, 16 bits)                 et    all
//   |0x45           | TOS           |  total length                 |  o+14  w0    all
//   |  identification               |R|D|M| fragment offset         |  o+18  w1    0x0000ffff (ID: see below)
//   |  TTL          | protocol      |  header checksum              |  o+22  w2    0xffff0000 (checksum: below)
//   |  source address                                               |  o+26  w3    all
//   |  destination address                                          |  o+30  w4    all
//   |  UDP source port              |  UDP destination port         |  o+34  u0    all
//   |  UDP length                   |  UDP checksum                 |  o+38  u1    0xffff0000, or all
//   |  VXLAN flags / Geneve ver,len |  …                            |  o+42  h0    all
//   |  VNI                                          |  reserved     |  o+46  h1    all
//   +-------------------------------+-------------------------------+
//   inner frame at i = d.inner (o+50):
//   |  inner ethertype              |  version, IHL |  (TOS)        |  i+12  g0    0xffffff00
//   |R|D|M| fragment offset         |  (TTL)        |  protocol     |  i+20  g1    0x3fff00ff
//
// The ID and the header checksum change packet to packet. The header is valid when its ten 16-bit
// halves sum to 0 mod 0xffff (RFC 1071; decap-fast's test, the sum being > 0). The other eight halves
// equal the previous packet's, whose sum passed, so this one passes exactly when
// (ID + checksum) mod 0xffff equals the previous packet's: one add and one remainder instead of the sum.
// The UDP checksum covers the payload: a packet whose checksum must be verified is never taken (the
// flags, which decide that, must repeat too), otherwise the checksum half is masked out.
// g0 and g1 are what passesDecapped reads of the inner frame (an untagged IPv4 header without options,
// not a fragment, and its protocol); the rest of its answer depends on the outer words, the end and the
// packet's offload flags, all compared. decap-repeat.test.ts checks against decapUdpTunnel4 and
// passesDecapped on random packets.
import type { Packet } from '../packet/packet.ts';
import type { Decap } from '../tunnel/decap-frame.ts';

/** decap-fast's inner frame: 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 8 (VXLAN, or Geneve without options). */
const INNER = 50;

export class DecapRepeat {
  /** take() ran on this batch's previous fast packet and nothing cleared it since. */
  valid = false;
  private start = 0;
  private end = 0;
  private flags = 0;
  private gsoType = 0;
  private et = 0;
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private w3 = 0;
  private w4 = 0;
  private u0 = 0;
  private u1 = 0;
  private m1 = 0;
  private h0 = 0;
  private h1 = 0;
  private g0 = 0;
  private g1 = 0;
  /** (ID + header checksum) mod 0xffff. */
  private idSum = 0;

  /**
   * Remembers p, which decapUdpTunnel4 took (filling d) and GRO let pass; `verified`: its UDP checksum,
   * if any, was checked (then the next packet's would need checking too, and p is not remembered).
   */
  take(p: Packet, d: Decap, verified: boolean): void {
    const v = p.view;
    const o = p.start;
    const u1 = v.getInt32(o + 38);
    // A verified non-zero UDP checksum covers a payload the next packet does not share; an inner frame
    // shorter than the IPv4 header that g0 and g1 read would make them bytes past the end.
    this.valid = !(verified && (u1 & 0xffff) !== 0) && d.inner === o + INNER && p.end - d.inner >= 14 + 20;
    if (!this.valid) return;
    this.start = o;
    this.end = p.end;
    this.flags = p.flags;
    this.gsoType = p.gsoType;
    this.et = v.getUint16(o + 12);
    this.w0 = v.getInt32(o + 14);
    const w1 = v.getInt32(o + 18);
    this.w1 = w1 & 0xffff;
    const w2 = v.getInt32(o + 22);
    this.w2 = w2 & 0xffff0000;
    this.w3 = v.getInt32(o + 26);
    this.w4 = v.getInt32(o + 30);
    this.u0 = v.getInt32(o + 34);
    this.m1 = verified ? -1 : 0xffff0000 | 0;
    this.u1 = u1 & this.m1;
    this.h0 = v.getInt32(o + 42);
    this.h1 = v.getInt32(o + 46);
    this.g0 = v.getInt32(o + INNER + 12) & 0xffffff00;
    this.g1 = v.getInt32(o + INNER + 20) & 0x3fff00ff;
    this.idSum = ((w1 >>> 16) + (w2 & 0xffff)) % 0xffff;
  }

  /** True when p repeats the remembered packet (see the top of the file). Call only while `valid`. */
  matches(p: Packet): boolean {
    const o = p.start;
    if (o !== this.start || p.end !== this.end || p.flags !== this.flags || p.gsoType !== this.gsoType)
      return false;
    const v = p.view;
    // What differs most between outer flows first: the UDP source port (the inner flow's hash), then
    // the addresses.
    if (v.getInt32(o + 34) !== this.u0 || v.getInt32(o + 26) !== this.w3 || v.getInt32(o + 30) !== this.w4)
      return false;
    if (v.getInt32(o + 46) !== this.h1 || v.getInt32(o + 42) !== this.h0 || v.getInt32(o + 14) !== this.w0)
      return false;
    const w1 = v.getInt32(o + 18);
    const w2 = v.getInt32(o + 22);
    if ((w1 & 0xffff) !== this.w1 || (w2 & 0xffff0000) !== this.w2 || v.getUint16(o + 12) !== this.et)
      return false;
    if ((v.getInt32(o + 38) & this.m1) !== this.u1) return false;
    if (((w1 >>> 16) + (w2 & 0xffff)) % 0xffff !== this.idSum) return false;
    const i = o + INNER;
    return (v.getInt32(i + 12) & 0xffffff00) === this.g0 && (v.getInt32(i + 20) & 0x3fff00ff) === this.g1;
  }
}
