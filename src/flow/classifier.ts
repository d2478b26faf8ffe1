// Tuple-space search classifier (Srinivasan et al. 1999; OVS lib/classifier.c, dpif-netdev dpcls): one
// hash table per distinct mask ("subtable"); a lookup hashes the key under each subtable's mask and
// probes that table. Subtables are kept sorted by the highest priority they hold, so the scan stops as
// soon as the best match found so far outranks every remaining subtable (priority pruning).
//
// Wildcard tracking: every subtable the lookup probes contributes its whole mask to `wc` (the bits the
// answer depended on); pruned subtables contribute nothing. A megaflow built as (key & wc, wc) then gives
// the same answer for every packet it matches, which is how OVS computes megaflow masks (without its
// staged lookup / prefix-trie refinements, so our megaflows are sometimes more specific than OVS's).
import { type FlowKey, hashKey, hashMasked, KEY_WORDS, keyEquals } from './key.ts';
import type { Match } from './match.ts';

/** What the classifier stores: a match, a priority and an insertion sequence (tie-break: older wins). */
export interface Rule {
  readonly match: Match;
  readonly priority: number;
  /** Set by the classifier on insert. */
  seq: number;
}

class Subtable<R extends Rule> {
  readonly mask: Uint32Array;
  /** Indexes of the non-zero mask words: the only words hashed and compared. */
  readonly words: Int32Array;
  /** hash(key & mask) → rules with that hash, best (priority desc, seq asc) first. */
  readonly buckets = new Map<number, R[]>();
  maxPriority = -1;
  count = 0;
  hits = 0;

  constructor(mask: Uint32Array) {
    this.mask = mask;
    const w: number[] = [];
    for (let i = 0; i < KEY_WORDS; i++) if (mask[i] !== 0) w.push(i);
    this.words = Int32Array.from(w);
  }
}

const better = (a: Rule, b: Rule): boolean =>
  a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);

/** Subtable by mask: a hash of the mask words, then an exact compare (cheaper than a string key). */
function findSubtable<S extends { mask: Uint32Array }>(
  m: Map<number, S[]>,
  mask: Uint32Array,
): S | undefined {
  const list = m.get(hashKey(mask));
  if (list) for (const st of list) if (keyEquals(st.mask, mask)) return st;
  return undefined;
}

function addSubtable<S extends { mask: Uint32Array }>(m: Map<number, S[]>, st: S): void {
  const h = hashKey(st.mask);
  const list = m.get(h);
  if (list) list.push(st);
  else m.set(h, [st]);
}

function removeSubtable<S extends { mask: Uint32Array }>(m: Map<number, S[]>, st: S): void {
  const h = hashKey(st.mask);
  const list = m.get(h);
  if (!list) return;
  list.splice(list.indexOf(st), 1);
  if (list.length === 0) m.delete(h);
}

export { addSubtable, findSubtable, removeSubtable };

export class Classifier<R extends Rule> {
  private subtables: Subtable<R>[] = [];
  private readonly byMask = new Map<number, Subtable<R>[]>();
  private nextSeq = 1;
  private n = 0;
  /** Subtables probed by lookups so far (for stats: probes / lookups ≈ subtables per lookup). */
  probes = 0;
  lookups = 0;

  get size(): number {
    return this.n;
  }

  get subtableCount(): number {
    return this.subtables.length;
  }

  insert(r: R): void {
    r.seq = this.nextSeq++;
    let st = findSubtable(this.byMask, r.match.mask);
    if (!st) {
      st = new Subtable<R>(r.match.mask.slice());
      addSubtable(this.byMask, st);
      this.subtables.push(st);
    }
    const h = hashMasked(r.match.value, st.mask, st.words);
    let b = st.buckets.get(h);
    if (!b) st.buckets.set(h, (b = []));
    let i = 0;
    while (i < b.length && better(b[i]!, r)) i++;
    b.splice(i, 0, r);
    st.count++;
    this.n++;
    if (r.priority > st.maxPriority) {
      st.maxPriority = r.priority;
      this.sortSubtables();
    }
  }

  /** Removes exactly this rule object; returns whether it was there. */
  remove(r: R): boolean {
    const st = findSubtable(this.byMask, r.match.mask);
    if (!st) return false;
    const h = hashMasked(r.match.value, st.mask, st.words);
    const b = st.buckets.get(h);
    const i = b ? b.indexOf(r) : -1;
    if (!b || i < 0) return false;
    b.splice(i, 1);
    if (b.length === 0) st.buckets.delete(h);
    st.count--;
    this.n--;
    if (st.count === 0) {
      removeSubtable(this.byMask, st);
      this.subtables.splice(this.subtables.indexOf(st), 1);
    } else if (r.priority === st.maxPriority) {
      let mp = -1;
      for (const bb of st.buckets.values()) if (bb[0]!.priority > mp) mp = bb[0]!.priority;
      st.maxPriority = mp;
      this.sortSubtables();
    }
    return true;
  }

  private sortSubtables(): void {
    this.subtables.sort((a, b) => b.maxPriority - a.maxPriority);
  }

  /**
   * Best rule for key k (highest priority; among equals the oldest), or null. If `wc` is given, ORs into
   * it the mask bits this answer depends on.
   */
  lookup(k: FlowKey, wc: Uint32Array | null): R | null {
    let best: R | null = null;
    const sts = this.subtables;
    this.lookups++;
    for (let s = 0; s < sts.length; s++) {
      const st = sts[s]!;
      // Sorted by maxPriority: nothing here or later can beat (or tie-and-precede) the best so far,
      // except an equal-priority older rule, so stop only when strictly lower.
      if (best !== null && st.maxPriority < best.priority) break;
      this.probes++;
      const mask = st.mask;
      const words = st.words;
      if (wc !== null)
        for (let i = 0; i < words.length; i++) {
          const w = words[i]!;
          wc[w] = wc[w]! | mask[w]!;
        }
      const b = st.buckets.get(hashMasked(k, mask, words));
      if (b === undefined) continue;
      for (let j = 0; j < b.length; j++) {
        const r = b[j]!;
        const v = r.match.value;
        let ok = true;
        for (let i = 0; i < words.length; i++) {
          const w = words[i]!;
          if ((k[w]! & mask[w]!) >>> 0 !== v[w]) {
            ok = false;
            break;
          }
        }
        if (ok) {
          if (best === null || better(r, best)) best = r;
          st.hits++;
          break;
        }
      }
    }
    return best;
  }

  /** Every rule (any order). */
  *rules(): IterableIterator<R> {
    for (const st of this.subtables) for (const b of st.buckets.values()) yield* b;
  }

  /** The rule with exactly this match and priority (strict identity), or null. */
  findExact(m: Match, priority: number): R | null {
    const st = findSubtable(this.byMask, m.mask);
    if (!st) return null;
    const b = st.buckets.get(hashMasked(m.value, st.mask, st.words));
    if (!b) return null;
    for (const r of b) if (r.priority === priority && r.match.equals(m)) return r;
    return null;
  }

  clear(): void {
    this.subtables = [];
    this.byMask.clear();
    this.n = 0;
  }
}
