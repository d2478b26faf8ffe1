// One measurement: warm up, calibrate an op count so a round lasts ~roundMs, run several rounds, and
// report ns/op as median, min and max over rounds, plus the GC activity (PerformanceObserver 'gc'
// entries) and heap growth seen during the measured rounds. A benchmark with zero GCs and ~zero heap
// growth over millions of ops allocates nothing per op, which is what the data path requires.
import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface Bench {
  /** e.g. `checksum/plain/1500`; the first segment is the group. */
  name: string;
  /** Runs the operation n times and returns something derived from every result (so none is dead code). */
  run(n: number): number;
  /** Bytes processed per op: adds a GB/s column. */
  bytes?: number;
  /** Builds the case's state; called once before warm-up, so it is never timed (nor calibrated on). */
  setup?(): void;
}

export interface Options {
  warmupMs: number;
  roundMs: number;
  rounds: number;
  /**
   * 'wall' (default): elapsed time. 'thread': the main thread's CPU time (process.threadCpuUsage, µs),
   * which leaves out the time the thread waited for a core: on a shared 2-core machine whose other
   * work (an iperf3 run, a test suite) takes the cores, wall-clock rounds measured the queue.
   */
  clock: 'wall' | 'thread';
}

export const DEFAULTS: Options = { warmupMs: 250, roundMs: 100, rounds: 9, clock: 'wall' };
export const QUICK: Options = { warmupMs: 50, roundMs: 20, rounds: 5, clock: 'wall' };

export interface Result {
  name: string;
  /** ns per op over rounds. */
  median: number;
  min: number;
  max: number;
  rounds: number;
  opsPerRound: number;
  /** GB/s at the median (1 GB = 1e9 bytes), when the bench declares bytes per op. */
  gbps?: number;
  gcCount: number;
  gcMs: number;
  /** heapUsed after the rounds − before (no GC forced in between); valid as allocation when gcCount = 0. */
  heapGrowth: number;
  /** heapGrowth / total ops when no GC ran during the rounds, else null (GC hid the growth). */
  bytesPerOp: number | null;
}

// --expose-gc without a command-line flag: set it, then fetch `gc` from a fresh context.
setFlagsFromString('--expose-gc');
const forceGc = runInNewContext('gc') as () => void;

let sink = 0;
/** Keeps results alive across calls so V8 cannot drop the work. */
export const consume = (x: number): void => {
  sink = (sink + x) | 0;
};
export const sinkValue = (): number => sink;

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** ns for n ops. performance.now() returns a double (hrtime.bigint() would allocate two BigInts). */
function timeRun(b: Bench, n: number, clock: Options['clock'] = 'wall'): number {
  if (clock === 'thread') {
    const c0 = process.threadCpuUsage();
    consume(b.run(n));
    const c1 = process.threadCpuUsage();
    return (c1.user + c1.system - c0.user - c0.system) * 1e3;
  }
  const t0 = performance.now();
  consume(b.run(n));
  return (performance.now() - t0) * 1e6;
}

export async function measure(b: Bench, opt: Options = DEFAULTS): Promise<Result> {
  // Warm-up doubles n until both the warm-up time has passed and one call lasts ≥ roundMs / 4:
  // the JIT has seen the code at every tier by then, and the calibration is done on optimised code.
  b.setup?.();
  let n = 1;
  const start = performance.now();
  let last = timeRun(b, n);
  while (performance.now() - start < opt.warmupMs || last < (opt.roundMs * 1e6) / 4) {
    if (last < opt.roundMs * 1e6) n *= 2;
    last = timeRun(b, n);
  }
  const opsPerRound = Math.max(1, Math.round((n * opt.roundMs * 1e6) / Math.max(last, 1)));

  forceGc();
  await tick();
  const gcs: PerformanceEntry[] = [];
  const obs = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  obs.observe({ entryTypes: ['gc'] });
  const perOp = new Float64Array(opt.rounds);
  const heap0 = process.memoryUsage().heapUsed;
  for (let r = 0; r < opt.rounds; r++) perOp[r] = timeRun(b, opsPerRound, opt.clock) / opsPerRound;
  const heapGrowth = process.memoryUsage().heapUsed - heap0;
  await tick(); // gc entries are delivered asynchronously
  obs.disconnect();

  const sorted = perOp.slice().sort();
  const median = sorted[sorted.length >> 1]!;
  const gcMs = gcs.reduce((s, e) => s + e.duration, 0);
  const res: Result = {
    name: b.name,
    median,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    rounds: opt.rounds,
    opsPerRound,
    gcCount: gcs.length,
    gcMs,
    heapGrowth,
    bytesPerOp: gcs.length === 0 ? heapGrowth / (opsPerRound * opt.rounds) : null,
  };
  if (b.bytes !== undefined) res.gbps = b.bytes / median;
  return res;
}
