// A reusable batch of packet references (VPP frame / Snabb link burst). Fixed capacity, made once;
// `next` holds a per-packet output index so a node classifies the whole batch, then one step moves
// each packet on (VPP's nexts[]).
import type { Packet } from './packet.ts';

export const BATCH_SIZE = 64;

export class Batch {
  readonly packets: (Packet | null)[];
  readonly next: Uint16Array;
  count = 0;
  readonly capacity: number;

  constructor(capacity = BATCH_SIZE) {
    this.capacity = capacity;
    this.packets = new Array(capacity).fill(null);
    this.next = new Uint16Array(capacity);
  }

  /** False when full (the caller counts a drop and frees the packet). */
  push(p: Packet): boolean {
    if (this.count === this.capacity) return false;
    this.packets[this.count++] = p;
    return true;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  clear(): void {
    for (let i = 0; i < this.count; i++) this.packets[i] = null;
    this.count = 0;
  }
}
