// Bounded state shared by IPv4, IPv6 and STT reassembly: the buffer memory (one cap for all of them),
// the table of datagrams/frames in progress, timeouts, eviction and the counters of each.
//
// Memory. A datagram in progress owns one buffer: a super-slot Packet (pool.ts SUPER_SLOT, 68,096 B)
// into which every fragment is copied at its final place, so completion hands that very Packet to the
// caller with no second copy. The cap is honest: buffers = floor(memoryBytes / SUPER_SLOT), all made
// at start-up, and a completed datagram keeps counting against the cap until the caller releases it.
//   default 4 MiB (Linux ipfrag_high_thresh, OVS STT REASM_HI_THRESH) → floor(4,194,304 / 68,096) = 61
// When no buffer is free, the oldest datagram holding one (in any table sharing the memory) is evicted
// — Linux instead refuses new fragments until queues expire; evicting the oldest keeps a flood of
// never-completing datagrams from starving the ones that complete in microseconds (OVS STT's LRU).
//
// Table. Entries are keyed by a few u32 words (IPv4: src, dst, proto|id; IPv6: src, dst, id; STT:
// src, dst, ack), chained in typed arrays with a per-table random hash seed (no hash flooding). An
// entry is ACTIVE (has a buffer) or POISONED (RFC 5722 overlap: buffer freed, key kept until its
// timeout so the rest of the datagram is dropped too). When the table is full the oldest entry goes.
// Time is an explicit `now` in milliseconds: expiry happens on lookup and in `tick(now)`.

import { Counters } from '../packet/counters.ts';
import type { Packet } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { RangeSet } from './holes.ts';

export interface ReassemblyConfig {
  /** Buffer memory shared by the tables using one ReassemblyMemory (default 4 MiB). */
  memoryBytes: number;
  /** Datagrams/frames in progress per table, poisoned keys included (default 1024). */
  maxEntries: number;
  /** Disjoint pieces per datagram before it is dropped (default 256: a 65,535 B datagram at the IPv4
   *  minimum-reassembly MTU 576 is 119 fragments). */
  maxPieces: number;
  /** From the first piece (RFC 791 suggests 15 s; Linux ipfrag_time 30 s, OVS STT 30 s). */
  timeoutMs: number;
}

export const DEFAULT_CONFIG: ReassemblyConfig = {
  memoryBytes: 4 * 1024 * 1024,
  maxEntries: 1024,
  maxPieces: 256,
  timeoutMs: 30_000,
};

/** Bytes before the data area of a buffer (after the pool headroom): room for copied headers. */
export const FRONT = 512;

export class ReassemblyMemory {
  readonly pool: Pool;
  readonly buffers: number;
  private readonly tables: ReassemblyTable[] = [];

  /**
   * `slab`/`slabOffset` (optional): where the buffers live, e.g. one slab shared with the receive pools
   * so that copying a fragment in is a copyWithin (see copyBytes); needs buffers × SUPER_SLOT bytes.
   */
  constructor(memoryBytes = DEFAULT_CONFIG.memoryBytes, slab?: ArrayBufferLike, slabOffset = 0) {
    this.buffers = Math.max(1, Math.floor(memoryBytes / SUPER_SLOT));
    this.pool = new Pool(
      this.buffers,
      SUPER_SLOT,
      undefined,
      slab ?? new ArrayBuffer(this.buffers * SUPER_SLOT),
      slabOffset,
    );
  }

  register(t: ReassemblyTable): void {
    this.tables.push(t);
  }

  /** Bytes of buffer memory in use (in progress + completed and not yet released). */
  get bytesInUse(): number {
    return (this.buffers - this.pool.available) * SUPER_SLOT;
  }

  /** A buffer, evicting the oldest in-progress datagram of any table if needed; null if all are held. */
  acquire(): Packet | null {
    const p = this.pool.alloc();
    if (p !== null) return p;
    let best: ReassemblyTable | null = null;
    let bestIdx = -1;
    let bestBorn = Number.POSITIVE_INFINITY;
    for (const t of this.tables) {
      const i = t.oldestWithBuffer();
      if (i >= 0 && t.born[i]! < bestBorn) {
        best = t;
        bestIdx = i;
        bestBorn = t.born[i]!;
      }
    }
    if (best === null) return null;
    best.evict(bestIdx);
    return this.pool.alloc();
  }

