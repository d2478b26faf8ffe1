// Pipeline translation (cf. OVS ofproto/ofproto-dpif-xlate.c, much reduced): run a key through the
// OpenFlow tables from table 0, following goto_table and resubmit, and flatten what the matched flows
// do into one list of datapath actions. This is the slow path, run on a cache miss; its result (actions +
// the mask of bits it consulted) becomes a megaflow.
//
// Pipeline semantics: set_field / load / move / write_metadata change the key that later tables see
// (on a scratch copy); resubmit(port,table) looks up again with in_port replaced and then continues
// with the rest of the current actions; exit stops everything; a table miss drops (OF1.3 has no
// implicit controller miss). Depth is bounded like OVS (64 nested resubmits, 4096 table lookups).
import type { Action } from './actions.ts';
import { OFPP_IN_PORT, OFPP_NORMAL } from './actions.ts';
import { fieldMax, getField, setField } from './fields.ts';
import { type FlowKey, IN_PORT, METADATA, newKey } from './key.ts';
import type { FlowEntry, FlowTables } from './table.ts';

export const MAX_RESUBMIT_DEPTH = 64;
export const MAX_LOOKUPS = 4096;

/** What a translation produced. Reused by the caller (no allocation per translation beyond the lists). */
export interface Translation {
  /** Datapath actions in order (output, controller, set_field, load, move, vlan, ttl, queue). */
  actions: Action[];
  /** Flows that matched, in order (their counters are credited on every cache hit). */
  rules: FlowEntry[];
  /** Tables consulted, in order, and whether each matched (for `nvo trace`). */
  path: { table: number; entry: FlowEntry | null }[];
  /** Set when translation stopped because of a limit (the packet is then dropped). */
  error: string;
  /**
   * Resolves output:NORMAL against the switch's MAC table (the datapath installs it; null = NORMAL stays
   * an action run per packet). It pushes the actions that replace NORMAL onto `out.actions`, sets in
   * `wc` every bit its answer depended on, and may add entries to `out.xc` and `out.tags`.
   */
  normal: NormalHook | null;
  /** What the megaflow's hits must refresh, pushed from `FlowCache.pushStats` (OVS xlate cache, XC_NORMAL). */
  xc: XlateCacheEntry[];
  /**
   * Tags of what the answer depended on: each flow entry it matched (FlowEntry.tag) and side state it
   * read (a MAC-table entry, xlate-normal.ts macTag). When one changes, FlowCache removes the megaflows
   * that carry its tag and nothing else (OVS's revalidators re-translate flows after a flow-table or
   * MAC-learning change; the tags of OVS ≤ 2.0 did this).
   */
  tags: number[];
}

export type NormalHook = (k: FlowKey, wc: Uint32Array, out: Translation) => void;

/** Side state a translation consulted that a megaflow's hits keep alive (a learned MAC's age). */
export interface XlateCacheEntry {
  /** The megaflow was last used at `usedMs`. */
  push(usedMs: number): void;
}

const translationKey = newKey();

export function newTranslation(): Translation {
  return { actions: [], rules: [], path: [], error: '', normal: null, xc: [], tags: [] };
}

/**
 * Translates key k (left unchanged) through `tables`. `wc` receives the bits the result depends on; the
 * caller zeroes it first.
 */
export function translate(tables: FlowTables, k: FlowKey, wc: Uint32Array, out: Translation): Translation {
  empty(out.actions);
  empty(out.rules);
  empty(out.path);
  empty(out.xc);
  empty(out.tags);
  out.error = '';
  // The key later tables see: a module scratch (translation is synchronous and never nests), since a
  // fresh 76-word copy per upcall is an off-heap allocation.
  const scratch = translationKey;
  scratch.set(k);
  const st = { lookups: 0, exit: false };
  runTable(tables, 0, scratch, wc, out, 0, st);
  // A field rewritten on the scratch key and consulted afterwards leaves its bits in wc: the megaflow
  // then also pins the packet's original value there (more specific than needed, never wrong).
  if (out.error) empty(out.actions);
  return out;
}

