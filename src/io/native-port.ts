// The shared half of the native back ends (tap.ts, af-packet.ts, udp-socket.ts): moves a Batch of
// Packets through one addon call using the descriptor table (native.ts D_*). Frames are read into and
// written from the pool's slab in place; the only per-call work in JS is filling/reading
// DESC_WORDS int32 per packet. Allocation-free after construction.
//
// Rx landing space works like a NIC rx ring: the port keeps up to `burst` packets (at most a quarter
// of the pool) allocated in `reserve`, each with its descriptor written once in `rxDesc` at the same
// position. A call offers all of them; the kernel fills positions 0, 1, … in order, and only those
// positions are refilled, from the pool's top: the slots the switch freed last, still in cache, so
// the next frame is copied into warm memory (a reserve that rotated would cycle a 64-slot × 66 KB
// ring, 4.3 MB per port, through the copy). Per call, JS work is per frame received, not per slot
// offered. An idle port costs no alloc/free churn.
import type { Batch } from '../packet/batch.ts';
import { Counters } from '../packet/counters.ts';
import {
  CSUM_VALID,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP_L4,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { BASE_COUNTERS, type IoBackend, type IoCaps } from './io-backend.ts';
import {
  D_ADDR,
  D_CSUM_OFF,
  D_CSUM_START,
  D_ERR,
  D_FAMILY,
  D_GSO_SIZE,
  D_GSO_TYPE,
  D_HDR_LEN,
  D_LEN,
  D_OFF,
  D_PORT,
  D_RXFLAGS,
  D_VFLAGS,
  DESC_WORDS,
  errnoName,
  KIND_UDP,
  MAX_BURST,
  type NativeIo,
  RXF_TRUNCATED,
} from './native.ts';
import { PACK_HDR, packableRun, packRun } from './udp-tx-pack.ts';

const UV_READABLE = 1;
const EMPTY = new Uint8Array(0);
const MAX_RX_ERRORS = 16;
const ECN_MASK = 0x7f;

/** ::ffff:0:0/96 (RFC 4291 §2.5.5.2) at b[a..a+16). */
function isV4Mapped(b: Uint8Array, a: number): boolean {
  for (let k = 0; k < 10; k++) if (b[a + k] !== 0) return false;
  return b[a + 10] === 0xff && b[a + 11] === 0xff;
}

export interface NativePortOptions {
  /** Packets per addon call (≤ MAX_BURST). */
  burst?: number;
  /** Stored into Packet.inPort on rx. */
  inPort?: number;
  /**
   * vnet_hdr ports only: send runs of small same-flow UDP datagrams as one UDP GSO superframe
   * (udp-tx-pack.ts). For a raw underlay with `uso`.
   */
  packUdp?: boolean;
}

export class NativePort implements IoBackend {
  readonly name: string;
  readonly kind: string;
  readonly caps: IoCaps;
  readonly pool: Pool;
  readonly counters: Counters;
  readonly inPort: number;
  /** The fd (-1 once closed). */
  fd: number;
  private readonly native: NativeIo;
  private readonly nkind: number;
  private readonly vsz: number;
  private readonly burst: number;
  /** Rx landing space kept allocated: burst, but never more than a quarter of the pool. */
  private readonly reserveMax: number;
  private readonly desc: Int32Array;
  private readonly descBytes: Uint8Array;
  /** Rx descriptors, position i for reserve[i]; tx has its own table (`desc`). */
  private readonly rxDesc: Int32Array;
  private readonly rxDescBytes: Uint8Array;
  private readonly reserve: (Packet | null)[];
  private reserveCount = 0;
  // Whole-slab views for the addon, one per pool seen, most recent first: a port that forwards
  // between pools (rx reserve from its own, tx from the switch's or a reassembler's) would otherwise
  // make a new Uint8Array on every call that switches pool. A handful of pools at most; 4 slots.
  private readonly slabBufs: (ArrayBufferLike | null)[] = [null, null, null, null];
  private readonly slabViews: Uint8Array[] = [EMPTY, EMPTY, EMPTY, EMPTY];
  private poll: object | null = null;
  private rxErrors = 0;
  /** UDP ports: the socket's family (4 or 6), for IPv4-mapped addresses on dual-stack sockets. */
  protected socketFamily = 0;
  private readonly cRxPackets: number;
  private readonly cRxBytes: number;
  private readonly cRxSuper: number;
  private readonly cTxPackets: number;
  private readonly cTxBytes: number;
  private readonly cTxSuper: number;
  private readonly cTxFull: number;
  private readonly cRxTrunc: number;
  private readonly cRxNoBuf: number;
  private readonly cTxPacked: number;
  /** packUdp: the superframe being sent (a run is at most 64 KB) and its one descriptor. */
  private readonly packBuf: Uint8Array | null;
  private readonly packDesc = new Int32Array(DESC_WORDS);

  constructor(
    native: NativeIo,
    fd: number,
    nkind: number,
    vnetHdrSize: number,
    name: string,
    kind: string,
    caps: Omit<IoCaps, 'fd'>,
    pool: Pool,
    opts: NativePortOptions = {},
  ) {
    this.native = native;
    this.fd = fd;
    this.nkind = nkind;
    this.vsz = vnetHdrSize;
    this.name = name;
    this.kind = kind;
    this.caps = { ...caps, fd };
    this.pool = pool;
    this.inPort = opts.inPort ?? 0;
    this.burst = Math.max(1, Math.min(opts.burst ?? 64, MAX_BURST));
    this.desc = new Int32Array(MAX_BURST * DESC_WORDS);
    this.descBytes = new Uint8Array(this.desc.buffer);
    this.rxDesc = new Int32Array(MAX_BURST * DESC_WORDS);
    this.rxDescBytes = new Uint8Array(this.rxDesc.buffer);
    this.reserveMax = Math.max(1, Math.min(this.burst, Math.floor(pool.capacity / 4)));
    this.reserve = new Array(this.reserveMax).fill(null);
    this.counters = new Counters(BASE_COUNTERS);
    const c = this.counters;
    this.cRxPackets = c.id('rx-packets');
    this.cRxBytes = c.id('rx-bytes');
    this.cRxSuper = c.id('rx-superframes');
    this.cTxPackets = c.id('tx-packets');
    this.cTxBytes = c.id('tx-bytes');
    this.cTxSuper = c.id('tx-superframes');
    this.cTxFull = c.id('tx-queue-full');
    this.cRxTrunc = c.id('rx-drop-truncated');
    this.cRxNoBuf = c.id('rx-drop-no-buffer');
    this.cTxPacked = c.id('tx-udp-packed');
    this.packBuf = opts.packUdp && vnetHdrSize !== 0 && nkind !== KIND_UDP ? new Uint8Array(65536) : null;
  }

  /** Whole-slab view for the addon; packets of one pool share one ArrayBuffer. */
  private slabFor(p: Packet): Uint8Array {
    const ab = p.buf.buffer;
    const bufs = this.slabBufs;
    const views = this.slabViews;
    if (bufs[0] === ab) return views[0]!;
    let i = 1;
    while (i < bufs.length && bufs[i] !== ab) i++;
    // Found at i: move it to the front; not found: the last slot is replaced by a new view.
    const view = i < bufs.length ? views[i]! : new Uint8Array(ab);
    if (i === bufs.length) i--;
    for (; i > 0; i--) {
      bufs[i] = bufs[i - 1]!;
      views[i] = views[i - 1]!;
    }
    bufs[0] = ab;
    views[0] = view;
    return view;
  }

  /** Puts p at reserve position i and writes where its frame may land. */
  private place(i: number, p: Packet): void {
    this.reserve[i] = p;
    const w = i * DESC_WORDS;
    this.rxDesc[w + D_OFF] = p.buf.byteOffset + p.start;
    this.rxDesc[w + D_LEN] = p.buf.length - p.start;
  }

  rxBurst(out: Batch): number {
    if (this.fd < 0) return 0;
    const want = Math.min(out.capacity - out.count, this.reserveMax);
    while (this.reserveCount < want) {
      const p = this.pool.alloc();
      if (p === null) break;
      this.place(this.reserveCount++, p);
    }
    const n = Math.min(this.reserveCount, want);
    if (n === 0) {
      // Pool exhausted: the frames stay in the kernel queue (it drops when full); we count the stall.
      if (want > 0) this.counters.v[this.cRxNoBuf]! += 1;
      return 0;
    }
    const d = this.rxDesc;
    const r = this.native.rxBurst(this.fd, this.nkind, this.vsz, this.slabFor(this.reserve[0]!), d, n);
    if (r <= 0) {
      if (r < 0) this.rxError(-r);
      return 0;
    }
    this.rxErrors = 0;
    const v = this.counters.v;
    let got = 0;
    let bytes = 0;
    let supers = 0;
    let holes = 0;
    for (let i = 0; i < r; i++) {
      const w = i * DESC_WORDS;
      const p = this.reserve[i]!;
      if ((d[w + D_RXFLAGS]! & RXF_TRUNCATED) !== 0) {
        // Too long for the slot: the caller should have given this port a SUPER_SLOT pool.
        v[this.cRxTrunc]! += 1;
        this.place(i, p);
        continue;
      }
      const len = d[w + D_LEN]!;
      p.end = p.start + len;
      p.inPort = this.inPort;
      if (this.nkind === KIND_UDP) this.udpRxMeta(p, w);
      else this.vnetRxMeta(p, w);
      if ((p.flags & SUPERFRAME) !== 0) supers++;
      bytes += len;
      got++;
      out.push(p);
      const q = this.pool.alloc();
      if (q !== null) this.place(i, q);
      else {
        this.reserve[i] = null;
        holes++;
      }
    }
    if (holes > 0) this.closeHoles();
    v[this.cRxPackets]! += got;
    v[this.cRxBytes]! += bytes;
    v[this.cRxSuper]! += supers;
    return got;
  }

  /** Pool ran dry while refilling: slide the reserve down over the empty positions (rare). */
  private closeHoles(): void {
    let keep = 0;
    for (let i = 0; i < this.reserveCount; i++) {
      const p = this.reserve[i];
      if (p != null) this.place(keep++, p);
    }
    for (let i = keep; i < this.reserveCount; i++) this.reserve[i] = null;
    this.reserveCount = keep;
  }

  private vnetRxMeta(p: Packet, w: number): void {
    const d = this.rxDesc;
    p.l2 = p.start;
    if (this.vsz === 0) return;
    const vf = d[w + D_VFLAGS]!;
    const gt = d[w + D_GSO_TYPE]!;
    p.flags = vf & (NEEDS_CSUM | CSUM_VALID);
    if (gt !== GSO_NONE) {
      p.flags |= SUPERFRAME;
      p.gsoType = gt;
      p.gsoSize = d[w + D_GSO_SIZE]!;
    }
    if ((vf & NEEDS_CSUM) !== 0) {
      p.csumStart = p.start + d[w + D_CSUM_START]!;
      p.csumOffset = d[w + D_CSUM_OFF]!;
    }
  }

  private udpRxMeta(p: Packet, w: number): void {
    const d = this.rxDesc;
    const a = (w + D_ADDR) * 4;
    const b = this.rxDescBytes;
    const t = p.tunSrc;
    p.tunSrcPort = d[w + D_PORT]!;
    if (d[w + D_FAMILY] === 6 && isV4Mapped(b, a)) {
      // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; tunnels want them as IPv4.
      p.tunIpVersion = 4;
      for (let k = 0; k < 4; k++) t[k] = b[a + 12 + k]!;
      for (let k = 4; k < 16; k++) t[k] = 0;
    } else {
      p.tunIpVersion = d[w + D_FAMILY]!;
      for (let k = 0; k < 16; k++) t[k] = b[a + k]!;
    }
    const gs = d[w + D_GSO_SIZE]!;
    if (gs > 0 && p.end - p.start > gs) {
      p.flags |= SUPERFRAME;
      p.gsoType = GSO_UDP_L4;
      p.gsoSize = gs;
    }
  }

  txBurst(b: Batch, from = 0): number {
    if (this.fd < 0) return 0;
    let done = from;
    const v = this.counters.v;
    const pack = this.packBuf !== null;
    // packUdp: the packable run found at `done` by the pass before (0: not looked for yet), so each
    // position's run is measured once.
    let run = 0;
    while (done < b.count) {
      if (pack) {
        if (run === 0) run = packableRun(b.packets, done, b.count);
        const found = run;
        run = 0;
        if (found > 1) {
          const sent = this.txPacked(b, done, found);
          done += sent;
          if (sent < found) break;
          continue;
        }
      }
      const d = this.desc;
      let n = 0;
      let slabOf: ArrayBufferLike | null = null;
      // One call per run of packets from the same slab (usually the whole batch).
      while (done + n < b.count && n < this.burst) {
        // A packable run starts here: send what came before, then the run packed (kept in `run`).
        if (pack && n > 0) {
          run = packableRun(b.packets, done + n, b.count);
          if (run > 1) break;
          run = 0;
        }
        const p = b.packets[done + n]!;
        if (slabOf === null) slabOf = p.buf.buffer;
        else if (p.buf.buffer !== slabOf) break;
        const w = n * DESC_WORDS;
        d[w + D_OFF] = p.buf.byteOffset + p.start;
        d[w + D_LEN] = p.end - p.start;
        if (this.nkind === KIND_UDP) this.udpTxMeta(p, w);
        else if (this.vsz !== 0) this.vnetTxMeta(p, w);
        n++;
      }
      const slab = this.slabFor(b.packets[done]!);
      const r = this.native.txBurst(this.fd, this.nkind, this.vsz, slab, d, n);
      if (r <= 0) {
        v[this.cTxFull]! += 1;
        break;
      }
      for (let i = 0; i < r; i++) {
        const w = i * DESC_WORDS;
        const err = d[w + D_ERR]!;
        const p = b.packets[done + i]!;
        if (err !== 0) this.txDrop(err);
        else {
          v[this.cTxPackets]! += 1;
          v[this.cTxBytes]! += p.end - p.start;
          if ((p.flags & SUPERFRAME) !== 0) v[this.cTxSuper]! += 1;
        }
      }
      done += r;
      if (r < n) {
        v[this.cTxFull]! += 1;
        break;
      }
    }
    return done - from;
  }

  /**
   * Sends packets [at, at + n) packed into one UDP GSO superframe (udp-tx-pack.ts); returns n, or 0
   * when the queue is full (nothing consumed). A frame the kernel rejects drops the whole run.
   */
  private txPacked(b: Batch, at: number, n: number): number {
    const buf = this.packBuf!;
    const len = packRun(b.packets, at, n, buf);
    const d = this.packDesc;
    d[D_OFF] = 0;
    d[D_LEN] = len;
    d[D_VFLAGS] = NEEDS_CSUM;
    d[D_GSO_TYPE] = GSO_UDP_L4;
    d[D_GSO_SIZE] = (len - PACK_HDR) / n;
    d[D_CSUM_START] = PACK_HDR - 8;
    d[D_CSUM_OFF] = 6;
    d[D_HDR_LEN] = PACK_HDR;
    const v = this.counters.v;
    if (this.native.txBurst(this.fd, this.nkind, this.vsz, buf, d, 1) <= 0) {
      v[this.cTxFull]! += 1;
      return 0;
    }
    if (d[D_ERR] !== 0) {
      for (let i = 0; i < n; i++) this.txDrop(d[D_ERR]!);
      return n;
    }
    v[this.cTxPackets]! += n;
    v[this.cTxBytes]! += n * (b.packets[at]!.end - b.packets[at]!.start);
    v[this.cTxPacked]! += 1;
    return n;
  }

  /**
   * Cold path: the socket/device reported an error (counted as rx-error-<errno>). One-shot errors
   * (ENETDOWN while a link flaps) clear themselves; a device that is gone fails every read while
   * poll keeps reporting it, so after MAX_RX_ERRORS in a row the port stops polling (`onReadable`
   * re-arms it) instead of spinning.
   */
  private rxError(err: number): void {
    this.counters.add(`rx-error-${errnoName(err)}`);
    if (++this.rxErrors >= MAX_RX_ERRORS && this.poll !== null) {
      this.native.pollStop(this.poll);
      this.poll = null;
      this.counters.add('rx-poll-stopped');
    }
  }

  /** Cold path: a rejected frame, counted under its errno (tx-drop-emsgsize, tx-drop-einval…). */
  private txDrop(err: number): void {
    this.counters.add(`tx-drop-${errnoName(err)}`);
  }

  private vnetTxMeta(p: Packet, w: number): void {
    const d = this.desc;
    let vf = p.flags & (NEEDS_CSUM | CSUM_VALID);
    const gt = p.gsoType & ECN_MASK;
    let hdrLen = 0;
    if ((p.flags & NEEDS_CSUM) !== 0) {
      const cs = p.csumStart - p.start;
      d[w + D_CSUM_START] = cs;
      d[w + D_CSUM_OFF] = p.csumOffset;
      // hdr_len must cover the L4 header: TCP data offset (byte 12, high nibble, in 32-bit words) or
      // UDP's 8 bytes. The kernel checks hdr_len >= csum_start + csum_offset + 2 at least.
      const l4 = p.csumStart;
      hdrLen =
        gt === GSO_TCPV4 || gt === GSO_TCPV6
          ? cs + ((p.buf[l4 + 12]! >>> 4) << 2)
          : gt === GSO_UDP_L4
            ? cs + 8
            : cs + p.csumOffset + 2;
    } else {
      d[w + D_CSUM_START] = 0;
      d[w + D_CSUM_OFF] = 0;
    }
    if (gt !== GSO_NONE && p.gsoSize > 0) {
      d[w + D_GSO_TYPE] = p.gsoType;
      d[w + D_GSO_SIZE] = p.gsoSize;
    } else {
      d[w + D_GSO_TYPE] = GSO_NONE;
      d[w + D_GSO_SIZE] = 0;
    }
    // DATA_VALID is an rx-only flag in virtio; sending it is harmless but meaningless.
    vf &= NEEDS_CSUM;
    d[w + D_VFLAGS] = vf;
    d[w + D_HDR_LEN] = hdrLen;
  }

  private udpTxMeta(p: Packet, w: number): void {
    const d = this.desc;
    const a = (w + D_ADDR) * 4;
    const t = p.tunDst;
    const b = this.descBytes;
    if (p.tunIpVersion === 4 && this.socketFamily === 6) {
      // IPv4 destination on an IPv6 (dual-stack) socket: send to ::ffff:a.b.c.d.
      for (let k = 0; k < 10; k++) b[a + k] = 0;
      b[a + 10] = 0xff;
      b[a + 11] = 0xff;
      for (let k = 0; k < 4; k++) b[a + 12 + k] = t[k]!;
      d[w + D_FAMILY] = 6;
    } else {
      for (let k = 0; k < 16; k++) b[a + k] = t[k]!;
      d[w + D_FAMILY] = p.tunIpVersion;
    }
    d[w + D_PORT] = p.tunDstPort;
    d[w + D_GSO_SIZE] = p.gsoSize > 0 && p.end - p.start > p.gsoSize ? p.gsoSize : 0;
  }

  onReadable(cb: (() => void) | null): void {
    if (this.poll !== null) {
      this.native.pollStop(this.poll);
      this.poll = null;
    }
    if (cb !== null && this.fd >= 0) this.poll = this.native.pollStart(this.fd, UV_READABLE, () => cb());
  }

  close(): void {
    this.onReadable(null);
    if (this.fd >= 0) {
      this.native.close(this.fd);
      this.fd = -1;
    }
    for (let i = 0; i < this.reserveCount; i++) this.pool.free(this.reserve[i]!);
    this.reserve.fill(null);
    this.reserveCount = 0;
  }
}