  release(p: Packet): void {
    this.pool.free(p);
  }
}

export const FREE = 0;
export const ACTIVE = 1;
export const POISONED = 2;

// Table-level counter ids (names are `<dir>-<proto>-<what>` with the table's prefix).
export const C_TIMEOUT = 0; //  incomplete datagram expired
export const C_EVICTED = 1; //  incomplete datagram evicted for memory or table space
export const C_NO_MEMORY = 2; // piece dropped: every buffer is held by completed, unreleased datagrams
const TABLE_COUNTERS = ['timeout', 'evicted', 'no-memory'];

/** Per-entry integer scratch for the protocol module (header lengths, flags, …). */
export const AUX_WORDS = 8;

export class ReassemblyTable {
  readonly config: ReassemblyConfig;
  readonly memory: ReassemblyMemory;
  readonly keyWords: number;
  readonly capacity: number;
  /** The caller writes the key here before find()/insert(). */
  readonly key: Uint32Array;
  readonly keys: Uint32Array;
  readonly state: Uint8Array;
  readonly born: Float64Array;
  /** Total length once the last piece is known, else -1. */
  readonly total: Int32Array;
  readonly pieces: Uint32Array;
  readonly aux: Int32Array;
  readonly buffers: (Packet | null)[];
  readonly ranges: RangeSet[];
  readonly counters: Counters;
  inUse = 0;
  private readonly hashes: Int32Array;
  private readonly heads: Int32Array;
  private readonly next: Int32Array;
  private readonly freeList: Int32Array;
  private freeTop: number;
  private readonly mask: number;
  private readonly seed: number;

  constructor(prefix: string, keyWords: number, config: ReassemblyConfig, memory: ReassemblyMemory) {
    this.config = config;
    this.memory = memory;
    this.keyWords = keyWords;
    const cap = Math.max(1, config.maxEntries);
    this.capacity = cap;
    this.key = new Uint32Array(keyWords);
    this.keys = new Uint32Array(cap * keyWords);
    this.state = new Uint8Array(cap);
    this.born = new Float64Array(cap);
    this.total = new Int32Array(cap);
    this.pieces = new Uint32Array(cap);
    this.aux = new Int32Array(cap * AUX_WORDS);
    this.buffers = new Array(cap).fill(null);
    this.ranges = [];
    const pieces = Math.max(1, config.maxPieces);
    const store = new Uint32Array(cap * pieces * 2);
    for (let i = 0; i < cap; i++)
      this.ranges.push(new RangeSet(pieces, store.subarray(i * pieces * 2, (i + 1) * pieces * 2)));
    this.hashes = new Int32Array(cap);
    let nb = 1;
    while (nb < cap * 2) nb <<= 1;
    this.mask = nb - 1;
    this.heads = new Int32Array(nb).fill(-1);
    this.next = new Int32Array(cap).fill(-1);
    this.freeList = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.freeList[i] = cap - 1 - i;
    this.freeTop = cap;
    this.seed = (Math.random() * 0x100000000) >>> 0;
    this.counters = new Counters(TABLE_COUNTERS.map((w) => `drop-${prefix}-${w}`));
    memory.register(this);
  }

