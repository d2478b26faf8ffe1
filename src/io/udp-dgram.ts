// Pure-Node UDP port on node:dgram: the fallback for the UDP encapsulations when the addon is missing
// or we are not root. Same contract as udp-socket.ts minus the kernel offloads: no GRO (one packet
// per datagram), no UDP_SEGMENT (tx cuts a gsoSize superframe into datagrams in JS, one send each),
// and one Node Buffer per datagram on receive (Node allocates it; we copy it into a pool packet at
// once). Received datagrams wait in a bounded queue (`queueLimit`); beyond it they are dropped and
// counted as rx-drop-queue-full, never buffered without bound. Roughly 0.2-0.3 Mpps on this machine
// (performance.md §6.1) — fine for tests and small set-ups.
//
// With `peer` the port carries a guest's Ethernet frames instead (kind 'udp-frames'): one frame per
// datagram and no header, QEMU's `-netdev dgram` / `-netdev socket,udp=` format. Frames come only from
// the peer (others: rx-drop-not-peer) and go only to it; no tunnel metadata is read or written.
import { createSocket, type Socket } from 'node:dgram';
import type { Batch } from '../packet/batch.ts';
import { Counters } from '../packet/counters.ts';
import type { Packet } from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/bytes.ts';
import { BASE_COUNTERS, type IoBackend, type IoCaps } from './io-backend.ts';
import { nativeWhy } from './native.ts';

export interface UdpDgramOptions {
  address: string;
  port: number;
  pool: Pool;
  /** SO_RCVBUF/SO_SNDBUF bytes (default 4 MiB; the kernel caps them at rmem_max/wmem_max). */
  bufSize?: number;
  /** Datagrams held between wake-ups (default 1024). */
  queueLimit?: number;
  inPort?: number;
  /** Frame mode: the guest's address and port (see the header). */
  peer?: { address: string; port: number };
}

export class UdpDgramPort implements IoBackend {
  readonly name: string;
  readonly kind: string;
  readonly caps: IoCaps;
  readonly pool: Pool;
  readonly counters = new Counters([...BASE_COUNTERS, 'rx-drop-queue-full', 'tx-drop-error']);
  readonly socket: Socket;
  readonly family: 4 | 6;
  readonly inPort: number;
  /** Received packets waiting for rxBurst: a fixed ring of queueLimit slots (head, count). */
  private readonly queue: (Packet | null)[];
  private qHead = 0;
  private qCount = 0;
  private readonly queueLimit: number;
  private readonly peer: { address: string; port: number } | null;
  private readable: (() => void) | null = null;
  private wakePending = false;
  private closed = false;

  /** Binds the socket; resolves once it is listening (port 0 = ephemeral, see .port). */
  static async open(o: UdpDgramOptions): Promise<UdpDgramPort> {
    const p = new UdpDgramPort(o);
    await new Promise<void>((res, rej) => {
      p.socket.once('error', rej);
      p.socket.bind(o.port, o.address, () => {
        p.socket.off('error', rej);
        res();
      });
    });
    return p;
  }

  private constructor(o: UdpDgramOptions) {
    this.family = o.address.includes(':') ? 6 : 4;
    this.pool = o.pool;
    this.inPort = o.inPort ?? 0;
    this.queueLimit = o.queueLimit ?? 1024;
    this.queue = new Array(this.queueLimit).fill(null);
    this.name = `${o.address}:${o.port}`;
    this.peer = o.peer ?? null;
    this.kind = this.peer ? 'udp-frames' : 'udp-dgram';
    this.caps = {
      l2: this.peer !== null,
      rxOffloadMeta: false,
      rxSuperframes: false,
      txCsumPartial: false,
      txTso: false,
      txUso: true,
      maxRxLen: 65535,
      fd: -1,
    };
    // 4 MiB socket buffers (capped by net.core.rmem_max/wmem_max): a burst of a TSO frame's ~45
    // datagrams per flow must not overflow the 208 KiB default while JS is busy.
    // SO_REUSEADDR only on a chosen port: with it, Linux's ephemeral pick (port 0) skips no port another
    // SO_REUSEADDR socket on the same address holds, so two such sockets can get one port and each
    // other's datagrams (1,023 of 8,000 binds to 127.0.0.1:0 did here); without it the pick is unique.
    this.socket = createSocket({
      type: this.family === 6 ? 'udp6' : 'udp4',
      reuseAddr: o.port !== 0,
      recvBufferSize: o.bufSize ?? 4 << 20,
      sendBufferSize: o.bufSize ?? 4 << 20,
    });
    this.socket.on('message', (msg, rinfo) => this.receive(msg, rinfo.address, rinfo.port));
    this.socket.on('error', () => this.counters.add('rx-drop-socket-error'));
  }

