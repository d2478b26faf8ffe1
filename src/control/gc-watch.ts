// Garbage collections of this process since watchGc(), for `nvo stats` (process.gc): the data path is
// meant to allocate nothing per packet, and a benchmark reads these before and after a run to show it
// on real traffic (bench/e2e/paths.ts). node:perf_hooks reports each collection as a 'gc' entry with
// its duration; the observer's own cost is per collection, not per packet.

import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

let observer: PerformanceObserver | null = null;
/** Switches in this process that asked (tests run several): the observer stops with the last. */
let users = 0;
let collections = 0;
let ms = 0;

/** Starts counting for one more user. */
export function watchGc(): void {
  if (users++ > 0) return;
  observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      collections++;
      ms += e.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}

export function stopGcWatch(): void {
  if (users === 0 || --users > 0) return;
  observer?.disconnect();
  observer = null;
}

/** Collections and their total milliseconds since watchGc(), and the V8 heap in use now (bytes). */
export function gcStats(): { collections: number; ms: number; heapUsed: number } {
  return { collections, ms: Math.round(ms * 1000) / 1000, heapUsed: getHeapStatistics().used_heap_size };
}