  private hashKey(): number {
    // murmur3-style mixing of each word with a per-table random seed.
    let h = this.seed;
    const k = this.key;
    for (let i = 0; i < this.keyWords; i++) {
      let w = Math.imul(k[i]!, 0xcc9e2d51);
      w = (w << 15) | (w >>> 17);
      h ^= Math.imul(w, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    // Signed: an int32 stays a small integer, where h >>> 0 above 2^31 is a heap number (16 B) per call.
    return h | 0;
  }

  private keyEquals(i: number): boolean {
    const base = i * this.keyWords;
    for (let w = 0; w < this.keyWords; w++) if (this.keys[base + w] !== this.key[w]) return false;
    return true;
  }

  /** The entry for `key`, or -1. An expired entry is reaped here (and counted if it was incomplete). */
  find(now: number): number {
    const h = this.hashKey();
    let i = this.heads[h & this.mask]!;
    while (i >= 0) {
      if (this.hashes[i] === h && this.keyEquals(i)) {
        if (now - this.born[i]! >= this.config.timeoutMs) {
          this.expire(i);
          return -1;
        }
        return i;
      }
      i = this.next[i]!;
    }
    return -1;
  }

  /**
   * A new ACTIVE entry for `key` (not present), or -1 when no buffer can be had. `poisoned`: a
   * tombstone straight away (the datagram is already known to be bad), which takes no buffer.
   */
  insert(now: number, poisoned = false): number {
    if (this.freeTop === 0) {
      const old = this.oldest();
      this.counters.v[C_EVICTED]! += this.state[old] === ACTIVE ? 1 : 0;
      this.remove(old);
    }
    const buf = poisoned ? null : this.memory.acquire();
    if (buf === null && !poisoned) {
      this.counters.v[C_NO_MEMORY]!++;
      return -1;
    }
    const i = this.freeList[--this.freeTop]!;
    const h = this.hashKey();
    this.hashes[i] = h;
    this.keys.set(this.key, i * this.keyWords);
    const b = h & this.mask;
    this.next[i] = this.heads[b]!;
    this.heads[b] = i;
    this.state[i] = poisoned ? POISONED : ACTIVE;
    this.born[i] = now;
    this.total[i] = -1;
    this.pieces[i] = 0;
    this.aux.fill(0, i * AUX_WORDS, (i + 1) * AUX_WORDS);
    this.buffers[i] = buf;
    this.ranges[i]!.clear();
    this.inUse++;
    return i;
  }

  /** RFC 5722: drop everything received, keep the key until its timeout so later pieces drop too. */
  poison(i: number): void {
    const buf = this.buffers[i];
    if (buf) this.memory.release(buf);
    this.buffers[i] = null;
    this.state[i] = POISONED;
  }

  /** Completion: the buffer now belongs to the caller; the entry is freed. */
  take(i: number): Packet {
    const buf = this.buffers[i]!;
    this.buffers[i] = null;
    this.remove(i);
    return buf;
  }

  evict(i: number): void {
    this.counters.v[C_EVICTED]!++;
    this.remove(i);
  }

  private expire(i: number): void {
    if (this.state[i] === ACTIVE) this.counters.v[C_TIMEOUT]!++;
    this.remove(i);
  }

  remove(i: number): void {
    const buf = this.buffers[i];
    if (buf) this.memory.release(buf);
    this.buffers[i] = null;
    const b = this.hashes[i]! & this.mask;
    let j = this.heads[b]!;
    if (j === i) this.heads[b] = this.next[i]!;
    else {
      while (j >= 0 && this.next[j] !== i) j = this.next[j]!;
      if (j >= 0) this.next[j] = this.next[i]!;
    }
    this.next[i] = -1;
    this.state[i] = FREE;
    this.freeList[this.freeTop++] = i;
    this.inUse--;
  }

  private oldest(): number {
    let best = -1;
    let t = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.capacity; i++)
      if (this.state[i] !== FREE && this.born[i]! < t) {
        t = this.born[i]!;
        best = i;
      }
    return best;
  }

  oldestWithBuffer(): number {
    let best = -1;
    let t = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.capacity; i++)
      if (this.buffers[i] !== null && this.born[i]! < t) {
        t = this.born[i]!;
        best = i;
      }
    return best;
  }

  /** Expires every entry older than the timeout; returns how many went. */
  tick(now: number): number {
    if (this.inUse === 0) return 0;
    let n = 0;
    for (let i = 0; i < this.capacity; i++)
      if (this.state[i] !== FREE && now - this.born[i]! >= this.config.timeoutMs) {
        this.expire(i);
        n++;
      }
    return n;
  }
}

/** True when dst[d, d + len) equals src[so, so + len) (telling a duplicate from a rewrite). */
export function sameBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}
