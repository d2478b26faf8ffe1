// The datapath's cache hierarchy in front of the OpenFlow tables (performance.md §2.1; OVS dpif-netdev):
//
//   key ──► EMC (exact key, fixed size, 2 candidate slots) ─hit──► megaflow's actions
//            │ miss
//            ▼
//          megaflow cache (wildcarded entries: tuple space, one hash table per mask, ranked by hits)
//            │ miss                                     ─hit──► actions (maybe insert into EMC)
//            ▼
//          upcall: translate through the OpenFlow tables (xlate.ts), install a megaflow whose mask is
//          exactly the bits the translation consulted.
//
// EMC inserts are probabilistic (OVS emc-insert-inv-prob, default 1 in 100) because inserting every miss
// thrashes the EMC when there are many flows.
//
// Revalidation, selective as OVS's revalidators (which re-translate every datapath flow): a megaflow
// carries tags of what its translation depended on, each flow entry it matched and each MAC-table
// entry NORMAL read. A table change (FlowTables.changesSince, seen on the next lookup) removes the
// megaflows tagged with an entry that went or got new actions, and those an added entry reaches (its
// table was looked up, it would outrank the entry that matched, its match overlaps the megaflow's);
// a MAC-table change removes the megaflows tagged with that MAC (invalidate). The rest keep answering.
// Past the change log or the revalidation budget, both caches are flushed.
// Steady-state hits allocate nothing: keys live in one Uint32Array, results are object references.

import { type CacheConfig, EMC_MIN_HIT_INV, EMC_SAMPLE, EMC_WINDOW } from './cache-config.ts';
import { addSubtable, findSubtable, removeSubtable } from './classifier.ts';
import { type FlowKey, hashMasked, KEY_WORDS, keyEquals } from './key.ts';
import { SHAPE_ALL, sameInShape } from './key-shape.ts';
import {
  Megaflow,
  MegaSubtable,
  matchesMasked,
  nonZeroWords,
  REVALIDATE_BUDGET,
  reaches,
} from './megaflow.ts';
import type { FlowTables } from './table.ts';
import { TagIndex } from './tag-index.ts';
import { newTranslation, translate } from './xlate.ts';

export const LEVEL_EMC = 1;
export const LEVEL_MEGAFLOW = 2;
export const LEVEL_UPCALL = 3;
export const LEVEL_NAMES = ['none', 'emc', 'megaflow', 'upcall'] as const;
export { type CacheConfig, EMC_MIN_HIT_INV, EMC_SAMPLE, EMC_WINDOW, Megaflow };

export class FlowCache {
  readonly tables: FlowTables;
  // EMC: slot i's key is emcKeys[i*KEY_WORDS .. +KEY_WORDS), of the shape kept in emcTag (key-shape.ts):
  // a hit compares the shape and then only its words (the run [0, 19) of 76 for IPv4/UDP), the rest 0.
  private readonly emcSize: number;
  private readonly emcMask: number;
  private readonly emcKeys: Uint32Array;
  /** Per slot: the key's hash (a probe's first test, 4 bytes a slot so the array stays in L1/L2). */
  private readonly emcHash: Int32Array;
  /**
   * Per slot: (generation << 8) | shape, tested after the hash matched: one array for both (with many
   * flows each array a hit reads is a cache miss).
   */
  private readonly emcTag: Int32Array;
  private readonly emcFlow: (Megaflow | null)[];
  private emcGeneration = 1;
  private readonly insertInvProb: number;
  /**
   * A uniform 32-bit draw below this inserts: probability ⌊2^32 / N⌋ / 2^32 = 1/N to within 2^-32. (The
   * draw `% N`, on a uint32 above 2^31, was a float modulo: 7 % of the time of the 100k-flow bench.)
   */
  private readonly insertBelow: number;
  private rng: number;
  private readonly autoBypass: boolean;
  /** While true, the EMC is probed for 1 packet in EMC_SAMPLE (see EMC_WINDOW). */
  emcBypass = false;
  private bypassTick = 0;
  private readonly emcWindow: number;
  private windowProbes = 0;
  private windowHits = 0;
  // Megaflows
  private subtables: MegaSubtable[] = [];
  private readonly byMask = new Map<number, MegaSubtable[]>();
  private megaflows = 0;
  readonly megaflowMax: number;
  private seenGeneration: number;
  private readonly wc = new Uint32Array(KEY_WORDS);
  private lastSubtable: MegaSubtable | null = null;
  /** The last megaflow hit found in the first-ranked subtable, lastFirst (megaflowLookup). */
  private lastHit: Megaflow | null = null;
  private lastFirst: MegaSubtable | null = null;
  private readonly xl = newTranslation();
  private sinceRank = 0;

