// TCP GRO: coalesces in-order MTU segments of a flow into one superframe (plain TCP, or TCP inside
// VXLAN / VXLAN-GPE / Geneve — see tunnel-gro.ts for why the result stays encapsulated). The result has
// the first packet's headers, the payloads concatenated, PSH/FIN seen OR-ed in, IP lengths and IPv4
// header checksums fixed, the TCP checksum left partial (pseudo-header seeded, NEEDS_CSUM, csumStart =
// TCP header, csumOffset 16), gsoType TCPV4/TCPV6 (| 0x20/0x40 when encapsulated over IPv4/IPv6),
// gsoSize = the first packet's payload (the MSS), SUPERFRAME — what Linux tcp_gro_complete produces and
// what a TAP with IFF_VNET_HDR takes (encapsulations.md §9, §10).
//
//   const gro = new Coalescer({ superPool });     // merged-away inputs go back to p.owner
//   for (const p of batch) gro.receive(p, out);   // each packet: held, merged (freed), or pushed on out
//   gro.flush(out);                               // end of the batch (NAPI poll end)
//
// Held aggregates: at most `maxFlows` (Linux MAX_GRO_SKBS = 8 per bucket); a new flow beyond that
// delivers the oldest. A flow's first packet is held as it is; the second allocates a superframe slot and
// both are copied in (an aggregate of one is delivered untouched). `out` needs room for the input batch
// plus maxFlows. Checksums are verified in software unless the packet carries CSUM_VALID.
// Flush conditions and their counters: gro-reasons.ts; merge rules: gro-match.ts.

