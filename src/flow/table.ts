// OpenFlow tables with OpenFlow 1.3 FLOW_MOD semantics (spec §6.4; openflow-etcd.md §4):
//   ADD            replace the entry with the same match+priority (keep counters unless RESET_COUNTS),
//                  else insert; CHECK_OVERLAP refuses an overlapping entry at the same priority.
//   MODIFY         replace the actions of every entry the match covers (cookie-filtered); none = no-op.
//   MODIFY_STRICT  the same for the entry with exactly this match+priority.
//   DELETE         remove every covered entry (cookie, out_port filtered); table 255 = all tables.
//   DELETE_STRICT  remove the entry with exactly this match+priority.
// Timeouts are in seconds (OpenFlow); time is an explicit `now` in milliseconds so tests control it.
// Every change bumps `generation`, which the caches compare, and is logged (changesSince): the entries
// added, and the entries removed or given new actions, so that a cache re-translates only what a
// change can reach (FlowCache.revalidate).

import type { ActionProgram } from './action-program.ts';
import {
  type Action,
  checkActions,
  FF_CHECK_OVERLAP,
  FF_RESET_COUNTS,
  type FlowSpec,
  OFPP_ANY,
  outputsTo,
} from './actions.ts';
import { Classifier, type Rule } from './classifier.ts';
import type { FlowKey } from './key.ts';
import { checkPrereqs, type Match } from './match.ts';

let entryTags = 0;

/** One installed flow: the spec plus counters. Entries are owned by the table; callers read them. */
export class FlowEntry implements Rule {
  /** Its tag in the translations that matched it (Translation.tags): unique per entry made. */
  readonly tag = (0x40000000 + ++entryTags) | 0;
  readonly match: Match;
  readonly priority: number;
  seq = 0;
  readonly table: number;
  cookie: bigint;
  actions: Action[];
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  importance: number;
  packets = 0;
  bytes = 0;
  /** ms */
  created: number;
  /** ms, last time a packet matched (for idle timeout) */
  lastUsed: number;
  /**
   * `actions` compiled, for the megaflows of upcalls this rule alone answered (cache.ts programOf), and
   * the list it was compiled from: a FLOW_MOD modify gives the rule a new list, and so a new program.
   */
  program: ActionProgram | null = null;
  programFor: readonly Action[] | null = null;

  constructor(spec: FlowSpec, now: number) {
    this.match = spec.match.clone();
    this.priority = spec.priority;
    this.table = spec.table;
    this.cookie = spec.cookie;
    this.actions = spec.actions;
    this.idleTimeout = spec.idleTimeout;
    this.hardTimeout = spec.hardTimeout;
    this.flags = spec.flags;
    this.importance = spec.importance;
    this.created = now;
    this.lastUsed = now;
  }
}

export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';

/** OFPT_ERROR (type, code) names an OpenFlow front end maps to numbers (openflow-etcd.md §8). */
export type FlowModErrorCode =
  | 'TABLE_FULL'
  | 'BAD_TABLE_ID'
  | 'OVERLAP'
  | 'BAD_TIMEOUT'
  | 'BAD_COMMAND'
  | 'BAD_PREREQ'
  | 'MATCH_INCONSISTENT'
  | 'BAD_GOTO_TABLE';

export interface FlowModError {
  code: FlowModErrorCode;
  message: string;
}

export interface FlowModResult {
  error: FlowModError | null;
  /** Entries removed by this mod (for FLOW_REMOVED when they have SEND_FLOW_REM). */
  removed: FlowEntry[];
}

export type RemovedReason = 'idle_timeout' | 'hard_timeout' | 'delete';

export interface TablesConfig {
  /** Number of tables (ids 0..n-1). Default 8 (OVS offers 255; 8 is plenty for an overlay pipeline). */
  tables?: number;
  /** Flows per table before ADD fails with TABLE_FULL. Default 100000. */
  maxFlowsPerTable?: number;
}

/** A change to the tables: `entry` added, or (added false) removed or given new actions, at `generation`. */
export interface TableChange {
  readonly generation: number;
  readonly entry: FlowEntry;
  readonly added: boolean;
}

/** Changes kept for changesSince; a cache that saw fewer flushes instead. */
export const CHANGE_LOG = 256;

export class FlowTables {
  readonly nTables: number;
  readonly maxFlowsPerTable: number;
  readonly tables: Classifier<FlowEntry>[];
  /** Bumped by every change that can alter a lookup result. */
  generation = 0;
  private readonly log: TableChange[] = [];
  /** Every change of a generation above this is in `log`. */
  private logFloor = 0;
  /** Per-table lookup / matched counts (OFPMP_TABLE). */
  readonly lookupCount: Float64Array;
  readonly matchedCount: Float64Array;

  constructor(cfg: TablesConfig = {}) {
    this.nTables = cfg.tables ?? 8;
    this.maxFlowsPerTable = cfg.maxFlowsPerTable ?? 100_000;
    this.tables = [];
    for (let i = 0; i < this.nTables; i++) this.tables.push(new Classifier<FlowEntry>());
    this.lookupCount = new Float64Array(this.nTables);
    this.matchedCount = new Float64Array(this.nTables);
  }

