// A megaflow: one cached translation (OVS dp_netdev_flow), the subtable of megaflows that share its
// mask, and the compiled program its hits run. FlowCache (cache.ts) installs, finds and removes them.
import { ActionProgram } from './action-program.ts';
import type { Action } from './actions.ts';
import { type FlowKey, KEY_WORDS } from './key.ts';
import type { Match } from './match.ts';
import type { FlowEntry } from './table.ts';
import type { Translation, XlateCacheEntry } from './xlate.ts';

/**
 * A cached translation: packets whose key & mask equals `value` on the mask's non-zero words get
 * `actions`. `value[j]` is word `words[j]` (OVS keeps a miniflow the same way): a megaflow that pins
 * one word stores 4 bytes, not 304, and a small typed array lives on V8's heap (≤ 64 bytes), so an
 * upcall allocates no off-heap memory.
 */
export class Megaflow {
  readonly value: Uint32Array;
  readonly mask: Uint32Array;
  readonly words: Int32Array;
  readonly actions: Action[];
  /** `actions` compiled for the data path (action-program.ts). */
  readonly program: ActionProgram;
  /** The OpenFlow entries the translation matched, credited with packets/bytes on every hit. */
  readonly rules: FlowEntry[];
  /** Translation trace (tables visited), for `nvo trace`. */
  readonly path: { table: number; entry: FlowEntry | null }[];
  readonly error: string;
  /** Side state to refresh while the megaflow is used (learned MACs), pushed by FlowCache.pushStats. */
  readonly xc: XlateCacheEntry[];
  /** Tags of the side state its translation read (Translation.tags): FlowCache.invalidate's index. */
  readonly tags: number[];
  /** Where it is installed: its subtable and the bucket (masked-key hash) it is filed under. */
  subtable: MegaSubtable | null = null;
  bucket = 0;
  hits = 0;
  /** Time (ms) of the last hit, and of the last one pushed to `xc`. */
  used = 0;
  pushed = -1;
  installed = false;

  /** Pushes the last use to the xlate-cache entries, if it was used since the last push. */
  pushStats(): void {
    if (this.xc.length === 0 || this.used === this.pushed || this.hits === 0) return;
    this.pushed = this.used;
    for (const x of this.xc) x.push(this.used);
  }

  /** `mask` and `words` (its non-zero words) are kept, not copied: an installed megaflow shares its subtable's. */
  constructor(k: FlowKey, mask: Uint32Array, words: Int32Array, t: Translation) {
    this.mask = mask;
    this.words = words;
    this.value = new Uint32Array(words.length);
    for (let j = 0; j < words.length; j++) this.value[j] = (k[words[j]!]! & mask[words[j]!]!) >>> 0;
    this.actions = t.actions.slice();
    this.program = programOf(t);
    this.rules = t.rules.slice();
    this.path = t.path.slice();
    this.error = t.error;
    this.xc = t.xc.length === 0 ? NO_XC : t.xc.slice();
    this.tags = t.tags.length === 0 ? NO_TAGS : t.tags.slice();
  }
}

/**
 * A translation's compiled actions. When they are exactly one rule's action list (the usual upcall: one
 * flow matched, no goto_table or resubmit), the program compiled for that list is reused (an
 * ActionProgram is immutable): upcalls for many flows through one rule compile it once, not per flow.
 * Valid while the rule keeps that list (a FLOW_MOD modify gives it a new one).
 */
function programOf(t: Translation): ActionProgram {
  if (t.rules.length !== 1) return new ActionProgram(t.actions);
  const rule = t.rules[0]!;
  const ra = rule.actions;
  if (ra.length !== t.actions.length) return new ActionProgram(t.actions);
  for (let i = 0; i < ra.length; i++) if (ra[i] !== t.actions[i]) return new ActionProgram(t.actions);
  if (rule.program === null || rule.programFor !== ra) {
    rule.program = new ActionProgram(ra);
    rule.programFor = ra;
  }
  return rule.program;
}

/** k & mf.mask == mf.value on the megaflow's words. */
export function matchesMasked(k: FlowKey, mf: Megaflow): boolean {
  const words = mf.words;
  const mask = mf.mask;
  const v = mf.value;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if ((k[w]! & mask[w]!) >>> 0 !== v[i]) return false;
  }
  return true;
}

/** The `xc` of every megaflow without side state (most): one shared empty list, not one per upcall. */
const NO_XC: XlateCacheEntry[] = [];
const NO_TAGS: number[] = [];

export function nonZeroWords(mask: Uint32Array): Int32Array {
  const w: number[] = [];
  for (let i = 0; i < KEY_WORDS; i++) if (mask[i] !== 0) w.push(i);
  return Int32Array.from(w);
}

export class MegaSubtable {
  readonly mask: Uint32Array;
  readonly words: Int32Array;
  readonly buckets = new Map<number, Megaflow[]>();
  hits = 0;
  constructor(mask: Uint32Array) {
    this.mask = mask;
    this.words = nonZeroWords(mask);
  }
}

/**
 * Added-entry × megaflow tests one revalidation may make before it flushes instead (each is a walk of
 * the megaflow's path and, often, a 76-word compare: ≈ 100 ns, so ≈ 0.1 s at the limit).
 */
export const REVALIDATE_BUDGET = 1 << 20;

/**
 * Can adding entry e change what megaflow mf answers? Not when its translation never looked e's table
 * up. When the first lookup was in e's table, the key there is the packet's own: e reaches mf only if
 * some key mf covers matches e (their matches overlap) and e would win there (outranks the entry that
 * matched, or nothing did). A later lookup may see a key the actions rewrote: any such is reached.
 */
export function reaches(e: FlowEntry, mf: Megaflow): boolean {
  const path = mf.path;
  for (let i = 0; i < path.length; i++) {
    const step = path[i]!;
    if (step.table !== e.table) continue;
    if (i > 0) return true;
    // A tie goes to the older entry (classifier.ts), and e is the newest.
    const won = step.entry;
    if (won !== null && won.priority >= e.priority) continue;
    if (overlaps(mf, e.match)) return true;
  }
  return false;
}

/** Some key that mf covers also matches m: they agree wherever both fix bits. */
function overlaps(mf: Megaflow, m: Match): boolean {
  const words = mf.words;
  for (let j = 0; j < words.length; j++) {
    const w = words[j]!;
    if ((mf.value[j]! ^ m.value[w]!) & mf.mask[w]! & m.mask[w]!) return false;
  }
  return true;
}
