// Event-loop integration: ports wake the loop only when they have something (uv_poll on the fd for the
// native back ends, socket events for node:dgram), so an idle switch burns no CPU; a busy one runs
// bursts back to back. Each wake-up drains a port for at most `budget` bursts, then yields to the
// loop; uv_poll is level-triggered, so a port that still has data is called again on the next turn
// (fairness between ports without a timer). After each burst the handler runs with the batch and must
// empty it (forward + tx flush): flushing at the end of every burst is what keeps latency low at low
// load (performance.md §9 G3: a batch never waits for more packets to arrive).
import { Batch } from '../packet/batch.ts';
import type { IoBackend } from './io-backend.ts';

/** Called with a non-empty batch of received packets; must consume them (free or pass on) and clear(). */
export type BurstHandler = (port: IoBackend, batch: Batch) => void;

export interface PollerOptions {
  /** Bursts per wake-up before yielding to the event loop (default 8). */
  budget?: number;
  /** Packets per burst (default 64). */
  burst?: number;
}

interface Entry {
  port: IoBackend;
  handler: BurstHandler;
  batch: Batch;
}

export class Poller {
  readonly budget: number;
  readonly burst: number;
  private readonly entries = new Map<IoBackend, Entry>();
  /** Wake-ups, bursts run, and wake-ups that found nothing (spurious or raced). */
  wakeups = 0;
  bursts = 0;
  emptyWakeups = 0;

  constructor(o: PollerOptions = {}) {
    this.budget = o.budget ?? 8;
    this.burst = o.burst ?? 64;
  }

  add(port: IoBackend, handler: BurstHandler): void {
    if (this.entries.has(port)) throw new Error(`port ${port.name} is already polled`);
    const e: Entry = { port, handler, batch: new Batch(this.burst) };
    this.entries.set(port, e);
    port.onReadable(() => this.service(e));
  }

  remove(port: IoBackend): void {
    if (!this.entries.delete(port)) return;
    port.onReadable(null);
  }

  /** Runs up to `budget` bursts now (also usable without the event loop, e.g. in benchmarks). */
  service(e: Entry): number {
    this.wakeups++;
    let total = 0;
    for (let i = 0; i < this.budget; i++) {
      const n = e.port.rxBurst(e.batch);
      if (n === 0) break;
      total += n;
      this.bursts++;
      e.handler(e.port, e.batch);
      if (e.batch.count !== 0)
        throw new Error(`handler for ${e.port.name} left ${e.batch.count} packets in the batch`);
      if (n < e.batch.capacity) break;
    }
    if (total === 0) this.emptyWakeups++;
    return total;
  }

  close(): void {
    for (const port of [...this.entries.keys()]) this.remove(port);
  }
}