  /** Level that answered the last lookup (LEVEL_*). */
  level = 0;
  // Counters (hits per level, inserts, flushes).
  emcHits = 0;
  megaflowHits = 0;
  upcalls = 0;
  /** Classifications that skipped the EMC because it was bypassed. */
  emcSkipped = 0;
  /** Times the EMC went into bypass. */
  emcBypasses = 0;
  emcInserts = 0;
  megaflowInstalls = 0;
  /** Upcalls whose megaflow was not installed because the cache was full. */
  megaflowFull = 0;
  flushes = 0;
  /**
   * Megaflows removed by revalidation or `invalidate` (a flow entry or MAC-table entry they depended on
   * changed), and the calls that removed any.
   */
  invalidated = 0;
  invalidations = 0;
  /**
   * Moves whenever a cached answer may have gone (a flush or an invalidation): a caller that kept one
   * (Switch.admit's previous-packet answer) compares this, not `flushes`.
   */
  epoch = 0;
  /** Installed megaflows by the tags they carry (Translation.tags). */
  private readonly byTag = new TagIndex();

  /** Entries in the tag index (each installed megaflow once per tag): bounded by the megaflows. */
  get taggedEntries(): number {
    return this.byTag.size;
  }

  constructor(tables: FlowTables, cfg: CacheConfig = {}) {
    this.tables = tables;
    const n = cfg.emcEntries ?? 8192;
    if (n & (n - 1)) throw new RangeError(`emcEntries must be a power of two, got ${n}`);
    this.emcSize = n;
    this.emcMask = n - 1;
    this.emcKeys = new Uint32Array(n * KEY_WORDS);
    this.emcHash = new Int32Array(n);
    this.emcTag = new Int32Array(n);
    this.emcFlow = new Array<Megaflow | null>(n).fill(null);
    this.insertInvProb = cfg.emcInsertInvProb ?? 100;
    this.insertBelow = this.insertInvProb > 1 ? Math.floor(2 ** 32 / this.insertInvProb) : 2 ** 32;
    this.megaflowMax = cfg.megaflowMax ?? 65536;
    this.rng = (cfg.seed ?? 0x9e3779b9) | 0 || 1;
    this.autoBypass = cfg.emcAutoBypass ?? true;
    this.emcWindow = cfg.emcWindow ?? EMC_WINDOW;
    this.seenGeneration = tables.generation;
    this.xl.normal = cfg.normal ?? null;
  }

  get megaflowCount(): number {
    return this.megaflows;
  }

  /** Drops every cached entry (called automatically when the tables' generation changes). */
  flush(): void {
    // Hits not yet pushed stand for learning the hit path skipped: dropped with their megaflows, a MAC
    // whose only traffic since the last tick rode a cached answer would age out early (OVS pushes a
    // deleted datapath flow's final stats the same way). A MAC that moved or went since is left alone
    // (MacLearning.touch).
    this.pushStats();
    this.subtables = [];
    this.byMask.clear();
    this.lastSubtable = null;
    this.megaflows = 0;
    this.byTag.clear();
    this.clearEmc();
    this.flushes++;
  }

  /** Empties the EMC and moves `epoch`: every answer kept outside the megaflow cache is void. */
  private clearEmc(): void {
    // Bumping the generation invalidates every EMC slot at once; clear the references on wrap.
    // 23 bits, so (generation << 8) | shape stays a positive int32. On wrap (after 8M flushes) every slot is
    // emptied: generation 0 is never current.
    this.emcGeneration = (this.emcGeneration + 1) & 0x7fffff || 1;
    if (this.emcGeneration === 1) {
      this.emcFlow.fill(null);
      this.emcTag.fill(0);
    }
    this.lastHit = null;
    this.lastFirst = null;
    this.epoch++;
  }

