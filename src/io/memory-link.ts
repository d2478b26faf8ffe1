// An in-memory wire: what one side transmits, the other side receives, as copies in the receiver's pool
// (so each side frees its own packets, exactly as with a real device). Used by the tunnel conformance
// suite, `nvo demo` without root, and benchmarks that leave the kernel out.
import { Batch } from '../packet/batch.ts';
import type { Packet } from '../packet/packet.ts';
import { Pool, SMALL_SLOT } from '../packet/pool.ts';

export class MemoryEnd {
  readonly pool: Pool;
  readonly rx: Batch;
  peer: MemoryEnd | null = null;
  /** Frames sent by this end, as copies (tests inspect them; capped). */
  readonly sent: Uint8Array[] = [];
  keepSent: number;
  dropped = 0;
  /** Copy offload metadata (a vnet_hdr-capable link); else superframes are dropped on a real wire. */
  readonly offload: boolean;

  constructor(opts: { poolSize?: number; slotSize?: number; keepSent?: number; offload?: boolean } = {}) {
    this.pool = new Pool(opts.poolSize ?? 256, opts.slotSize ?? SMALL_SLOT);
    this.rx = new Batch(opts.poolSize ?? 256);
    this.keepSent = opts.keepSent ?? 0;
    this.offload = opts.offload ?? true;
  }

  txBurst(b: Batch, from = 0): number {
    for (let i = from; i < b.count; i++) this.deliver(b.packets[i]!);
    return b.count - from;
  }

  private deliver(p: Packet): void {
    if (this.sent.length < this.keepSent) this.sent.push(p.bytes());
    const peer = this.peer;
    if (!peer) return;
    const q = peer.pool.alloc();
    if (q === null || peer.rx.full) {
      if (q) peer.pool.free(q);
      peer.dropped++;
      return;
    }
    q.copyFrom(p);
    if (!this.offload) {
      q.flags = 0;
      q.gsoType = 0;
      q.gsoSize = 0;
    }
    // Metadata that does not cross a wire.
    q.clearTunnel();
    q.inPort = 0;
    q.l2 = q.l3 = q.l4 = q.innerL2 = q.innerL3 = q.innerL4 = -1;
    q.flowHash = 0;
    peer.rx.push(q);
  }

  /** Moves what arrived, oldest first, into `out` (the caller owns those packets). */
  drain(out: Batch): number {
    const rx = this.rx;
    const n = Math.min(rx.count, out.capacity - out.count);
    for (let i = 0; i < n; i++) out.push(rx.packets[i]!);
    for (let i = n; i < rx.count; i++) rx.packets[i - n] = rx.packets[i]!;
    for (let i = rx.count - n; i < rx.count; i++) rx.packets[i] = null;
    rx.count -= n;
    return n;
  }
}

/** Two connected ends. */
export function memoryLink(opts: ConstructorParameters<typeof MemoryEnd>[0] = {}): [MemoryEnd, MemoryEnd] {
  const a = new MemoryEnd(opts);
  const b = new MemoryEnd(opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
