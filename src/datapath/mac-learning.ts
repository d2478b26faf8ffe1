// The NORMAL action's MAC table (OVS lib/mac-learning.c; Linux vxlan FDB): per L2 domain (a VNI, or a
// VLAN on a plain bridge), MAC → port, plus the remote VTEP the MAC sits behind when the port is a
// tunnel. Entries age out (default 300 s, as OVS and the Linux bridge; removed by `expire` on the timer,
// so up to one tick — 1 s in the daemon — later, and lookups never test an age) and the table is bounded
// (default 8192 entries; when full, a new MAC is not learned and `full` counts it).
//
// An open-addressing hash table in typed arrays, keyed by (domain, MAC high 16 bits, MAC low 32 bits)
// read straight from the frame: no MAC ever becomes a JS number above 2^31 (which V8 boxes), so learning
// and lookup allocate nothing. Linear probing at ≤ 50 % load; aging and port flushes rebuild the table
// (timer / control path), so there are no tombstones.
import { clockMs } from './clock.ts';

export const DEFAULT_AGING_MS = 300_000;
export const DEFAULT_MAX_ENTRIES = 8192;
/** Changed entries remembered between two syncs (Switch.syncMacs); past this, all caches are flushed. */
export const MAX_CHANGES = 256;

/**
 * The tag of (domain, MAC hi:lo) in megaflows that read it (xlate-normal.ts) and in the change log: a
 * hash, so two entries may share one and a change then removes a few megaflows more than it must.
 */