import type { Batch } from '../packet/batch.ts';
import { Counters } from '../packet/counters.ts';
import {
  CSUM_VALID,
  ENCAP_GENEVE,
  ENCAP_NONE,
  ENCAP_VXLAN,
  FIXED_ID,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { setU16, u16, u32 } from '../wire/bytes.ts';
import { fold, sum } from '../wire/checksum.ts';
import * as et from '../wire/ether-type.ts';
import * as ipp from '../wire/ip-proto.ts';
import { OK } from '../wire/status.ts';
import { l4ChecksumOk, lcoOuterUdp, pseudoFor, setIpv4Checksum } from './csum-complete.ts';
import { copyBytes } from './csum-fast.ts';
import {
  type Layout,
  newLayout,
  parseFrame,
  parseIp,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
} from './frame-layout.ts';
import {
  copyView,
  type GroView,
  type IdState,
  mergeBlocker,
  newView,
  sameFlow,
  startsFixedId,
} from './gro-match.ts';
import * as r from './gro-reasons.ts';
import { groTunnel, type InnerStart, NOT_TUNNEL, TUNNEL_OK, TunnelPorts } from './tunnel-gro.ts';
import { GSO_UDP_TUNNEL_IPV4, GSO_UDP_TUNNEL_IPV6 } from './tunnel-gso.ts';

const END_FLAGS = TCP_URG | TCP_PSH | TCP_RST | TCP_SYN | TCP_FIN;
/** IPv4 total length / IPv6 payload length limit (Linux gro_max_size 65536 without BIG TCP). */
const MAX_IP_LEN = 65535;

export interface CoalescerOptions {
  /** Slots for the superframes (SUPER_SLOT size). */
  superPool: Pool;
  /** Gives back an input packet whose payload was copied into an aggregate. Default: `p.owner.free(p)`. */
  free?: (p: Packet) => void;
  maxFlows?: number;
  tunnelPorts?: TunnelPorts;
}

interface Held extends IdState {
  pkt: Packet | null;
  view: GroView;
  mss: number;
  nextSeq: number;
  seen: number; //   PSH/FIN of merged packets
  born: number; //   caller's clock at the first packet
  order: number; //  arrival order of the first packet (eviction picks the smallest)
  isSuper: boolean;
}

export class Coalescer {
  readonly counters = new Counters(r.GRO_COUNTER_NAMES);
  private readonly superPool: Pool;
  private readonly free: (p: Packet) => void;
  private readonly ports: TunnelPorts;
  private readonly held: Held[];
  private readonly outer: Layout = newLayout();
  private readonly inner: Layout = newLayout();
  private readonly start: InnerStart = { at: 0, type: 0 };
  private readonly view: GroView = newView();
  private arrivals = 0;
  /** Set by classify: the frame is longer than its IP datagram (Ethernet padding). */
  private padded = false;

  constructor(opts: CoalescerOptions) {
    this.superPool = opts.superPool;
    this.free = opts.free ?? freeToOwner;
    this.ports = opts.tunnelPorts ?? new TunnelPorts();
    this.held = [];
    for (let i = 0; i < (opts.maxFlows ?? 8); i++) {
      this.held.push({
        pkt: null,
        view: newView(),
        mss: 0,
        nextSeq: 0,
        seen: 0,
        born: 0,
        order: 0,
        isSuper: false,
        count: 0,
        fixedId: false,
        outerFixedId: false,
      });
    }
  }

  /** Takes ownership of p: it ends up held, merged (and freed), or pushed onto out. */
  receive(p: Packet, out: Batch, now = 0): void {
    const c = this.counters.v;
    c[r.IN]!++;
    const why = this.quickNotTcp(p) ? r.PASS_NOT_TCP : this.classify(p);
    const v = this.view;
    if (why >= 0) {
      c[why]!++;
      this.emit(p, out);
      return;
    }
    const b = p.buf;
    const tcp = p.start + v.iL4;
    const flags = b[tcp + 13]!;
    const held = this.held;
    let h: Held | null = null;
    for (let i = 0; i < held.length; i++) {
      const x = held[i]!;
      if (x.pkt !== null && sameFlow(x.pkt.buf, x.pkt.start, x.view, b, p.start, v)) {
        h = x;
        break;
      }
    }
    if (this.padded) {
      if (h !== null) {
        c[r.FLUSH_PADDING]!++;
        this.deliver(h, out);
      }
      c[r.PASS_PADDING]!++;
      this.emit(p, out);
      return;
    }
    const len = v.payloadLen;
    if (h !== null) {
      const hp = h.pkt!;
      if (h.count === 1 && v.iIpV === 4)
        h.fixedId = startsFixedId(hp.buf, hp.start + h.view.iL3, b, p.start + v.iL3);
      let block = mergeBlocker(hp.buf, hp.start, h.view, b, p.start, v, h);
      if (block < 0 && u32(b, tcp + 4) !== h.nextSeq) block = r.FLUSH_SEQ;
      if (block < 0 && (len === 0 || len > h.mss)) block = r.FLUSH_MSS;
      const firstL3 = h.view.tunnel ? h.view.oL3 : h.view.iL3;
      if (block < 0 && hp.end - hp.start - firstL3 + len > MAX_IP_LEN) block = r.FLUSH_SIZE;
      if (block < 0 && !this.merge(h, p)) block = r.FLUSH_NO_BUFFERS;
      if (block < 0) {
        c[r.MERGED]!++;
        h.seen |= flags & (TCP_PSH | TCP_FIN);
        if ((flags & END_FLAGS) !== 0 || len < h.mss) {
          c[r.FLUSH_END]!++;
          this.deliver(h, out);
        }
        return;
      }
      c[block]!++;
      this.deliver(h, out);
    }
    if (len === 0) {
      c[r.PASS_NO_PAYLOAD]!++;
      this.emit(p, out);
      return;
    }
    if ((flags & END_FLAGS) !== 0) {
      c[r.PASS_FLAGS]!++;
      this.emit(p, out);
      return;
    }
    this.hold(p, out, now);
  }

  /**
   * True when p is one GRO passes on untouched (quickNotTcp). With nothing held (between batches),
   * such a packet may go on without receive(): the caller runs GRO only from the first packet for
   * which this is false (datapath/underlay-input.ts), and counts the others with countPassed(n).
   */
  passes(p: Packet): boolean {
    return this.quickNotTcp(p);
  }

  /**
   * passes(p) for a frame decap-fast.ts accepted (untagged IPv4 without options, not a fragment, UDP
   * with a length that holds the tunnel header and an inner Ethernet header at `inner`): the outer
   * checks quickNotTcp would repeat are known to hold, so only the port, the VXLAN I flag and the inner
   * IPv4 header are read. Same answer.
   */
  passesDecapped(p: Packet, inner: number): boolean {
    if ((p.flags & SUPERFRAME) !== 0 || p.gsoType !== GSO_NONE) return false;
    const b = p.buf;
    const o = p.start;
    const v = p.view;
    const kind = this.ports.kind[v.getUint16(o + 36)]!;
    if (kind === ENCAP_VXLAN) {
      // quickNotTcp's VXLAN case: its inner frame (o + 50) is `inner`, and it starts before the IP end.
      if ((b[o + 42]! & 0x08) === 0 || !plainIpv4v(v, inner, p.end) || b[inner + 23] === ipp.TCP)
        return false;
    } else if (kind === ENCAP_GENEVE && v.getUint32(o + 42) === GENEVE_PLAIN) {
      // groTunnel's Geneve case for version 0, no options, O clear, protocol 0x6558: inner at o + 50.
      if (!plainIpv4v(v, inner, p.end) || b[inner + 23] === ipp.TCP) return false;
    } else if (kind !== ENCAP_NONE) return this.quickNotTcp(p);
    return true;
  }

  /** Counts n packets that passes()/passesDecapped() let go on, as receive() would have counted them. */
  countPassed(n: number): void {
    const c = this.counters.v;
    c[r.IN]! += n;
    c[r.PASS_NOT_TCP]! += n;
    c[r.OUT_SINGLE]! += n;
  }

  /** Delivers every held aggregate (end of the receive batch). */
  flush(out: Batch): void {
    for (let i = 0; i < this.held.length; i++) {
      const h = this.held[i]!;
      if (h.pkt === null) continue;
      this.counters.v[r.FLUSH_BATCH_END]!++;
      this.deliver(h, out);
    }
  }

  /** Delivers aggregates whose first packet came at or before now − maxAge (gro_flush_timeout). */
  flushOlder(now: number, maxAge: number, out: Batch): void {
    for (let i = 0; i < this.held.length; i++) {
      const h = this.held[i]!;
      if (h.pkt === null || now - h.born < maxAge) continue;
      this.counters.v[r.FLUSH_TIMER]!++;
      this.deliver(h, out);
    }
  }

  get heldCount(): number {
    let n = 0;
    for (const h of this.held) if (h.pkt !== null) n++;
    return n;
  }

  /**
   * True for the common frames that certainly carry no TCP, read from a few fixed offsets: untagged
   * IPv4 without options and not a fragment, carrying neither TCP nor UDP, or UDP to no tunnel port,
   * or a tunnel (as groTunnel accepts it) whose inner untagged Ethernet + IPv4 carries no TCP. Saves the
   * two full header walks classify makes (decap-emc/64 with UDP inside VXLAN: see bench/datapath).
   * Unlike classify it does not check lengths, so a truncated non-TCP frame counts as not-TCP rather
   * than unparsed: it passes untouched either way, and decap judges its lengths.
   */
  private quickNotTcp(p: Packet): boolean {
    const b = p.buf;
    const v = p.view;
    const o = p.start;
    const end = p.end;
    if ((p.flags & SUPERFRAME) !== 0 || p.gsoType !== GSO_NONE) return false;
    if (!plainIpv4v(v, o, end)) return false;
    const proto = b[o + 23]!;
    if (proto === ipp.TCP) return false;
    if (proto !== ipp.UDP) return true;
    if (end - o < 14 + 20 + 8) return false;
    const ipEnd = Math.min(o + 14 + v.getUint16(o + 16), end);
    const kind = this.ports.kind[v.getUint16(o + 36)]!;
    if (kind === ENCAP_NONE) return true;
    if (kind === ENCAP_VXLAN) {
      // groTunnel's VXLAN case inline (this check measured ~21 → ~16 ns without the call and its
      // result object): the inner frame starts 8 bytes after the UDP header, before the IP end.
      const at = o + 14 + 20 + 8 + 8;
      if (at >= ipEnd || (b[o + 42]! & 0x08) === 0) return false;
      return plainIpv4v(v, at, end) && b[at + 23]! !== ipp.TCP;
    }
    const k = groTunnel(b, o + 34, ipEnd, this.ports, this.start);
    if (k === NOT_TUNNEL) return true;
    if (k !== TUNNEL_OK || this.start.type !== et.TEB) return false;
    const at = this.start.at;
    return plainIpv4v(v, at, end) && b[at + 23]! !== ipp.TCP;
  }

  /** Fills this.view, or returns the PASS_* reason the packet cannot be coalesced. */
  private classify(p: Packet): number {
    const b = p.buf;
    const v = this.view;
    const o = this.outer;
    // GRO-in-GRO (a TSO superframe from a TAP, an LRO'd frame) would need equal gso_size; keep it simple.
    if ((p.flags & SUPERFRAME) !== 0 || p.gsoType !== GSO_NONE) return r.PASS_SUPERFRAME;
    if (parseFrame(b, p.start, p.end, o) !== OK) return r.PASS_UNPARSED;
    // Short frames padded to the Ethernet minimum: not merged, but (as Linux) the held aggregate of
    // their flow is delivered first, so walk on to find the flow.
    this.padded = o.ipEnd !== p.end;
    // CSUM_VALID: the port verified (vnet DATA_VALID). NEEDS_CSUM: a local sender left the checksum to be
    // filled in, so there is nothing to verify — Linux GRO accepts CHECKSUM_PARTIAL skbs as they are.
    const checked = (p.flags & (CSUM_VALID | NEEDS_CSUM)) !== 0;
    if (o.ipHdrLen !== (o.ipVersion === 4 ? 20 : 40)) return r.PASS_IP_OPTIONS;
    // Structure first, checksums last: most underlay traffic GRO cannot merge (UDP or ICMP inside the
    // tunnel) is refused by a few header reads, where verifying first cost three sums, one of them over
    // the whole datagram (outer UDP). Such a packet passes counted as not-TCP whatever its checksums
    // say: GRO does not change it, and decap verifies the outer checksums itself (and drops by reason).
    let t: Layout = o;
    v.tunnel = false;
    if (o.l4Proto === ipp.UDP) {
      const s = this.start;
      const k = groTunnel(b, o.l4, o.ipEnd, this.ports, s);
      if (k === NOT_TUNNEL) return r.PASS_NOT_TCP;
      if (k !== TUNNEL_OK) return r.PASS_TUNNEL;
      const i = this.inner;
      const st = s.type === et.TEB ? parseFrame(b, s.at, o.ipEnd, i) : parseIp(b, s.at, s.type, o.ipEnd, i);
      if (st !== OK) return r.PASS_UNPARSED;
      if (i.ipEnd !== o.ipEnd) return r.PASS_PADDING;
      if (i.ipHdrLen !== (i.ipVersion === 4 ? 20 : 40)) return r.PASS_IP_OPTIONS;
      if (i.l4Proto !== ipp.TCP) return r.PASS_NOT_TCP;
      v.tunnel = true;
      v.oL3 = o.l3 - p.start;
      v.oL4 = o.l4 - p.start;
      v.oIpV = o.ipVersion;
      v.at = s.at - p.start;
      t = i;
    } else if (o.l4Proto !== ipp.TCP) return r.PASS_NOT_TCP;
    if (!checked) {
      if (o.ipVersion === 4 && fold(sum(b, o.l3, o.l3 + 20)) !== 0xffff) return r.PASS_BAD_CHECKSUM;
      if (t !== o) {
        // udp_gro_receive: no tunnel GRO over a non-zero outer checksum that is not validated.
        if (u16(b, o.l4 + 6) !== 0 && !l4ChecksumOk(b, o.l3, o.l4, ipp.UDP, o.ipEnd))
          return r.PASS_BAD_CHECKSUM;
        if (t.ipVersion === 4 && fold(sum(b, t.l3, t.l3 + 20)) !== 0xffff) return r.PASS_BAD_CHECKSUM;
      }
      if (!l4ChecksumOk(b, t.l3, t.l4, ipp.TCP, t.ipEnd)) return r.PASS_BAD_CHECKSUM;
    }
    v.iL3 = t.l3 - p.start;
    v.iL4 = t.l4 - p.start;
    v.iPay = t.payload - p.start;
    v.iIpV = t.ipVersion;
    v.payloadLen = t.ipEnd - t.payload;
    return -1;
  }

  private hold(p: Packet, out: Batch, now: number): void {
    let h: Held | null = null;
    let oldest: Held = this.held[0]!;
    // Indexed loops on the hot path: for-of allocated an iterator here (seen in a heap profile).
    for (let i = 0; i < this.held.length; i++) {
      const x = this.held[i]!;
      if (x.pkt === null) {
        h = x;
        break;
      }
      if (x.order < oldest.order) oldest = x;
    }
    if (h === null) {
      this.counters.v[r.FLUSH_EVICT]!++;
      this.deliver(oldest, out);
      h = oldest;
    }
    const v = this.view;
    h.pkt = p;
    copyView(v, h.view);
    h.mss = v.payloadLen;
    h.nextSeq = (u32(p.buf, p.start + v.iL4 + 4) + v.payloadLen) >>> 0;
    h.seen = 0;
    h.born = now;
    h.order = ++this.arrivals;
    h.isSuper = false;
    h.count = 1;
    h.fixedId = false;
    h.outerFixedId = false;
  }

  /** Appends p's payload to h (making the superframe on the 2nd packet). False: no slot. */
  private merge(h: Held, p: Packet): boolean {
    let s = h.pkt!;
    const len = this.view.payloadLen;
    if (!h.isSuper) {
      const sp = this.superPool.alloc();
      if (sp === null) return false;
      // Same alignment mod 4 as the first packet: later payloads then usually land aligned as well.
      sp.start += (s.buf.byteOffset + s.start - (sp.buf.byteOffset + sp.start)) & 3;
      const n = s.end - s.start;
      if (sp.start + n + len > sp.buf.length) {
        this.superPool.free(sp);
        return false;
      }
      copyBytes(s.buf, s.start, sp.buf, sp.start, n);
      sp.end = sp.start + n;
      sp.inPort = s.inPort;
      sp.flowHash = s.flowHash;
      this.free(s);
      h.pkt = s = sp;
      h.isSuper = true;
    }
    if (s.end + len > s.buf.length) return false;
    copyBytes(p.buf, p.start + this.view.iPay, s.buf, s.end, len);
    s.end += len;
    h.count++;
    h.nextSeq = (h.nextSeq + len) >>> 0;
    this.free(p);
    return true;
  }

  private deliver(h: Held, out: Batch): void {
    const p = h.pkt!;
    h.pkt = null;
    if (h.count === 1) {
      this.counters.v[r.OUT_SINGLE]!++;
      this.push(p, out);
      return;
    }
    const b = p.buf;
    const v = h.view;
    const l3 = p.start + v.iL3;
    const l4 = p.start + v.iL4;
    b[l4 + 13]! |= h.seen;
    if (v.iIpV === 4) {
      setU16(b, l3 + 2, p.end - l3);
      setIpv4Checksum(b, l3, 20);
    } else {
      setU16(b, l3 + 4, p.end - l3 - 40);
    }
    setU16(b, l4 + 16, fold(pseudoFor(b, l3, ipp.TCP, p.end - l4)));
    p.flags = (p.flags & ~(CSUM_VALID | FIXED_ID)) | NEEDS_CSUM | SUPERFRAME | (h.fixedId ? FIXED_ID : 0);
    p.csumStart = l4;
    p.csumOffset = 16;
    p.gsoType = v.iIpV === 4 ? GSO_TCPV4 : GSO_TCPV6;
    p.gsoSize = h.mss;
    p.l2 = p.start;
    if (v.tunnel) {
      const ol3 = p.start + v.oL3;
      const ol4 = p.start + v.oL4;
      if (v.oIpV === 4) {
        setU16(b, ol3 + 2, p.end - ol3);
        setIpv4Checksum(b, ol3, 20);
      } else {
        setU16(b, ol3 + 4, p.end - ol3 - 40);
      }
      setU16(b, ol4 + 4, p.end - ol4);
      if (u16(b, ol4 + 6) !== 0) lcoOuterUdp(b, ol3, ol4, l3, l4, ipp.TCP, p.end);
      p.gsoType |= v.oIpV === 4 ? GSO_UDP_TUNNEL_IPV4 : GSO_UDP_TUNNEL_IPV6;
      p.l3 = ol3;
      p.l4 = ol4;
      p.innerL2 = v.at !== v.iL3 ? p.start + v.at : -1;
      p.innerL3 = l3;
      p.innerL4 = l4;
    } else {
      p.l3 = l3;
      p.l4 = l4;
    }
    this.counters.v[r.OUT_SUPER]!++;
    this.push(p, out);
  }

  private emit(p: Packet, out: Batch): void {
    this.counters.v[r.OUT_SINGLE]!++;
    this.push(p, out);
  }

  private push(p: Packet, out: Batch): void {
    if (!out.push(p)) {
      this.counters.v[r.DROP_BATCH_FULL]!++;
      (this.superPool.owns(p) ? this.superPool.free.bind(this.superPool) : this.free)(p);
    }
  }
}

/** A Geneve header's first word with version 0, no options, O and C clear, protocol 0x6558 (RFC 8926 §3.4). */
const GENEVE_PLAIN = 0x00006558;

/**
 * The frame at o starts with an untagged Ethernet header and an IPv4 header of 20 bytes, not a fragment
 * (through the packet's DataView: ethertype and version/IHL in one load, flags/offset in one).
 */
function plainIpv4v(v: DataView, o: number, end: number): boolean {
  return end - o >= 14 + 20 && v.getUint32(o + 12) >>> 8 === 0x080045 && (v.getUint16(o + 20) & 0x3fff) === 0;
}

function freeToOwner(p: Packet): void {
  p.owner?.free(p);
}
