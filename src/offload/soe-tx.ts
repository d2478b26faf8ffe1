// VXLAN-SOE transmit, draft-zhou-li-vxlan-soe-01 §2–3 (reference/encapsulations.md §3).
//
// A guest superframe (SUPERFRAME, gsoSize = the guest's MSS) is sent as ONE VXLAN datagram with S=1
// and the MSS in the header, and the outer IPv4 datagram is fragmented to the underlay MTU (DF clear:
// SOE contradicts RFC 7348 §4.3 on purpose, so enable it only towards peers known to speak SOE):
//
//   | Eth | IPv4 DF=0 | UDP 4789 | VXLAN-SOE S,MSS,VNI | inner Ethernet frame (up to 65,499 B) |
//      └───────────── then fragment4() at the underlay MTU; 1,480 B of IP payload per fragment at 1500
//                     (or, on a vnet_hdr port, the kernel's UFO: `send(…, ufo)`; the same fragments)
//
//   size limit  UDP over IPv4 carries at most 65,535 − 20 − 8 = 65,507 bytes, so VXLAN (8) + inner
//               ≤ 65,507 ⇒ inner Ethernet frame ≤ 65,499 B. Larger frames fall back to classic
//               segmentation (the draft's rule): the guest frame is cut to its MSS by the software
//               TSO (gso.ts Segmenter) and each piece goes as plain VXLAN (S=0).
//   not a superframe  S=0 and MSS 0 ("MUST clear S when the frame is already segmented"): plain VXLAN.
//   inner checksum    -01 is silent; we complete a pending (NEEDS_CSUM) inner checksum before
//               sending, so the receiver can verify it end to end (encapsulations.md §3.5).
//   outer UDP checksum computed over the whole datagram by default (it is the only end-to-end check
//               of a reassembled 64 KB datagram); `udpCsum: false` sends 0 (RFC 7348 allows it).
//   outer IPv4  ID from a per-transmitter counter (one per datagram: all its fragments share it).
// The outer headers are written into the guest packet's headroom (no copy of the payload); fragments
// are new packets. Results: IN_PLACE (the guest packet itself went to `out`), FRAGMENTED or
// FALLBACK (new packets in `out`; the caller frees the guest packet), or a failure status.
import type { Batch } from '../packet/batch.ts';
import { Counters } from '../packet/counters.ts';
import { GSO_NONE, GSO_UDP, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { setU16 } from '../wire/bytes.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { OK } from '../wire/status.ts';
import * as udp from '../wire/udp.ts';
import * as soe from '../wire/vxlan-soe.ts';
import { completeCsum } from './csum-complete.ts';
import { GSO_DROPPED, GSO_PASSED, type Segmenter } from './gso.ts';
import { FRAGMENTED as FRAG_OK, fragment4 } from './ipv4-fragment.ts';
import { flowSrcPort, macHash } from './stt-segment.ts';

export const IN_PLACE = 0;
export const FRAGMENTED = 1;
export const FALLBACK = 2;
export const TOO_BIG = 3; //      > 65,499 B and no segmenter to fall back on
export const NO_HEADROOM = 4;
export const NO_BUFFERS = 5;
export const BAD_CSUM = 6; //     the guest's partial-checksum offsets are out of the frame
export const FALLBACK_FAILED = 7;

/** 20 (IPv4) + 8 (UDP) + 8 (VXLAN): outer bytes in front of the inner frame, Ethernet excluded. */
export const OVERHEAD = 36;
/** Largest inner Ethernet frame one SOE datagram can carry over IPv4: 65,535 − 36. */
export const MAX_INNER = 65535 - OVERHEAD;

export interface SoeTxConfig {
  /** Outer Ethernet header (14 bytes), EtherType 0x0800. */
  l2: Uint8Array;
  src: Uint8Array;
  dst: Uint8Array;
  tos: number;
  ttl: number;
  vni: number;
  dstPort: number;
  /** RFC 7348 §5: source port from the inner flow hash, RECOMMENDED in 49152–65535. */
  srcPortMin: number;
  srcPortMax: number;
  udpCsum: boolean;
}

export function defaultSoeTxConfig(): SoeTxConfig {
  return {
    l2: new Uint8Array([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]),
    src: new Uint8Array([192, 0, 2, 1]),
    dst: new Uint8Array([192, 0, 2, 2]),
    tos: 0,
    ttl: 64,
    vni: 42,
    dstPort: 4789,
    srcPortMin: 49152,
    srcPortMax: 65535,
    udpCsum: true,
  };
}

const C_OUT = 0;
const C_SOE = 1;
const C_FRAGMENTS = 2;
const C_FALLBACK = 3;
const NAMES = [
  'out-soe-datagram',
  'out-soe-superframe',
  'out-soe-fragment',
  'out-soe-fallback-segmented',
  'drop-soe-too-big',
  'drop-soe-no-headroom',
  'drop-soe-no-buffers',
  'drop-soe-bad-csum-offsets',
  'drop-soe-fallback-failed',
];

export class SoeTransmitter {
  readonly config: SoeTxConfig;
  readonly counters = new Counters(NAMES);
  ipId: number;
  private readonly pool: Pool;
  private readonly segmenter: Segmenter | null;
  private readonly repr = soe.newRepr();
  private readonly pieces: Batch | null;

  /** `pool` gives fragments (and fallback pieces); `segmenter` enables the > 65,499 B fallback. */
  constructor(config: Partial<SoeTxConfig>, pool: Pool, segmenter: Segmenter | null = null, pieces?: Batch) {
    this.config = { ...defaultSoeTxConfig(), ...config };
    this.pool = pool;
    this.segmenter = segmenter;
    this.pieces = segmenter ? (pieces ?? null) : null;
    this.ipId = (Math.random() * 0x10000) >>> 0;
  }

  private fail(st: number): number {
    this.counters.v[st + 1]!++; // NAMES[4..8] follow TOO_BIG..FALLBACK_FAILED
    return st;
  }

  /**
   * Sends the guest frame [p.start, p.end) to the underlay; `mtu` = IP bytes per underlay packet.
   * `ufo`: the underlay port takes a vnet_hdr, so a datagram over the MTU leaves whole as a UFO
   * superframe (VIRTIO_NET_HDR_GSO_UDP) and the kernel's software GSO cuts the fragments
   * (udp4_ufo_fragment, inet_gso_segment): one send of 64 KB instead of 45 fragment copies. gso_size is
   * the IP payload per fragment, a multiple of 8 (fragment offsets count 8-byte units): at MTU 1500,
   * (1500 − 20) & ~7 = 1480. The kernel fills the outer UDP checksum itself (UFO always does), so
   * `udpCsum: false` does not hold for those datagrams.
   */
  send(p: Packet, mtu: number, out: Batch, ufo = false): number {
    const innerLen = p.end - p.start;
    if (innerLen > MAX_INNER) return this.fallback(p, mtu, out, ufo);
    if ((p.flags & NEEDS_CSUM) !== 0 && completeCsum(p) !== OK) return this.fail(BAD_CSUM);
    const c = this.config;
    const l2len = c.l2.length;
    const hdr = l2len + OVERHEAD;
    if (p.start < hdr) return this.fail(NO_HEADROOM);
    const isSoe = (p.flags & SUPERFRAME) !== 0 && p.gsoSize > 0;
    const b = p.buf;
    const inner = p.start;
    const s = inner - hdr;
    const l3 = s + l2len;
    const l4 = l3 + 20;
    b.set(c.l2, s);
    // IPv4: version/IHL 0x45, DF clear, protocol UDP; checksum filled below.
    b[l3] = 0x45;
    b[l3 + 1] = c.tos;
    setU16(b, l3 + 2, OVERHEAD + innerLen);
    const id = this.ipId;
    this.ipId = (id + 1) & 0xffff;
    setU16(b, l3 + 4, id);
    setU16(b, l3 + 6, 0);
    b[l3 + 8] = c.ttl;
    b[l3 + 9] = 17;
    b.set(c.src, l3 + 12);
    b.set(c.dst, l3 + 16);
    ipv4.fillChecksum(b, l3);
    const hash = p.flowHash !== 0 ? p.flowHash : macHash(b, inner);
    udp.setSrcPort(b, l4, flowSrcPort(hash, c.srcPortMin, c.srcPortMax));
    udp.setDstPort(b, l4, c.dstPort);
    udp.setLength(b, l4, 16 + innerLen);
    udp.setChecksum(b, l4, 0);
    const r = this.repr;
    r.soe = isSoe;
    r.mss = isSoe ? p.gsoSize : 0;
    r.vni = c.vni;
    soe.emit(r, b, l4 + 8);
    const fits = OVERHEAD + innerLen <= mtu;
    if (c.udpCsum && (fits || !ufo)) udp.fillChecksum(b, l3, l4);
    p.start = s;
    p.l2 = s;
    p.l3 = l3;
    p.l4 = l4;
    p.innerL2 = inner;
    p.flags &= ~(SUPERFRAME | NEEDS_CSUM);
    const v = this.counters.v;
    v[C_OUT]!++;
    if (isSoe) v[C_SOE]!++;
    if (fits || ufo) {
      if (out.full) return this.fail(NO_BUFFERS);
      // The guest's TCP gso state is the inner frame's (now in the SOE header), never the outer's.
      p.gsoType = GSO_NONE;
      p.gsoSize = 0;
      if (!fits) {
        const payload = (mtu - 20) & ~7;
        p.gsoType = GSO_UDP;
        p.gsoSize = payload;
        v[C_FRAGMENTS]! += Math.ceil((OVERHEAD - 20 + innerLen) / payload);
      }
      out.push(p);
      return IN_PLACE;
    }
    const before = out.count;
    if (fragment4(p, mtu, id, this.pool, out, true) !== FRAG_OK) return this.fail(NO_BUFFERS);
    v[C_FRAGMENTS]! += out.count - before;
    return FRAGMENTED;
  }

  /** > 65,499 B: cut the guest frame to its MSS and send each piece as plain VXLAN. */
  private fallback(p: Packet, mtu: number, out: Batch, ufo: boolean): number {
    const seg = this.segmenter;
    const pieces = this.pieces;
    if (seg === null || pieces === null) return this.fail(TOO_BIG);
    pieces.clear();
    const n = seg.segment(p, pieces);
    if (n === GSO_DROPPED || n === GSO_PASSED) {
      for (let i = 0; i < pieces.count; i++) this.pool.free(pieces.packets[i]!);
      pieces.clear();
      return this.fail(FALLBACK_FAILED);
    }
    let st = FALLBACK;
    for (let i = 0; i < pieces.count; i++) {
      const q = pieces.packets[i]!;
      const r = this.send(q, mtu, out, ufo);
      if (r === IN_PLACE) continue;
      this.pool.free(q);
      if (r !== FRAGMENTED) st = FALLBACK_FAILED;
    }
    pieces.clear();
    this.counters.v[C_FALLBACK]!++;
    return st;
  }
}
