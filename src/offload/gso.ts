// Software GSO: the completion step in front of a port that cannot take superframes. A superframe
// (SUPERFRAME, gsoType/gsoSize in virtio numbering) becomes MTU-size packets allocated from a Pool and
// pushed onto an output Batch; anything else passes, with its partial checksum finished unless the port
// finishes checksums itself (`partial`).
//
//   const gso = new Segmenter({ pool });
//   const r = gso.segment(p, out);   // r > 0: r segments pushed, free p;  GSO_PASSED: send p itself;
//                                    // GSO_DROPPED: counted in gso.counters, free p.
//
// All-or-nothing: either every segment is pushed or none (pool and batch room are checked first).
// Dispatch: TCPV4/TCPV6 → tso.ts rules; UDP_L4 → udp-gso.ts rules; TCP or UDP_L4 under an outer UDP
// (with tunnel bits or inner offsets) or GRE header → tunnel-gso.ts; legacy UFO → IP fragments
// (udp-fragment-gso.ts, through the IP fragmenter).
import type { Batch } from '../packet/batch.ts';
import { Counters } from '../packet/counters.ts';
import {
  GSO_ECN,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP,
  GSO_UDP_L4,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import * as ipp from '../wire/ip-proto.ts';
import { OK } from '../wire/status.ts';
import { completeCsum } from './csum-complete.ts';
import { type Layout, newLayout, parseFrame } from './frame-layout.ts';
import * as r from './gso-reasons.ts';
import { CUT_NO_BUFFERS, CUT_OK, cut, newOuter } from './segment-core.ts';
import { checkTcpGso } from './tso.ts';
import { GSO_UDP_TUNNEL, locateTunnel } from './tunnel-gso.ts';
import { ufoFragment } from './udp-fragment-gso.ts';
import { checkUdpGso } from './udp-gso.ts';

export const GSO_PASSED = 0;
export const GSO_DROPPED = -1;
/** admit(): legacy UFO (IP fragments), cut only by segment(). */
export const ADMIT_UFO = -2;

export interface SegmenterOptions {
  /** Slots for the segments (MTU-size slots are enough for gso_size ≤ slot − headers). */
  pool: Pool;
  /** Leave L4 checksums partial (NEEDS_CSUM) for a port with checksum offload. Default false. */
  partial?: boolean;
  /** Refuse superframes that would make more segments than this (bounds work per packet). Default 256. */
  maxSegments?: number;
}

export class Segmenter {
  readonly counters = new Counters(r.GSO_COUNTER_NAMES);
  private readonly pool: Pool;
  private readonly partial: boolean;
  private readonly maxSegments: number;
  private readonly lay = newLayout();
  /** After admit(): the walked layer to cut (the frame, or a tunnel's inner frame). */
  layer: Layout = this.lay;
  private readonly inner = newLayout();
  private readonly outer = newOuter();
  /** IPv6 fragment identification for UFO (RFC 8200 §4.5: unique per src/dst while in flight). */
  private ipv6FragId = (Math.random() * 0x100000000) >>> 0;

  constructor(opts: SegmenterOptions) {
    this.pool = opts.pool;
    this.partial = opts.partial ?? false;
    this.maxSegments = opts.maxSegments ?? 256;
  }

  segment(p: Packet, out: Batch): number {
    const n = this.admit(p);
    if (n === ADMIT_UFO) return this.ufo(p, this.lay, out);
    if (n <= 0) return n;
    if (out.capacity - out.count < n) return this.drop(r.DROP_BATCH_FULL);
    const res = cut(p, this.layer, this.outer, p.gsoSize, n, this.pool, out, this.partial);
    if (res !== CUT_OK) return this.drop(res === CUT_NO_BUFFERS ? r.DROP_NO_BUFFERS : r.DROP_SEGMENT_TOO_BIG);
    this.counted(n);
    return n;
  }

  /**
   * The checks of segment() without the cutting, for a caller that cuts p itself (uso-pack.ts): the
   * number n > 0 of segments of `layer` at p.gsoSize; GSO_PASSED (p goes as one packet, its checksum
   * finished unless partial); GSO_DROPPED (counted; the caller frees p); ADMIT_UFO for legacy UFO,
   * which only segment() handles. `tunnelled` says whether p already carries a tunnel (then `layer` is
   * its inner frame and only cut() fixes the outer headers). A caller that cuts reports it with counted(n).
   */
  admit(p: Packet): number {
    const type = p.gsoType;
    if ((p.flags & SUPERFRAME) === 0 && type === GSO_NONE) return this.pass(p);
    const lay = this.lay;
    const st = parseFrame(p.buf, p.start, p.end, lay);
    if (st !== OK) return this.drop(r.layoutDrop(st));
    const base = type & ~(GSO_ECN | GSO_UDP_TUNNEL);
    this.layer = lay;
    const outer = this.outer;
    outer.present = false;
    const tunnelled =
      lay.l4Proto === ipp.GRE ||
      (lay.l4Proto === ipp.UDP &&
        (base === GSO_TCPV4 || base === GSO_TCPV6 || (type & GSO_UDP_TUNNEL) !== 0 || p.innerL3 >= 0));
    if (tunnelled) {
      const why = locateTunnel(p, lay, outer, this.inner);
      if (why >= 0) return this.drop(why);
      this.layer = this.inner;
    }
    if (base === GSO_UDP && !tunnelled) return ADMIT_UFO;
    let why: number;
    if (base === GSO_UDP_L4) why = checkUdpGso(p, this.layer);
    else if (base === GSO_UDP) why = r.DROP_UNSUPPORTED;
    else if (base === GSO_NONE) why = r.DROP_TYPE_MISMATCH;
    else why = checkTcpGso(p, this.layer, base);
    if (why >= 0) return this.drop(why);
    const mss = p.gsoSize;
    const payload = this.layer.ipEnd - this.layer.payload;
    if (payload <= mss) {
      // "Too small packets are not really GSO ones" (virtio_net_hdr_to_skb): send as one packet.
      p.flags &= ~SUPERFRAME;
      p.gsoType = GSO_NONE;
      p.gsoSize = 0;
      return this.pass(p);
    }
    if (mss === 0) return this.drop(r.DROP_BAD_GSO_SIZE);
    const n = Math.ceil(payload / mss);
    if (n > this.maxSegments) return this.drop(r.DROP_TOO_MANY_SEGMENTS);
    return n;
  }

  /** After admit(): p carries a tunnel whose outer headers a cut must fix per segment. */
  get tunnelled(): boolean {
    return this.outer.present;
  }

  /** Counts one superframe cut into n segments by a caller of admit(). */
  counted(n: number): void {
    this.counters.v[r.GSO_IN]!++;
    this.counters.v[r.GSO_OUT]! += n;
  }

  /** Legacy UFO: IP fragments of one datagram (udp-fragment-gso.ts). */
  private ufo(p: Packet, lay: Layout, out: Batch): number {
    this.ipv6FragId = (this.ipv6FragId + 1) >>> 0;
    const n = ufoFragment(p, lay, this.ipv6FragId, this.pool, out);
    if (n < 0) return this.drop(-1 - n);
    if (n === 0) {
      p.flags &= ~SUPERFRAME;
      p.gsoType = GSO_NONE;
      p.gsoSize = 0;
      return this.pass(p);
    }
    this.counters.v[r.GSO_IN]!++;
    this.counters.v[r.GSO_OUT]! += n;
    return n;
  }

  private pass(p: Packet): number {
    if (!this.partial && (p.flags & NEEDS_CSUM) !== 0 && completeCsum(p) !== OK) {
      return this.drop(r.DROP_BAD_CSUM_OFFSETS);
    }
    this.counters.v[r.GSO_PASS]!++;
    return GSO_PASSED;
  }

  private drop(reason: number): number {
    this.counters.v[reason]!++;
    return GSO_DROPPED;
  }
}