  get port(): number {
    return this.socket.address().port;
  }

  private receive(msg: Buffer, address: string, port: number): void {
    const c = this.counters;
    const peer = this.peer;
    if (peer !== null && (port !== peer.port || address !== peer.address)) {
      c.add('rx-drop-not-peer');
      return;
    }
    if (this.qCount >= this.queueLimit) {
      c.add('rx-drop-queue-full');
      return;
    }
    const p = this.pool.alloc();
    if (p === null) {
      c.add('rx-drop-no-buffer');
      return;
    }
    if (msg.length > p.buf.length - p.start) {
      this.pool.free(p);
      c.add('rx-drop-truncated');
      return;
    }
    p.buf.set(msg, p.start);
    p.end = p.start + msg.length;
    p.inPort = this.inPort;
    if (peer !== null) {
      p.l2 = p.start;
      this.enqueue(p);
      return;
    }
    p.tunSrcPort = port;
    const mapped = address.startsWith('::ffff:') && address.includes('.');
    if (mapped) {
      // IPv4 peer on a dual-stack socket: report it as IPv4, as the native port does.
      p.tunIpVersion = 4;
      p.tunSrc.fill(0);
      parseIpv4(address.slice(7), p.tunSrc, 0);
    } else if (address.includes(':')) {
      p.tunIpVersion = 6;
      parseIpv6(address.replace(/%.*$/, ''), p.tunSrc, 0);
    } else {
      p.tunIpVersion = 4;
      parseIpv4(address, p.tunSrc, 0);
    }
    this.enqueue(p);
  }

  private enqueue(p: Packet): void {
    this.queue[(this.qHead + this.qCount++) % this.queueLimit] = p;
    if (this.readable !== null && !this.wakePending) {
      // One wake-up per turn of the loop, however many datagrams arrived in it.
      this.wakePending = true;
      setImmediate(() => {
        this.wakePending = false;
        if (this.readable !== null && this.qCount > 0) this.readable();
      });
    }
  }

  rxBurst(out: Batch): number {
    let n = 0;
    const v = this.counters;
    while (this.qCount > 0 && !out.full) {
      const p = this.queue[this.qHead]!;
      this.queue[this.qHead] = null;
      this.qHead = (this.qHead + 1) % this.queueLimit;
      this.qCount--;
      out.push(p);
      v.add('rx-packets');
      v.add('rx-bytes', p.end - p.start);
      n++;
    }
    return n;
  }

  txBurst(b: Batch, from = 0): number {
    if (this.closed) return 0;
    for (let i = from; i < b.count; i++) {
      const p = b.packets[i]!;
      const peer = this.peer;
      const addr = peer
        ? peer.address
        : this.family === 6 && p.tunIpVersion === 4
          ? `::ffff:${formatIpv4(p.tunDst, 0)}`
          : p.tunIpVersion === 6
            ? formatIpv6(p.tunDst, 0)
            : formatIpv4(p.tunDst, 0);
      const len = p.end - p.start;
      const seg = p.gsoSize > 0 && len > p.gsoSize && !peer ? p.gsoSize : len;
      for (let o = 0; o < len; o += seg) {
        const n = Math.min(seg, len - o);
        // dgram may send after we return (and the caller frees the packet): send a copy.
        const copy = Buffer.from(p.buf.subarray(p.start + o, p.start + o + n));
        this.socket.send(copy, peer ? peer.port : p.tunDstPort, addr, (err) => {
          if (err) this.counters.add('tx-drop-error');
        });
      }
      this.counters.add('tx-packets');
      this.counters.add('tx-bytes', len);
    }
    return b.count - from;
  }

  onReadable(cb: (() => void) | null): void {
    this.readable = cb;
    if (cb !== null && this.qCount > 0) setImmediate(() => this.readable?.());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.readable = null;
    for (; this.qCount > 0; this.qCount--) {
      this.pool.free(this.queue[this.qHead]!);
      this.queue[this.qHead] = null;
      this.qHead = (this.qHead + 1) % this.queueLimit;
    }
    this.socket.close();
  }
}

/**
 * The one line `nvo run` prints when UDP tunnels go through node:dgram: `forced` names the flag or
 * variable that asked for it; otherwise it says why the addon is unavailable.
 */
export function fallbackNotice(forced = ''): string {
  if (forced) return `nvo: native UDP I/O off (${forced}): using node:dgram UDP, no GSO/GRO`;
  return `nvo: native I/O unavailable (${nativeWhy() || 'no reason given'}): using node:dgram UDP, no GSO/GRO`;
}
