// What the IPv4, IPv6 and STT reassemblers share: a bounded ReassemblyTable, named counters, the
// result codes, and the drop / kill (RFC 5722 poisoning) / timer / release plumbing. Each subclass
// adds only its key, its checks and how it builds the output.
import { Counters } from '../packet/counters.ts';
import type { Packet } from '../packet/packet.ts';
import { ACTIVE, type ReassemblyTable } from './reassembly-limits.ts';

/** Results of process(). */
export const PASS = 0; //  not a fragment: go on with the packet
export const HELD = 1; //  fragment kept; the caller frees its packet
export const DONE = 2; //  datagram complete in `out`
export const DROP = 3; //  dropped; `lastDrop` is the counter id

export abstract class Reassembler {
  readonly table: ReassemblyTable;
  readonly counters: Counters;
  /** On DONE: the reassembly buffer holding the result (give it back with release()). */
  out: Packet | null = null;
  lastDrop = -1;

  constructor(table: ReassemblyTable, counterNames: readonly string[]) {
    this.table = table;
    this.counters = new Counters(counterNames);
  }

  protected drop(id: number): number {
    this.counters.v[id]!++;
    this.lastDrop = id;
    return DROP;
  }

  /** Drops the datagram in slot i and poisons its key until the timeout (RFC 5722). */
  protected kill(i: number, reason: number): number {
    if (this.table.state[i] === ACTIVE) this.table.poison(i);
    return this.drop(reason);
  }

  /** Expires datagrams older than the timeout. */
  tick(now: number): void {
    this.table.tick(now);
  }

  /** Gives a completed datagram's buffer back. */
  release(p: Packet): void {
    this.table.memory.release(p);
  }

  get inProgress(): number {
    return this.table.inUse;
  }

  snapshot(): Record<string, number> {
    return this.table.counters.snapshot(false, this.counters.snapshot());
  }
}
