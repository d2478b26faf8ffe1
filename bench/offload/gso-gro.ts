// Benchmark: software GSO of 64 KB TCP superframes into 1448-byte segments (Gbit/s of inner payload;
// goal ≥ 25) and GRO of in-order MTU segments back into superframes (Mpps; goal ≥ 3), each after
// warm-up, with heap growth and GC time over the measured part (goal: none).
//
//   node bench/offload/gso-gro.ts [--seconds 1] [--json] [--separate-slabs]
//
// Cases: GSO with checksums computed in software / left partial for the port (no payload pass);
// GRO with CSUM_VALID (the port vouched, as a vnet header DATA_VALID does) / with software verification.
// Frames: Ethernet + IPv4 + TCP with timestamps (66 B of headers), 65,160 B payload = 45 × 1448.
// Rates are given per second of this process's CPU time (the machine is shared: wall-clock rates drop
// with every other busy process) and per wall-clock second. GRO rates exclude the cost of making its
// input (measured separately and subtracted).
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Segmenter } from '../../src/offload/gso.ts';
import { Coalescer } from '../../src/offload/tcp-gro.ts';
import { Batch } from '../../src/packet/batch.ts';
import { CSUM_VALID, GSO_TCPV4, type Packet, SUPERFRAME } from '../../src/packet/packet.ts';
import { Pool, SMALL_SLOT, SUPER_SLOT } from '../../src/packet/pool.ts';
import { fold, sum } from '../../src/wire/checksum.ts';
import { SIMD_AVAILABLE, wasmSlab } from '../../src/wire/checksum-wasm.ts';
import type { Bench } from '../lib/measure.ts';

const MSS = 1448;
const SEGS = 45;
const PAYLOAD = MSS * SEGS;

/** A 64 KB TCP/IPv4 superframe with correct IP and TCP checksums (built here, independent of src/offload). */
export function superframeBytes(): Uint8Array {
  const hdr = 14 + 20 + 32;
  const f = new Uint8Array(hdr + PAYLOAD);
  const dv = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  f[14] = 0x45;
  dv.setUint16(16, 20 + 32 + PAYLOAD);
  dv.setUint16(18, 0x4242);
  dv.setUint16(20, 0x4000);
  f[22] = 64;
  f[23] = 6;
  f.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
  dv.setUint16(24, ~fold(sum(f, 14, 34)) & 0xffff);
  dv.setUint16(34, 40000);
  dv.setUint16(36, 5201);
  dv.setUint32(38, 123456);
  dv.setUint32(42, 654321);
  f[46] = 8 << 4;
  f[47] = 0x18;
  dv.setUint16(48, 502);
  f.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], 54);
  for (let i = hdr; i < f.length; i++) f[i] = (i * 7) & 0xff;
  const l4len = 32 + PAYLOAD;
  const pseudo = sum(f, 26, 34) + 6 + l4len;
  dv.setUint16(50, ~fold(sum(f, 34, f.length, pseudo)) & 0xffff);
  return f;
}

