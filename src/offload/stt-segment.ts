// STT segmentation, draft-davie-stt-08 §3.1–3.2 as Open vSwitch does it (datapath/linux/compat/stt.c;
// reference/stt.md §1.4–1.5, §2.1, §8).
//
// An STT frame (18-byte STT header + inner Ethernet frame, ≤ 65,535 bytes) becomes TCP-like segments:
//
//   | outer Ethernet | outer IPv4/IPv6 (proto 6) | TCP-like header (20) | frame bytes [off, off + n) |
//
//   sport    constant per inner flow: OVS udp_flow_src_port(net, skb, 1, USHRT_MAX, true), i.e.
//            h ^= h << 16; port = ((h × (max − min)) >> 32) + min with min 1, max 65535 (so 1..65534)
//   dport    7471;  SEQ = frame length << 16 | off;  ACK = frame id (one per frame, per-tunnel counter
//            from a random start: unique per (src, dst) for 2^32 frames)
//   flags    ACK on all, PSH on the last (what GSO/TSO leaves of OVS's ACK|PSH template); data offset 5
//   window   0xFFFF (OVS; the draft says 0, receivers ignore it); urgent 0
//   checksum ordinary TCP checksum over the pseudo-header with this segment's TCP length
//   IPv4     ID + 1 per segment (as TSO numbers them), DF from the config (OVS default on), TTL, TOS
//   payload  n = mtu − IP header − 20 per segment: 1460 at MTU 1500 over IPv4, 1440 over IPv6
//
// Two ways out:
//   SEGMENTED  every segment is a new packet from `pool` pushed to `out`; the caller still owns (and
//              frees) the frame packet.
//   IN_PLACE   the outer headers were prepended into the frame packet's headroom and the frame itself
//              was pushed to `out`: either it fits one segment, or `tso` is set (the port cuts it: the
//              packet is a TCPV4/TCPV6 SUPERFRAME with gsoSize = n, NEEDS_CSUM with the pseudo-header
//              seed over the whole TCP length, SEQ low half 0, which a TSO engine advances by n per
//              segment exactly as STT wants). OVS hands TSO only frames with 40 + frame ≤ 65,535.
import type { Batch } from '../packet/batch.ts';
import { CSUM_VALID, GSO_TCPV4, GSO_TCPV6, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { setU16, setU32 } from '../wire/bytes.ts';
import { fold, pseudoSum4, pseudoSum6 } from '../wire/checksum.ts';
import * as sttTcp from '../wire/stt-tcp.ts';
import { copyBytes } from './csum-fast.ts';

export const SEGMENTED = 0;
export const IN_PLACE = 1;
export const TOO_BIG = 2; //     frame > 65,535 bytes: segment the inner packet first (stt.md §1.5 rule 2)
export const NO_BUFFERS = 3;
export const NO_HEADROOM = 4;
export const MTU_TOO_SMALL = 5;

export interface SttTxConfig {
  /** Outer Ethernet header (14 bytes, or 18 with a VLAN tag), EtherType included. */
  l2: Uint8Array;
  ipVersion: 4 | 6;
  /** 4 or 16 bytes. */
  src: Uint8Array;
  dst: Uint8Array;
  tos: number;
  ttl: number;
  df: boolean;
  dstPort: number;
  window: number;
  srcPortMin: number;
  srcPortMax: number;
}

export function defaultTxConfig(): SttTxConfig {
  return {
    l2: new Uint8Array([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]),
    ipVersion: 4,
    src: new Uint8Array([192, 0, 2, 1]),
    dst: new Uint8Array([192, 0, 2, 2]),
    tos: 0,
    ttl: 64,
    df: true,
    dstPort: sttTcp.DEFAULT_PORT,
    window: sttTcp.OVS_WINDOW,
    srcPortMin: 1,
    srcPortMax: 65535,
  };
}

/** Linux udp_flow_src_port(): a flow hash spread over [min, max) (max itself never comes out). */
export function flowSrcPort(hash: number, min: number, max: number): number {
  const h = (hash ^ (hash << 16)) >>> 0;
  // h < 2^32 and (max − min) < 2^16, so the product < 2^48 is exact in a double.
  return Math.floor((h * (max - min)) / 0x100000000) + min;
}

/** Hash of the inner MAC pair when the packet carries no flow hash (Linux: jhash of the MACs). */
export function macHash(b: Uint8Array, o: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 12; i++) h = Math.imul(h ^ b[o + i]!, 0x01000193);
  return h >>> 0;
}

export class SttSegmenter {
  readonly config: SttTxConfig;
  /** Next outer IPv4 ID. */
  ipId: number;
  /** Next frame identifier (ACK), as an int32: one above 2^31 held as a uint32 was a heap number per frame. */
  frameId: number;
  private readonly ipLen: number;
  private readonly hdr: Uint8Array;
  private readonly hdrLen: number;

  constructor(config: Partial<SttTxConfig> = {}) {
    this.config = { ...defaultTxConfig(), ...config };
    this.ipId = (Math.random() * 0x10000) >>> 0;
    this.frameId = (Math.random() * 0x100000000) | 0;
    const c = this.config;
    this.ipLen = c.ipVersion === 4 ? 20 : 40;
    // Template: L2 + IP + TCP, with per-packet fields patched later.
    this.hdrLen = c.l2.length + this.ipLen + sttTcp.HEADER_LEN;
    this.hdr = new Uint8Array(this.hdrLen);
    this.hdr.set(c.l2, 0);
    const ip = c.l2.length;
    const h = this.hdr;
    if (c.ipVersion === 4) {
      h[ip] = 0x45;
      h[ip + 1] = c.tos;
      h[ip + 6] = c.df ? 0x40 : 0;
      h[ip + 8] = c.ttl;
      h[ip + 9] = 6;
      h.set(c.src, ip + 12);
      h.set(c.dst, ip + 16);
    } else {
      h[ip] = 0x60 | (c.tos >>> 4);
      h[ip + 1] = (c.tos & 15) << 4;
      h[ip + 6] = 6;
      h[ip + 7] = c.ttl;
      h.set(c.src, ip + 8);
      h.set(c.dst, ip + 24);
    }
    const t = ip + this.ipLen;
    setU16(h, t + 2, c.dstPort);
    h[t + 12] = 0x50;
    setU16(h, t + 14, c.window);
  }

