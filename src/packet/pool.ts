// A pool of equal packet slots cut once from one ArrayBuffer slab, with a free list (a Uint32Array
// stack). alloc/free are O(1) and allocate nothing. Two sizes are usual: MTU-size slots for the
// common case and superframe slots (64 KiB + headroom + outer headers) for TSO/GRO/reassembly.
import { Packet } from './packet.ts';

export const DEFAULT_HEADROOM = 256;
/** 256 B headroom + 1518 B frame + room for tailroom growth, rounded to 2 KiB. */
export const SMALL_SLOT = 2048;
/** 65,535 B IP datagram + 14 B Ethernet + 4 B VLAN + headroom for outer headers, rounded up. */
export const SUPER_SLOT = 66 * 1024 + 512;
/**
 * Largest frame nvo buffers whole (a capture record, a frame handed to the decapper): 256 KiB, Wireshark's
 * WTAP_MAX_PACKET_SIZE_STANDARD (262144), so any frame tcpdump or Wireshark writes fits. Bigger than a
 * SUPER_SLOT because a capture may hold a GRO'd or jumbo frame beyond one 64 KiB IP datagram.
 */
export const MAX_PACKET = 262144;

export class PoolEmptyError extends Error {}

export class Pool {
  readonly slotSize: number;
  readonly capacity: number;
  readonly headroom: number;
  private readonly packets: Packet[];
  private readonly freeStack: Uint32Array;
  private freeTop: number;
  /** Set when a slot is in use: catches double free and foreign packets. */
  private readonly inUse: Uint8Array;
  allocFailures = 0;

  /**
   * `slab` (optional, ≥ capacity × slotSize bytes) lets the caller choose the memory, e.g.
   * `wasmSlab(capacity * slotSize)` from src/wire/checksum-wasm.ts so that checksums over packet bytes
   * run in place with WebAssembly SIMD (no copy); by default a plain ArrayBuffer. `slabOffset` lets
   * several pools share one slab (then payload copies between them are copyWithin: no view allocated).
   */
  constructor(
    capacity: number,
    slotSize = SMALL_SLOT,
    headroom = DEFAULT_HEADROOM,
    slab: ArrayBufferLike = new ArrayBuffer(capacity * slotSize),
    slabOffset = 0,
  ) {
    if (headroom >= slotSize) throw new Error(`headroom ${headroom} >= slot size ${slotSize}`);
    if (slab.byteLength < slabOffset + capacity * slotSize)
      throw new Error(`slab of ${slab.byteLength} B < ${slabOffset} + ${capacity} × ${slotSize}`);
    this.slotSize = slotSize;
    this.capacity = capacity;
    this.headroom = headroom;
    this.packets = new Array(capacity);
    this.freeStack = new Uint32Array(capacity);
    this.inUse = new Uint8Array(capacity);
    for (let i = 0; i < capacity; i++) {
      this.packets[i] = new Packet(
        new Uint8Array(slab, slabOffset + i * slotSize, slotSize),
        i,
        headroom,
        this,
      );
      this.freeStack[i] = capacity - 1 - i;
    }
    this.freeTop = capacity;
  }

  get available(): number {
    return this.freeTop;
  }

  /** A reset packet, or null when the pool is empty (the caller counts a drop). */
  alloc(): Packet | null {
    if (this.freeTop === 0) {
      this.allocFailures++;
      return null;
    }
    const i = this.freeStack[--this.freeTop]!;
    this.inUse[i] = 1;
    const p = this.packets[i]!;
    p.reset(this.headroom);
    return p;
  }

  /** A packet holding a copy of `frame` after the headroom (what a NIC's DMA or a recvmmsg leaves), or null. */
  allocCopy(frame: Uint8Array): Packet | null {
    const p = this.alloc();
    if (p === null) return null;
    p.buf.set(frame, p.start);
    p.end = p.start + frame.length;
    return p;
  }

  free(p: Packet): void {
    const i = p.slot;
    if (this.packets[i] !== p) throw new Error('packet does not belong to this pool');
    if (this.inUse[i] === 0) throw new Error(`double free of slot ${i}`);
    this.inUse[i] = 0;
    this.freeStack[this.freeTop++] = i;
  }

  owns(p: Packet): boolean {
    return this.packets[p.slot] === p;
  }
}