  /**
   * Removes the installed megaflows that carry any of tags[0, n) (their side state changed) and keeps
   * every other one: a MAC learned, moved or aged re-translates the flows that looked it up, not all of
   * them. The EMC is emptied (it refills from the megaflows, 1 insert in emcInsertInvProb hits) rather
   * than searched for the removed ones' slots. A megaflow installed by the upcall that made the change
   * (learning its own source) goes too and is installed again by the next packet: one more upcall.
   */
  invalidate(tags: ArrayLike<number>, n: number): void {
    let removed = 0;
    for (let i = 0; i < n; i++) removed += this.removeTagged(tags[i]!);
    this.removedSome(removed);
  }

  /** After a revalidation or invalidation removed `n` megaflows: counted, and the EMC emptied if n > 0. */
  private removedSome(n: number): void {
    if (n === 0) return;
    this.invalidated += n;
    this.invalidations++;
    this.clearEmc();
  }

  /** Removes the installed megaflows carrying `tag`; returns how many. */
  private removeTagged(tag: number): number {
    const list = this.byTag.take(tag);
    let removed = 0;
    if (list !== undefined) for (const mf of list) if (mf.installed) removed += this.remove(mf);
    return removed;
  }

  /** Takes one installed megaflow out of its subtable (its pending stats pushed first); returns 1. */
  private remove(mf: Megaflow): number {
    mf.pushStats();
    this.byTag.remove(mf);
    const st = mf.subtable!;
    const b = st.buckets.get(mf.bucket)!;
    b.splice(b.indexOf(mf), 1);
    if (b.length === 0) st.buckets.delete(mf.bucket);
    if (st.buckets.size === 0) {
      this.subtables.splice(this.subtables.indexOf(st), 1);
      removeSubtable(this.byMask, st);
      if (this.lastSubtable === st) this.lastSubtable = null;
    }
    mf.installed = false;
    mf.subtable = null;
    this.megaflows--;
    return 1;
  }

  /**
   * Classifies key k. Returns the megaflow whose actions apply, and sets `level`. Credits the matched
   * OpenFlow entries with one packet of `bytes` at time `now` (ms). `shape` and `hash` go together:
   * SHAPE_ALL with hashKey(k) for any key, or shapeOf(k) with hashShape(k, shape) for a key made by
   * extractKey (key-shape.ts), which makes an EMC hit compare only the shape's words.
   */
  lookup(k: FlowKey, hash: number, bytes: number, now: number, shape = SHAPE_ALL): Megaflow {
    const mf = this.classify(k, hash, shape);
    this.credit(mf, 1, bytes, now);
    return mf;
  }

  /** The tables changed since the caches were filled: the next classify revalidates them. */
  get stale(): boolean {
    return this.tables.generation !== this.seenGeneration;
  }

  /**
   * Brings the caches up to the tables' changes since they were filled (FlowTables.changesSince):
   * megaflows whose translation matched an entry that went or got new actions are removed (its tag),
   * and so are those an added entry can reach (reaches); the rest stay, with their EMC slots unless
   * any went. More changes than the log holds, or more added-entry × megaflow tests than
   * REVALIDATE_BUDGET, flush instead.
   */
  revalidate(): void {
    const g = this.tables.generation;
    if (g === this.seenGeneration) return;
    const changes = this.tables.changesSince(this.seenGeneration);
    this.seenGeneration = g;
    let added = 0;
    if (changes !== null) for (const c of changes) if (c.added) added++;
    if (changes === null || added * this.megaflows > REVALIDATE_BUDGET) {
      this.flush();
      return;
    }
    let removed = 0;
    for (const c of changes) if (!c.added) removed += this.removeTagged(c.entry.tag);
    if (added > 0)
      for (const st of this.subtables.slice())
        for (const b of [...st.buckets.values()])
          for (const mf of b.slice())
            for (const c of changes)
              if (c.added && reaches(c.entry, mf)) {
                removed += this.remove(mf);
                break;
              }
    this.removedSome(removed);
  }