  /** Outer IP payload per segment for an underlay MTU (IP bytes per packet). */
  segmentPayload(mtu: number): number {
    return mtu - this.ipLen - sttTcp.HEADER_LEN;
  }

  /**
   * Cuts the STT frame in [frame.start, frame.end) for an underlay of `mtu` bytes per IP packet.
   * `tso`: the port segments TCP itself (see the header). Uses one new frame id per call.
   */
  segment(frame: Packet, mtu: number, pool: Pool, out: Batch, tso = false): number {
    const len = frame.end - frame.start;
    if (len > 0xffff) return TOO_BIG;
    const seg = this.segmentPayload(mtu);
    if (seg < 8) return MTU_TOO_SMALL;
    const c = this.config;
    const hash = frame.flowHash !== 0 ? frame.flowHash : macHash(frame.buf, frame.start + 18);
    const sport = flowSrcPort(hash, c.srcPortMin, c.srcPortMax);
    const id = this.frameId;
    const fits = len <= seg;
    if (fits || (tso && this.ipLen + sttTcp.HEADER_LEN + len <= 0xffff)) {
      if (frame.start < this.hdrLen) return NO_HEADROOM;
      if (out.full) return NO_BUFFERS;
      this.frameId = (id + 1) | 0;
      const s = frame.start - this.hdrLen;
      this.writeHeaders(frame.buf, s, sport, id, len, 0, len, true);
      frame.start = s;
      frame.l2 = s;
      frame.l3 = s + c.l2.length;
      frame.l4 = frame.l3 + this.ipLen;
      if (fits) this.finishChecksum(frame.buf, frame.l3, frame.l4, frame.end);
      else {
        // Leave it to TSO: seed the pseudo-header over the whole TCP length (Linux convention).
        const l4len = frame.end - frame.l4;
        setU16(frame.buf, frame.l4 + 16, fold(this.pseudo(frame.buf, frame.l3, l4len)));
        frame.flags = (frame.flags & ~CSUM_VALID) | NEEDS_CSUM | SUPERFRAME;
        frame.csumStart = frame.l4;
        frame.csumOffset = 16;
        frame.gsoType = c.ipVersion === 4 ? GSO_TCPV4 : GSO_TCPV6;
        frame.gsoSize = seg;
      }
      out.push(frame);
      return IN_PLACE;
    }
    const n = Math.ceil(len / seg);
    if (pool.available < n || out.capacity - out.count < n) return NO_BUFFERS;
    if (pool.slotSize - pool.headroom < this.hdrLen + seg) return MTU_TOO_SMALL;
    this.frameId = (id + 1) | 0;
    for (let k = 0, off = 0; k < n; k++, off += seg) {
      const chunk = Math.min(seg, len - off);
      const p = pool.alloc()!;
      const s = p.start;
      const ob = p.buf;
      this.writeHeaders(ob, s, sport, id, len, off, chunk, k === n - 1);
      const l3 = s + c.l2.length;
      const l4 = l3 + this.ipLen;
      copyBytes(frame.buf, frame.start + off, ob, l4 + sttTcp.HEADER_LEN, chunk);
      p.end = l4 + sttTcp.HEADER_LEN + chunk;
      p.l2 = s;
      p.l3 = l3;
      p.l4 = l4;
      p.flowHash = frame.flowHash;
      this.finishChecksum(ob, l3, l4, p.end);
      out.push(p);
    }
    return SEGMENTED;
  }

  private writeHeaders(
    b: Uint8Array,
    s: number,
    sport: number,
    id: number,
    frameLen: number,
    off: number,
    chunk: number,
    last: boolean,
  ): void {
    b.set(this.hdr, s);
    const ip = s + this.config.l2.length;
    const t = ip + this.ipLen;
    const tcpLen = sttTcp.HEADER_LEN + chunk;
    if (this.ipLen === 20) {
      setU16(b, ip + 2, 20 + tcpLen);
      setU16(b, ip + 4, this.ipId);
      this.ipId = (this.ipId + 1) & 0xffff;
      // RFC 791 header checksum over the 20 bytes (field zero in the template).
      let sum = 0;
      for (let i = 0; i < 20; i += 2) sum += (b[ip + i]! << 8) | b[ip + i + 1]!;
      setU16(b, ip + 10, ~fold(sum) & 0xffff);
    } else setU16(b, ip + 4, tcpLen);
    setU16(b, t, sport);
    setU16(b, t + 4, frameLen);
    setU16(b, t + 6, off);
    setU32(b, t + 8, id);
    b[t + 13] = last ? sttTcp.TCP_ACK | sttTcp.TCP_PSH : sttTcp.TCP_ACK;
  }

  private pseudo(b: Uint8Array, l3: number, l4len: number): number {
    return this.ipLen === 20
      ? pseudoSum4(b, l3 + 12, l3 + 16, 6, l4len)
      : pseudoSum6(b, l3 + 8, l3 + 24, 6, l4len);
  }

  private finishChecksum(b: Uint8Array, l3: number, l4: number, end: number): void {
    sttTcp.fillChecksum(b, l4, end, this.pseudo(b, l3, end - l4));
  }
}