/**
 * Empties a list the translation reuses, keeping its storage: `list.length = 0` makes V8 drop the
 * backing store, so the next push allocated a new one, 5 lists × ~150 B per upcall (measured here:
 * 152 B and ~0.8 µs per reset on a 3-element list; popping to empty allocates nothing).
 */
function empty(list: unknown[]): void {
  while (list.length > 0) list.pop();
}

function runTable(
  tables: FlowTables,
  table: number,
  k: FlowKey,
  wc: Uint32Array,
  out: Translation,
  depth: number,
  st: { lookups: number; exit: boolean },
): void {
  while (!st.exit) {
    if (++st.lookups > MAX_LOOKUPS) {
      out.error = `more than ${MAX_LOOKUPS} table lookups`;
      st.exit = true;
      return;
    }
    const e = tables.lookupTable(table, k, wc);
    out.path.push({ table, entry: e });
    if (e === null) return;
    out.rules.push(e);
    // Removing this entry or changing its actions re-translates the megaflow (FlowCache.revalidate).
    out.tags.push(e.tag);
    let next = -1;
    for (const a of e.actions) {
      if (st.exit) return;
      switch (a.kind) {
        case 'goto_table':
          next = a.table;
          break;
        case 'write_metadata': {
          const hi = Number((a.mask >> 32n) & 0xffffffffn);
          const lo = Number(a.mask & 0xffffffffn);
          k[METADATA] = ((k[METADATA]! & ~hi) | (Number((a.value >> 32n) & 0xffffffffn) & hi)) >>> 0;
          k[METADATA + 1] = ((k[METADATA + 1]! & ~lo) | (Number(a.value & 0xffffffffn) & lo)) >>> 0;
          break;
        }
        case 'resubmit': {
          if (depth >= MAX_RESUBMIT_DEPTH) {
            out.error = `resubmit nested deeper than ${MAX_RESUBMIT_DEPTH}`;
            st.exit = true;
            return;
          }
          const t = a.table === 255 ? table : a.table;
          if (t >= tables.nTables) break;
          const savedPort = k[IN_PORT]!;
          if (a.port !== OFPP_IN_PORT) k[IN_PORT] = a.port;
          runTable(tables, t, k, wc, out, depth + 1, st);
          k[IN_PORT] = savedPort;
          break;
        }
        case 'exit':
          st.exit = true;
          return;
        case 'note':
        case 'clear_actions':
          break;
        case 'set_field': {
          const cur = getField(k, a.field);
          setField(k, a.field, (cur & ~a.mask) | (a.value & a.mask));
          out.actions.push(a);
          break;
        }
        case 'load': {
          const m = ((1n << BigInt(a.nBits)) - 1n) << BigInt(a.ofs);
          const cur = getField(k, a.field);
          setField(k, a.field, (cur & ~m) | ((a.value << BigInt(a.ofs)) & m));
          out.actions.push(a);
          break;
        }
        case 'move': {
          const src = (getField(k, a.src) >> BigInt(a.srcOfs)) & ((1n << BigInt(a.nBits)) - 1n);
          // The moved value depends on the source bits: they are part of the answer.
          const sm = ((1n << BigInt(a.nBits)) - 1n) << BigInt(a.srcOfs);
          setField(wc, a.src, getField(wc, a.src) | (sm & fieldMax(a.src)));
          const m = ((1n << BigInt(a.nBits)) - 1n) << BigInt(a.dstOfs);
          const cur = getField(k, a.dst);
          setField(k, a.dst, (cur & ~m) | ((src << BigInt(a.dstOfs)) & m));
          out.actions.push(a);
          break;
        }
        case 'output':
          if (a.port === OFPP_NORMAL && out.normal !== null) out.normal(k, wc, out);
          else out.actions.push(a);
          break;
        default:
          out.actions.push(a);
      }
    }
    if (next < 0) return;
    table = next;
  }
}