interface Gc {
  count: number;
  ms: number;
}
function gcWatch(): { gc: Gc; stop: () => void } {
  const gc: Gc = { count: 0, ms: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return { gc, stop: () => obs.disconnect() };
}

export interface Result {
  name: string;
  /** Per second of this process's CPU time (user + system): robust when other processes share the cores. */
  value: number;
  /** Per second of wall-clock time. */
  wall: number;
  unit: string;
  goal: number;
  heapGrowthKiB: number;
  gcCount: number;
  gcMs: number;
}

/** Runs `step` for `seconds` after a warm-up; `work` is what the steps return, summed. */
async function measure(
  name: string,
  unit: string,
  goal: number,
  seconds: number,
  step: () => number,
  scale: (work: number, s: number) => number,
  overheadCpuPerWork = 0,
): Promise<Result> {
  const warmEnd = performance.now() + 300;
  while (performance.now() < warmEnd) step();
  await new Promise((r) => setTimeout(r, 100)); // let GC entries from warm-up arrive before observing
  const w = gcWatch();
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let work = 0;
  while (performance.now() < end) work += step();
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6 - overheadCpuPerWork * work;
  const heap1 = process.memoryUsage().heapUsed;
  // GC entries are queued and delivered by a later turn of the event loop, not by setImmediate.
  await new Promise((r) => setTimeout(r, 100));
  w.stop();
  return {
    name,
    value: scale(work, cpuS),
    wall: scale(work, (t1 - t0) / 1000 - overheadCpuPerWork * work),
    unit,
    goal,
    heapGrowthKiB: Math.round((heap1 - heap0) / 1024),
    gcCount: w.gc.count,
    gcMs: Math.round(w.gc.ms * 10) / 10,
  };
}

/**
 * Pools: `separate` gives each pool its own ArrayBuffer (copies between them go through a subarray view,
 * checksums copy into wasm memory); `shared` cuts both from one wasmSlab (copies are copyWithin, sums run
 * in place with SIMD): no allocation per packet at all.
 */
export async function run(seconds = 1, slabs: 'separate' | 'shared' = 'shared'): Promise<Result[]> {
  const bytes = superframeBytes();
  const superBytes = 8 * SUPER_SLOT;
  const slab = slabs === 'shared' && SIMD_AVAILABLE ? wasmSlab(superBytes + 1024 * SMALL_SLOT) : null;
  const superPool = slab ? new Pool(8, SUPER_SLOT, undefined, slab, 0) : new Pool(8, SUPER_SLOT);
  const segPool = slab ? new Pool(1024, SMALL_SLOT, undefined, slab, superBytes) : new Pool(1024);
  const out = new Batch(256);
  const src = superPool.allocCopy(bytes)!;
  const results: Result[] = [];

  for (const partial of [false, true]) {
    const gso = new Segmenter({ pool: segPool, partial });
    const step = (): number => {
      src.flags = SUPERFRAME;
      src.gsoType = GSO_TCPV4;
      src.gsoSize = MSS;
      const n = gso.segment(src, out);
      for (let i = 0; i < out.count; i++) segPool.free(out.packets[i]!);
      out.clear();
      return n === SEGS ? PAYLOAD : 0;
    };
    results.push(
      await measure(
        `gso 64KB→1448 ${partial ? 'csum partial' : 'csum in software'}`,
        'Gbit/s',
        25,
        seconds,
        step,
        (w, s) => (w * 8) / s / 1e9,
      ),
    );
  }

  // GRO input: the 45 wire segments, kept as templates; each round copies them into fresh slots
  // (timed separately and subtracted) and feeds them through the coalescer.
  const templates: Uint8Array[] = [];
  {
    const gso = new Segmenter({ pool: segPool });
    src.flags = SUPERFRAME;
    src.gsoType = GSO_TCPV4;
    src.gsoSize = MSS;
    gso.segment(src, out);
    for (let i = 0; i < out.count; i++) {
      templates.push(out.packets[i]!.bytes());
      segPool.free(out.packets[i]!);
    }
    out.clear();
  }
  const inputs: Packet[] = new Array(SEGS);
  const refill = (valid: boolean) => {
    for (let i = 0; i < SEGS; i++) {
      const p = segPool.alloc()!;
      p.buf.set(templates[i]!, p.start);
      p.end = p.start + templates[i]!.length;
      p.flags = valid ? CSUM_VALID : 0;
      inputs[i] = p;
    }
  };
  // Cost of making the input (copying 45 segments into fresh slots and freeing them), per packet, to
  // subtract from the GRO loop: GRO consumes its input, so every round needs new packets.
  const refillOnly = await measure(
    'refill',
    'Mpps',
    0,
    seconds / 2,
    () => {
      refill(true);
      for (let i = 0; i < SEGS; i++) segPool.free(inputs[i]!);
      return SEGS;
    },
    (w, s) => w / s / 1e6,
  );
  const perPacketRefill = 1 / (refillOnly.value * 1e6);
  for (const valid of [true, false]) {
    const gro = new Coalescer({ superPool });
    const step = (): number => {
      refill(valid);
      for (let i = 0; i < SEGS; i++) gro.receive(inputs[i]!, out);
      gro.flush(out);
      for (let i = 0; i < out.count; i++) {
        const p = out.packets[i]!;
        p.owner!.free(p);
      }
      const ok = out.count === 1;
      out.clear();
      return ok ? SEGS : 0;
    };
    results.push(
      await measure(
        `gro 1448-B segments ${valid ? 'CSUM_VALID' : 'csum verified'}`,
        'Mpps',
        3,
        seconds,
        step,
        (w, s) => w / s / 1e6,
        perPacketRefill,
      ),
    );
  }
  return results;
}

/**
 * The same cases for `node bench/run.ts offload` (bench/lib/measure.ts: ns/op, GC, heap). An op is one
 * 64 KB superframe for GSO, and one round of 45 segments for GRO; `gro/refill` is the cost of making
 * those 45 input packets, included in the `gro/*` figures (subtract it).
 */
export function benches(): Bench[] {
  const bytes = superframeBytes();
  const superBytes = 8 * SUPER_SLOT;
  const slab = SIMD_AVAILABLE
    ? wasmSlab(superBytes + 1024 * SMALL_SLOT)
    : new ArrayBuffer(superBytes + 1024 * SMALL_SLOT);
  const superPool = new Pool(8, SUPER_SLOT, undefined, slab, 0);
  const segPool = new Pool(1024, SMALL_SLOT, undefined, slab, superBytes);
  const out = new Batch(256);
  const src = superPool.allocCopy(bytes)!;
  const gsoBench = (partial: boolean): Bench => {
    const gso = new Segmenter({ pool: segPool, partial });
    return {
      name: `offload/gso-64k-1448/${partial ? 'partial' : 'sw-csum'}`,
      bytes: PAYLOAD,
      run(n: number): number {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          src.flags = SUPERFRAME;
          src.gsoType = GSO_TCPV4;
          src.gsoSize = MSS;
          acc += gso.segment(src, out);
          for (let i = 0; i < out.count; i++) segPool.free(out.packets[i]!);
          out.clear();
        }
        return acc;
      },
    };
  };
  const templates: Uint8Array[] = [];
  src.flags = SUPERFRAME;
  src.gsoType = GSO_TCPV4;
  src.gsoSize = MSS;
  new Segmenter({ pool: segPool }).segment(src, out);
  for (let i = 0; i < out.count; i++) {
    templates.push(out.packets[i]!.bytes());
    segPool.free(out.packets[i]!);
  }
  out.clear();
  const inputs: Packet[] = new Array(SEGS);
  const refill = (flags: number) => {
    for (let i = 0; i < SEGS; i++) {
      const p = segPool.alloc()!;
      p.buf.set(templates[i]!, p.start);
      p.end = p.start + templates[i]!.length;
      p.flags = flags;
      inputs[i] = p;
    }
  };
  const groBench = (valid: boolean): Bench => {
    const gro = new Coalescer({ superPool });
    return {
      name: `offload/gro-45x1448/${valid ? 'csum-valid' : 'csum-verified'}`,
      run(n: number): number {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          refill(valid ? CSUM_VALID : 0);
          for (let i = 0; i < SEGS; i++) gro.receive(inputs[i]!, out);
          gro.flush(out);
          acc += out.count;
          for (let i = 0; i < out.count; i++) out.packets[i]!.owner!.free(out.packets[i]!);
          out.clear();
        }
        return acc;
      },
    };
  };
  return [
    gsoBench(false),
    gsoBench(true),
    groBench(true),
    groBench(false),
    {
      name: 'offload/gro-45x1448/refill',
      run(n: number): number {
        for (let k = 0; k < n; k++) {
          refill(0);
          for (let i = 0; i < SEGS; i++) segPool.free(inputs[i]!);
        }
        return n;
      },
    },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const si = args.indexOf('--seconds');
  const slabs = args.includes('--separate-slabs') ? 'separate' : 'shared';
  const res = await run(si >= 0 ? Number(args[si + 1]) : 1, slabs);
  console.log(
    `pools: ${slabs === 'shared' && SIMD_AVAILABLE ? 'one shared wasm slab' : 'separate ArrayBuffers'}`,
  );
  if (args.includes('--json')) console.log(JSON.stringify(res, null, 2));
  else
    for (const r of res) {
      console.log(
        `${r.name.padEnd(36)} ${r.value.toFixed(2).padStart(8)} ${r.unit.padEnd(7)} per CPU-s (goal ≥ ${r.goal}; ${r.wall.toFixed(2)} per wall-s)  heap +${r.heapGrowthKiB} KiB  gc ${r.gcCount}× ${r.gcMs} ms`,
      );
    }
}