  /**
   * lookup without the credit: the datapath classifies a burst packet by packet and credits each run of
   * packets that share a megaflow once (`credit`), as OVS dp_netdev counts a flow's batch. Hit counters
   * per level are per packet, here.
   */
  classify(k: FlowKey, hash: number, shape = SHAPE_ALL): Megaflow {
    this.revalidate();
    let mf: Megaflow | null = null;
    if (this.emcSize !== 0) {
      // The sample counter wraps at EMC_SAMPLE (a counter left to grow leaves the Smi range in minutes).
      if (!this.emcBypass || (this.bypassTick = (this.bypassTick + 1) & (EMC_SAMPLE - 1)) === 0) {
        mf = this.emcLookup(k, hash, shape);
        if (mf !== null) this.windowHits++;
        if (++this.windowProbes === this.emcWindow) this.judgeEmc();
      } else this.emcSkipped++;
    }
    if (mf !== null) {
      this.level = LEVEL_EMC;
      this.emcHits++;
    } else {
      mf = this.megaflowLookup(k);
      if (mf !== null) {
        this.level = LEVEL_MEGAFLOW;
        this.megaflowHits++;
      } else {
        mf = this.upcall(k);
        this.level = LEVEL_UPCALL;
        this.upcalls++;
      }
      if (mf.installed) this.maybeEmcInsert(k, hash, shape, mf);
    }
    return mf;
  }

  /** The window's verdict (EMC_WINDOW): bypass below one hit in EMC_MIN_HIT_INV probes. */
  private judgeEmc(): void {
    const thrashing = this.autoBypass && this.windowHits * EMC_MIN_HIT_INV < this.emcWindow;
    if (thrashing && !this.emcBypass) this.emcBypasses++;
    this.emcBypass = thrashing;
    this.windowProbes = 0;
    this.windowHits = 0;
  }

  /**
   * Counts an EMC hit the caller answered itself: the key equals the previous classify's, which was an
   * EMC hit, with no flush since and the EMC not bypassed (Switch.admit), so the EMC would give the same
   * entry.
   */
  repeatEmcHit(): void {
    this.level = LEVEL_EMC;
    this.emcHits++;
    // The probe it stands for, in the bypass window too (the caller answers only while not bypassed).
    this.windowHits++;
    if (++this.windowProbes === this.emcWindow) this.judgeEmc();
  }

