// VXLAN-SOE receive, draft-zhou-li-vxlan-soe-01 §3 (reference/encapsulations.md §3.4): reassemble the
// outer IPv4 datagram, decapsulate, and hand the guest ONE big frame carrying the sender's MSS.
//
//   outer IPv4 fragment  → ipv4-reassemble.ts (bounded; its counters say why fragments went)
//   outer UDP            length checked; a non-zero checksum verified unless the port vouched
//                        (CSUM_VALID); RFC 7348 allows 0
//   VXLAN-SOE header     wire/vxlan-soe.ts: I clear → drop; S with MSS 0, or MSS bytes without S → drop
//   S = 0                plain VXLAN: the inner frame goes on as is
//   S = 1                "SHALL NOT apply the MTU check": the inner frame becomes a SUPERFRAME with
//                        gsoSize = MSS and gsoType from the inner headers (virtio numbering):
//                          TCP over IPv4 → TCPV4, over IPv6 → TCPV6: the inner TCP checksum (completed by
//                          the sender, soe-tx.ts) is verified, then re-seeded as a partial checksum
//                          (NEEDS_CSUM, pseudo-header over the whole TCP length, csumOffset 16) as a
//                          virtio/TSO consumer expects;
//                          UDP → GSO_UDP (UFO: the MSS is IP payload per fragment, Linux's convention,
//                          which SOE adopts); the checksum covers the whole datagram and stays valid.
//                        A frame whose payload already fits the MSS is delivered as a normal frame.
// Tunnel metadata: tunEncap VXLAN_SOE, tunIdLo = VNI, outer addresses, ports, TOS, TTL.
// Output: `out` is the inner frame ([start, end), l2/l3/l4 of the inner headers). It is the caller's
// own packet (result FRAME) or a reassembly buffer (result DONE, give it back with release()).
import { Counters } from '../packet/counters.ts';
import {
  CSUM_VALID,
  ENCAP_VXLAN_SOE,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import { setU16 } from '../wire/bytes.ts';
import { fold } from '../wire/checksum.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { OK } from '../wire/status.ts';
import * as udp from '../wire/udp.ts';
import * as soe from '../wire/vxlan-soe.ts';
import { l4ChecksumOk, pseudoFor } from './csum-complete.ts';
import { newLayout, parseFrame } from './frame-layout.ts';
import { DONE, DROP, HELD, Ipv4Reassembler } from './ipv4-reassemble.ts';

export { DONE, DROP, HELD };
export const FRAME = 4;

const IN = 0;
const OUT = 1;
const OUT_SUPER = 2;
const D_MALFORMED = 3;
const D_BAD_UDP_CSUM = 4;
const D_BAD_HEADER = 5;
const D_INNER_MALFORMED = 6;
const D_INNER_BAD_CSUM = 7;
const D_INNER_UNSUPPORTED = 8;
const NAMES = [
  'in-soe-datagram',
  'out-soe-frame',
  'out-soe-superframe',
  'drop-soe-malformed',
  'drop-soe-bad-udp-checksum',
  'drop-soe-bad-header',
  'drop-soe-inner-malformed',
  'drop-soe-inner-bad-checksum',
  'drop-soe-inner-unsupported',
];

export class SoeReceiver {
  readonly reassembler: Ipv4Reassembler;
  readonly counters = new Counters(NAMES);
  out: Packet | null = null;
  lastDrop = -1;
  private readonly repr = soe.newRepr();
  private readonly lay = newLayout();

  constructor(reassembler: Ipv4Reassembler = new Ipv4Reassembler()) {
    this.reassembler = reassembler;
  }

  private drop(id: number): number {
    this.counters.v[id]!++;
    this.lastDrop = id;
    return DROP;
  }

  /** `pkt.l3` is the outer IPv4 header of a datagram to the SOE port. */
  process(pkt: Packet, now: number): number {
    this.out = null;
    const b = pkt.buf;
    if (pkt.l3 < pkt.start || ipv4.check(b, pkt.l3, pkt.end) !== OK) return this.drop(D_MALFORMED);
    let p = pkt;
    let result = FRAME;
    if (ipv4.isFragment(b, pkt.l3)) {
      const r = this.reassembler.process(pkt, now);
      if (r !== DONE) return r; // HELD or DROP (counted by the reassembler)
      p = this.reassembler.out!;
      result = DONE;
    }
    const st = this.decap(p);
    if (st !== OK) {
      if (result === DONE) this.reassembler.release(p);
      return this.drop(st);
    }
    this.out = p;
    return result;
  }

  /** Returns OK or a counter id. */
  private decap(p: Packet): number {
    const v = this.counters.v;
    v[IN]!++;
    const b = p.buf;
    const l3 = p.l3;
    const l4 = l3 + ipv4.headerLen(b, l3);
    const ipEnd = l3 + ipv4.totalLen(b, l3);
    if (ipv4.protocol(b, l3) !== 17 || udp.check(b, l4, ipEnd) !== OK) return D_MALFORMED;
    const udpEnd = l4 + udp.length(b, l4);
    if ((p.flags & CSUM_VALID) === 0 && udp.verifyChecksum(b, l3, l4) !== OK) return D_BAD_UDP_CSUM;
    const vx = l4 + 8;
    const r = this.repr;
    if (soe.parse(b, vx, udpEnd, r) !== OK) return D_BAD_HEADER;
    const inner = vx + soe.HEADER_LEN;
    p.tunEncap = ENCAP_VXLAN_SOE;
    p.tunIdHi = 0;
    p.tunIdLo = r.vni;
    p.tunIpVersion = 4;
    for (let i = 0; i < 4; i++) {
      p.tunSrc[i] = b[l3 + 12 + i]!;
      p.tunDst[i] = b[l3 + 16 + i]!;
    }
    p.tunTos = b[l3 + 1]!;
    p.tunTtl = b[l3 + 8]!;
    p.tunSrcPort = udp.srcPort(b, l4);
    p.tunDstPort = udp.dstPort(b, l4);
    p.start = inner;
    p.end = udpEnd;
    p.l2 = inner;
    p.l3 = p.l4 = p.innerL2 = p.innerL3 = p.innerL4 = -1;
    p.flags &= ~(SUPERFRAME | NEEDS_CSUM | CSUM_VALID);
    p.gsoType = GSO_NONE;
    p.gsoSize = 0;
    const lay = this.lay;
    const st = parseFrame(b, inner, udpEnd, lay);
    if (st === OK) {
      p.l3 = lay.l3;
      p.l4 = lay.l4;
    }
    if (!r.soe) {
      v[OUT]!++;
      return OK;
    }
    if (st !== OK) return D_INNER_MALFORMED;
    const proto = lay.l4Proto;
    if (proto !== 6 && proto !== 17) return D_INNER_UNSUPPORTED;
    if (!l4ChecksumOk(b, lay.l3, lay.l4, proto, lay.ipEnd)) return D_INNER_BAD_CSUM;
    // TCP: payload per segment is the MSS; UDP (UFO): IP payload per fragment is the MSS.
    const payload = proto === 6 ? lay.ipEnd - lay.payload : lay.ipEnd - lay.l4;
    v[OUT]!++;
    if (payload <= r.mss) {
      p.flags |= CSUM_VALID;
      return OK;
    }
    p.flags |= SUPERFRAME;
    p.gsoSize = r.mss;
    if (proto === 6) {
      p.gsoType = lay.ipVersion === 4 ? GSO_TCPV4 : GSO_TCPV6;
      const l4len = lay.ipEnd - lay.l4;
      setU16(b, lay.l4 + 16, fold(pseudoFor(b, lay.l3, 6, l4len)));
      p.flags |= NEEDS_CSUM;
      p.csumStart = lay.l4;
      p.csumOffset = 16;
    } else {
      p.gsoType = GSO_UDP;
      p.flags |= CSUM_VALID;
    }
    v[OUT_SUPER]!++;
    return OK;
  }

  /** Gives back a DONE output (a reassembly buffer). */
  release(p: Packet): void {
    this.reassembler.release(p);
  }
}