  /** Applies one FLOW_MOD. Never throws on bad input: errors come back as FlowModError. */
  apply(cmd: FlowModCommand, spec: FlowSpec, now: number): FlowModResult {
    const removed: FlowEntry[] = [];
    const err = (code: FlowModErrorCode, message: string): FlowModResult => ({
      error: { code, message },
      removed,
    });
    const allTables = spec.table === 255;
    if (allTables ? cmd !== 'delete' && cmd !== 'delete_strict' : spec.table >= this.nTables)
      return err(
        'BAD_TABLE_ID',
        `table ${spec.table} does not exist (this switch has tables 0..${this.nTables - 1})`,
      );
    if (cmd === 'add' || cmd === 'modify' || cmd === 'modify_strict') {
      const pre = checkPrereqs(spec.match);
      if (pre) return err('BAD_PREREQ', pre);
      const act = checkActions(spec.actions, spec.match);
      if (act) return err('MATCH_INCONSISTENT', act);
      for (const a of spec.actions)
        if (a.kind === 'goto_table' && (a.table <= spec.table || a.table >= this.nTables))
          return err(
            'BAD_GOTO_TABLE',
            `goto_table:${a.table} from table ${spec.table}: must go to a later existing table`,
          );
    }
    switch (cmd) {
      case 'add': {
        const t = this.tables[spec.table]!;
        const old = t.findExact(spec.match, spec.priority);
        if (spec.flags & FF_CHECK_OVERLAP) {
          for (const r of t.rules())
            if (r !== old && r.priority === spec.priority && r.match.overlaps(spec.match))
              return err(
                'OVERLAP',
                `flow overlaps an existing flow at priority ${spec.priority} in table ${spec.table}`,
              );
        }
        if (!old && t.size >= this.maxFlowsPerTable)
          return err('TABLE_FULL', `table ${spec.table} is full (${this.maxFlowsPerTable} flows)`);
        const e = new FlowEntry(spec, now);
        if (old) {
          if (!(spec.flags & FF_RESET_COUNTS)) {
            e.packets = old.packets;
            e.bytes = old.bytes;
          }
          t.remove(old);
        }
        t.insert(e);
        this.generation++;
        if (old) this.note(old, false);
        this.note(e, true);
        return { error: null, removed };
      }
      case 'modify':
      case 'modify_strict':
        this.generation++;
        for (const e of this.select(spec, cmd === 'modify_strict')) {
          e.actions = spec.actions;
          if (spec.flags & FF_RESET_COUNTS) e.packets = e.bytes = 0;
          this.note(e, false);
        }
        return { error: null, removed };
      case 'delete':
      case 'delete_strict':
        for (const e of this.select(spec, cmd === 'delete_strict')) {
          this.tables[e.table]!.remove(e);
          removed.push(e);
        }
        if (removed.length) this.generation++;
        for (const e of removed) this.note(e, false);
        return { error: null, removed };
      default:
        return err('BAD_COMMAND', `unknown flow_mod command ${cmd as string}`);
    }
  }

  /** Entries a modify/delete applies to: covered (or strictly equal) match, cookie and out_port filters. */
  select(spec: FlowSpec, strict: boolean): FlowEntry[] {
    const out: FlowEntry[] = [];
    const from = spec.table === 255 ? 0 : spec.table;
    const to = spec.table === 255 ? this.nTables - 1 : spec.table;
    for (let t = from; t <= to; t++) {
      for (const e of this.tables[t]!.rules()) {
        if (
          strict ? !(e.priority === spec.priority && e.match.equals(spec.match)) : !spec.match.covers(e.match)
        )
          continue;
        if (spec.cookieMask !== 0n && (e.cookie & spec.cookieMask) !== (spec.cookie & spec.cookieMask))
          continue;
        if (spec.outPort !== OFPP_ANY && !outputsTo(e.actions, spec.outPort)) continue;
        out.push(e);
      }
    }
    return out;
  }

  /** Removes expired flows; returns them with why. Call from a timer with the current time. */
  expire(now: number): { entry: FlowEntry; reason: RemovedReason }[] {
    const out: { entry: FlowEntry; reason: RemovedReason }[] = [];
    for (const t of this.tables) {
      for (const e of t.rules()) {
        if (e.hardTimeout && now - e.created >= e.hardTimeout * 1000)
          out.push({ entry: e, reason: 'hard_timeout' });
        else if (e.idleTimeout && now - e.lastUsed >= e.idleTimeout * 1000)
          out.push({ entry: e, reason: 'idle_timeout' });
      }
    }
    for (const { entry } of out) this.tables[entry.table]!.remove(entry);
    if (out.length) this.generation++;
    for (const { entry } of out) this.note(entry, false);
    return out;
  }

  private note(entry: FlowEntry, added: boolean): void {
    this.log.push({ generation: this.generation, entry, added });
    if (this.log.length > CHANGE_LOG) this.logFloor = this.log.shift()!.generation;
  }

  /**
   * The changes made after generation g, oldest first; null when the log no longer reaches back to g
   * (more than CHANGE_LOG changes since: the caller flushes).
   */
  changesSince(g: number): readonly TableChange[] | null {
    if (g < this.logFloor) return null;
    let i = this.log.length;
    while (i > 0 && this.log[i - 1]!.generation > g) i--;
    return this.log.slice(i);
  }

  /** One table's best entry for key k; ORs the consulted mask bits into wc. */
  lookupTable(table: number, k: FlowKey, wc: Uint32Array | null): FlowEntry | null {
    this.lookupCount[table] += 1;
    const e = this.tables[table]!.lookup(k, wc);
    if (e) this.matchedCount[table] += 1;
    return e;
  }

  /** Every entry, table by table, priority descending (dump-flows order). */
  dump(table = 255): FlowEntry[] {
    const out: FlowEntry[] = [];
    for (let t = 0; t < this.nTables; t++) {
      if (table !== 255 && t !== table) continue;
      const rs = [...this.tables[t]!.rules()];
      rs.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      out.push(...rs);
    }
    return out;
  }

  get flowCount(): number {
    let n = 0;
    for (const t of this.tables) n += t.size;
    return n;
  }
}