  /** Credits `mf` and the OpenFlow entries it came from with `packets` packets of `bytes` in all, at `now` (ms). */
  credit(mf: Megaflow, packets: number, bytes: number, now: number): void {
    mf.hits += packets;
    mf.used = now;
    const rules = mf.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      r.packets += packets;
      r.bytes += bytes;
      r.lastUsed = now;
    }
  }

  /** Slot i holds k (the hash is compared first: one load rejects almost every wrong slot). */
  private emcHolds(i: number, k: FlowKey, hash: number, shape: number): boolean {
    return (
      this.emcHash[i] === hash &&
      this.emcTag[i] === ((this.emcGeneration << 8) | shape) &&
      sameInShape(k, this.emcKeys, i * KEY_WORDS, shape)
    );
  }

  private emcLookup(k: FlowKey, hash: number, shape: number): Megaflow | null {
    // Two candidate slots.
    let i = hash & this.emcMask;
    if (this.emcHolds(i, k, hash, shape)) return this.emcFlow[i]!;
    i = (hash >>> 13) & this.emcMask;
    if (this.emcHolds(i, k, hash, shape)) return this.emcFlow[i]!;
    return null;
  }

  private maybeEmcInsert(k: FlowKey, hash: number, shape: number, mf: Megaflow): void {
    if (this.emcSize === 0 || this.insertInvProb === 0) return;
    if (this.insertInvProb > 1) {
      // xorshift32: a cheap uniform draw; insert when it lands in the first 1/insertInvProb of the range.
      let x = this.rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.rng = x;
      if (x >>> 0 >= this.insertBelow) return;
    }
    const i1 = hash & this.emcMask;
    const i2 = (hash >>> 13) & this.emcMask;
    // Prefer a free / stale slot; else replace the first candidate.
    const g = this.emcGeneration;
    const tag = this.emcTag;
    const i = tag[i1]! >>> 8 !== g ? i1 : tag[i2]! >>> 8 !== g ? i2 : i1;
    this.emcKeys.set(k, i * KEY_WORDS);
    this.emcHash[i] = hash;
    tag[i] = (g << 8) | shape;
    this.emcFlow[i] = mf;
    this.emcInserts++;
  }

  private megaflowLookup(k: FlowKey): Megaflow | null {
    const sts = this.subtables;
    // The last hit, when it came from the first-ranked subtable (lastFirst) and matches k, is the answer
    // the probe below would give: that subtable is probed first, and within one subtable at most one
    // megaflow matches a key (an upcall installs only after the megaflows missed, and nothing but a
    // flush removes one). Its counters move as the probe's would. A masked compare of the subtable's
    // words instead of hashing them and a Map lookup: with many flows through few megaflows (EMC
    // misses) this is most lookups.
    const last = this.lastHit;
    if (last !== null && sts[0] === this.lastFirst && matchesMasked(k, last)) {
      const st = this.lastFirst!;
      st.hits++;
      if (++this.sinceRank >= 4096) this.rank();
      return last;
    }
    for (let s = 0; s < sts.length; s++) {
      const st = sts[s]!;
      const b = st.buckets.get(hashMasked(k, st.mask, st.words));
      if (b === undefined) continue;
      for (let j = 0; j < b.length; j++) {
        const mf = b[j]!;
        if (matchesMasked(k, mf)) {
          st.hits++;
          this.lastHit = s === 0 ? mf : null;
          this.lastFirst = s === 0 ? st : null;
          if (++this.sinceRank >= 4096) this.rank();
          return mf;
        }
      }
    }
    return null;
  }

  /** Most-hit subtables first (OVS dpcls subtable ranking): the average probes per hit tends to 1. */
  private rank(): void {
    this.sinceRank = 0;
    this.subtables.sort((a, b) => b.hits - a.hits);
    for (const st of this.subtables) st.hits >>>= 1;
  }

  private upcall(k: FlowKey): Megaflow {
    const wc = this.wc;
    wc.fill(0);
    translate(this.tables, k, wc, this.xl);
    if (this.megaflows >= this.megaflowMax) {
      this.megaflowFull++;
      const mask = wc.slice();
      return new Megaflow(k, mask, nonZeroWords(mask), this.xl);
    }
    // Upcalls come in runs with one mask (one rule set consulted the same way): try the last first.
    let st = this.lastSubtable;
    if (st === null || !keyEquals(st.mask, wc)) st = findSubtable(this.byMask, wc) ?? null;
    if (st === null) {
      st = new MegaSubtable(wc.slice());
      addSubtable(this.byMask, st);
      this.subtables.push(st);
    }
    this.lastSubtable = st;
    const mf = new Megaflow(k, st.mask, st.words, this.xl);
    const h = hashMasked(k, st.mask, st.words);
    // A new bucket as a one-element literal: `[]` and a push would allocate a 17-slot backing store.
    const b = st.buckets.get(h);
    if (b === undefined) st.buckets.set(h, [mf]);
    else b.push(mf);
    mf.installed = true;
    mf.subtable = st;
    mf.bucket = h;
    this.byTag.add(mf);
    this.megaflows++;
    this.megaflowInstalls++;
    return mf;
  }

  /**
   * Pushes each installed megaflow's last use to its xlate-cache entries (OVS's revalidator does this
   * with XC_NORMAL): a MAC learned on an upcall keeps its age from the megaflow's hits, so the hit path
   * does no learning. Timer path (Switch.tick), once per megaflow that was used since the last push.
   */
  pushStats(): void {
    for (const st of this.subtables) for (const b of st.buckets.values()) for (const mf of b) mf.pushStats();
  }

  /** Number of megaflow subtables (distinct masks). */
  get megaflowSubtables(): number {
    return this.subtables.length;
  }

  /** Every installed megaflow (for `nvo show` / dump-dp-flows style output). */
  *dumpMegaflows(): IterableIterator<Megaflow> {
    for (const st of this.subtables) for (const b of st.buckets.values()) yield* b;
  }
}