export function macTag(domain: number, hi: number, lo: number): number {
  let h =
    Math.imul(domain ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(hi + 1, 0x85ebca6b) ^ Math.imul(lo, 0xc2b2ae35);
  h ^= h >>> 16;
  return Math.imul(h, 0x27d4eb2f) | 0;
}

const EMPTY = 0;

export class MacLearning {
  readonly agingMs: number;
  readonly maxEntries: number;
  private readonly mask: number;
  /** domain + 1 (0 = empty slot). */
  private readonly kDomain: Uint32Array;
  private readonly kHi: Uint32Array;
  private readonly kLo: Uint32Array;
  private readonly ports: Int32Array;
  private readonly seen: Float64Array;
  private readonly remoteVersions: Uint8Array;
  /** 16 bytes per slot: the remote VTEP (IPv4 in the first 4). */
  readonly remotes: Uint8Array;
  private size = 0;
  /**
   * Bumped by every change of the table: a MAC learned, moved, aged out or flushed. NORMAL resolved at
   * translation (xlate-normal.ts) caches answers tagged with the entries they read, and when this moves
   * the switch removes the megaflows tagged with a changed entry (`changes`; OVS revalidates on
   * MAC-learning changes). A new MAC changes no answer given, strictly (a flow to an unknown MAC stays
   * output:NORMAL, run per packet), but without that its flow would stay on the per-packet path for as
   * long as its megaflow lives.
   */
  generation = 0;
  /**
   * Tags (macTag) of the entries changed since the last clearChanges, the first MAX_CHANGES of them;
   * `overflow` says more changed (then the caches are flushed whole).
   */
  readonly changes = new Int32Array(MAX_CHANGES);
  changeCount = 0;
  overflow = false;
  learned = 0;
  moved = 0;
  full = 0;
  aged = 0;

  constructor(opts: { agingMs?: number; maxEntries?: number } = {}) {
    this.agingMs = opts.agingMs ?? DEFAULT_AGING_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    let cap = 16;
    while (cap < this.maxEntries * 2) cap *= 2;
    this.mask = cap - 1;
    this.kDomain = new Uint32Array(cap);
    this.kHi = new Uint32Array(cap);
    this.kLo = new Uint32Array(cap);
    this.ports = new Int32Array(cap);
    this.seen = new Float64Array(cap);
    this.remoteVersions = new Uint8Array(cap);
    this.remotes = new Uint8Array(cap * 16);
  }

  get count(): number {
    return this.size;
  }

  /** Slot of (domain, MAC at b[o..o+6)), or of the empty slot where it would go (negative: -1 - slot). */
  private find(domain: number, hi: number, lo: number): number {
    let h =
      Math.imul(domain ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi, 0xc2b2ae35) ^ Math.imul(lo, 0x27d4eb2f);
    h ^= h >>> 15;
    let i = h & this.mask;
    const d1 = (domain + 1) >>> 0;
    for (;;) {
      const k = this.kDomain[i]!;
      if (k === EMPTY) return -1 - i;
      if (k === d1 && this.kLo[i] === lo && this.kHi[i] === hi) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Learns the MAC at b[o..o+6) in `domain` on `port` (behind `remote` when `remoteVersion` ≠ 0). */
  learn(
    domain: number,
    b: Uint8Array,
    o: number,
    port: number,
    remoteVersion: number,
    remote: Uint8Array | null,
    now: number,
  ): void {
    const hi = (b[o]! << 8) | b[o + 1]!;
    const lo = ((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0;
    let i = this.find(domain, hi, lo);
    if (i < 0) {
      if (this.size >= this.maxEntries) {
        this.full++;
        return;
      }
      i = -1 - i;
      this.kDomain[i] = (domain + 1) >>> 0;
      this.kHi[i] = hi;
      this.kLo[i] = lo;
      this.size++;
      this.learned++;
      this.changed(domain, hi, lo);
    } else if (this.ports[i] === port && this.sameRemote(i, remoteVersion, remote)) {
      // The usual case (every packet of a known sender): only the age moves, no rewrite of the entry.
      this.seen[i] = now;
      return;
    } else {
      this.moved++;
      this.changed(domain, hi, lo);
    }
    this.ports[i] = port;
    this.seen[i] = now;
    this.remoteVersions[i] = remoteVersion;
    if (remote !== null && remoteVersion !== 0) {
      const n = remoteVersion === 4 ? 4 : 16;
      const at = i * 16;
      for (let j = 0; j < n; j++) this.remotes[at + j] = remote[j]!;
    }
  }

  /** Logs a change of (domain, hi:lo) and moves `generation`. */
  private changed(domain: number, hi: number, lo: number): void {
    this.generation++;
    if (this.changeCount < MAX_CHANGES) this.changes[this.changeCount++] = macTag(domain, hi, lo);
    else this.overflow = true;
  }

  /** The caches have seen every change so far (Switch.syncMacs). */
  clearChanges(): void {
    this.changeCount = 0;
    this.overflow = false;
  }

  /**
   * Refreshes the age of (domain, MAC hi:lo) on `port` to `now` if that is newer: a megaflow's hits,
   * pushed on the timer or at a cache flush, stand for the per-packet learning they skipped. An entry that moved or went is
   * left alone (the caches were flushed then, and the next packet learns again).
   */
  touch(domain: number, hi: number, lo: number, port: number, now: number): void {
    const i = this.find(domain, hi, lo);
    if (i >= 0 && this.ports[i] === port && this.seen[i]! < now) this.seen[i] = now;
  }

  private sameRemote(i: number, v: number, r: Uint8Array | null): boolean {
    if (this.remoteVersions[i] !== v) return false;
    if (v === 0 || r === null) return true;
    const at = i * 16;
    const n = v === 4 ? 4 : 16;
    for (let j = 0; j < n; j++) if (this.remotes[at + j] !== r[j]) return false;
    return true;
  }

  /**
   * The entry's slot for (domain, MAC at b[o..]), or -1. Age is not checked here: an entry lives until
   * `expire` (the tick) removes it, as in OVS (mac_learning_lookup / mac_learning_run). A switch that
   * caches NORMAL's answers refreshes ages from hits only on the tick (xlate-normal.ts), so an age test
   * here would see a stale age between ticks and answer differently from per-packet learning.
   */
  lookup(domain: number, b: Uint8Array, o: number): number {
    const hi = (b[o]! << 8) | b[o + 1]!;
    const lo = ((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0;
    const i = this.find(domain, hi, lo);
    return i < 0 ? -1 : i; // find's negative answers also say where to insert
  }

  portOf(slot: number): number {
    return this.ports[slot]!;
  }

  remoteVersionOf(slot: number): number {
    return this.remoteVersions[slot]!;
  }

  /** Keeps the entries `keep` accepts; rebuilds the table (timer / control path). */
  private rebuild(keep: (i: number) => boolean): number {
    const live: number[] = [];
    for (let i = 0; i <= this.mask; i++) {
      if (this.kDomain[i] === EMPTY) continue;
      if (keep(i)) live.push(i);
      else this.changed(this.kDomain[i]! - 1, this.kHi[i]!, this.kLo[i]!);
    }
    const removed = this.size - live.length;
    const saved = live.map((i) => ({
      d: this.kDomain[i]! - 1,
      hi: this.kHi[i]!,
      lo: this.kLo[i]!,
      port: this.ports[i]!,
      seen: this.seen[i]!,
      v: this.remoteVersions[i]!,
      r: this.remotes.slice(i * 16, i * 16 + 16),
    }));
    this.kDomain.fill(EMPTY);
    this.size = 0;
    for (const e of saved) {
      const i = -1 - this.find(e.d, e.hi, e.lo);
      this.kDomain[i] = (e.d + 1) >>> 0;
      this.kHi[i] = e.hi;
      this.kLo[i] = e.lo;
      this.ports[i] = e.port;
      this.seen[i] = e.seen;
      this.remoteVersions[i] = e.v;
      this.remotes.set(e.r, i * 16);
      this.size++;
    }
    return removed;
  }

  /** Drops aged entries (call from a timer, not per packet). */
  expire(now: number): void {
    let any = false;
    for (let i = 0; i <= this.mask && !any; i++)
      any = this.kDomain[i] !== EMPTY && now - this.seen[i]! > this.agingMs;
    if (any) this.aged += this.rebuild((i) => now - this.seen[i]! <= this.agingMs);
  }

  /** Forgets every MAC on a port (port deleted or link down). */
  flushPort(port: number): void {
    this.rebuild((i) => this.ports[i] !== port);
  }

  dump(now = clockMs()): { domain: number; mac: string; port: number; remote: string; ageMs: number }[] {
    const out: { domain: number; mac: string; port: number; remote: string; ageMs: number }[] = [];
    for (let i = 0; i <= this.mask; i++) {
      if (this.kDomain[i] === EMPTY) continue;
      const hex = (v: number, n: number) => v.toString(16).padStart(n, '0');
      const m = hex(this.kHi[i]!, 4) + hex(this.kLo[i]!, 8);
      const v = this.remoteVersions[i]!;
      out.push({
        domain: this.kDomain[i]! - 1,
        mac: m.replace(/(..)(?!$)/g, '$1:'),
        port: this.ports[i]!,
        remote: v === 4 ? Array.from(this.remotes.subarray(i * 16, i * 16 + 4)).join('.') : v ? 'ipv6' : '',
        ageMs: now - this.seen[i]!,
      });
    }
    return out;
  }
}
