// Benchmark: IPv4 fragmentation + reassembly (Mpps of fragments through both; goal ≥ 1) and STT
// segmentation + reassembly (Gbit/s of STT frame bytes), after warm-up, with GC count/time and heap
// growth over the measured part (goal: none — the data path allocates nothing per packet).
//
//   node bench/offload/frag-stt.ts [--json]        (or import benches() into a bench/run.ts suite)
//
// Cases
//   ipv4/3000@1500     3,000 B UDP datagram → 3 fragments → reassembled (the common "1500 + encap" case)
//   ipv4/65000@1500    65,000 B datagram → 44 fragments → reassembled (VXLAN-SOE outer datagrams)
//   stt/64k@1500       65,535 B STT frame → 45 segments, TCP checksum per segment, reassembled with the
//                      checksum verified in software
//   stt/64k@1500/valid same, the port vouched for the checksums (CSUM_VALID, as a vnet DATA_VALID)
// Each op runs the fragments in order through the reassembler and releases the result.
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { FRAGMENTED, fragment4 } from '../../src/offload/ipv4-fragment.ts';
import { DONE, Ipv4Reassembler } from '../../src/offload/ipv4-reassemble.ts';
import { ReassemblyMemory } from '../../src/offload/reassembly-limits.ts';
import { DONE as STT_DONE, SttReassembler } from '../../src/offload/stt-reassemble.ts';
import { SEGMENTED, SttSegmenter } from '../../src/offload/stt-segment.ts';
import { Batch } from '../../src/packet/batch.ts';
import { CSUM_VALID } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { fold, sum } from '../../src/wire/checksum.ts';
import { SIMD_AVAILABLE, wasmSlab } from '../../src/wire/checksum-wasm.ts';
import { machine } from '../lib/machine.ts';
import { type Bench, DEFAULTS, measure } from '../lib/measure.ts';

interface Case {
  name: string;
  /** Runs one op; returns packets handled (fragments or segments) and bytes of the big unit. */
  op(now: number): number;
  unitBytes: number;
  piecesPerOp: number;
}

// One slab for every pool and for the reassembly memories, so payload copies are copyWithin (no view
// objects): FRAG_SLOTS small slots, BIG_SLOTS super slots, then 2 reassembly buffers per case.
const FRAG_SLOTS = 512;
const BIG_SLOTS = 8;
const CASES = 4;
const SLAB_BYTES = FRAG_SLOTS * 2048 + (BIG_SLOTS + 2 * CASES) * SUPER_SLOT;
// In WebAssembly memory when SIMD is there: checksums then read packet bytes in place (no copy).
const slab = SIMD_AVAILABLE ? wasmSlab(SLAB_BYTES) : new ArrayBuffer(SLAB_BYTES);
const frag = new Pool(FRAG_SLOTS, 2048, undefined, slab, 0);
const big = new Pool(BIG_SLOTS, SUPER_SLOT, undefined, slab, FRAG_SLOTS * 2048);
let nextMemory = 0;
/** The next 2-buffer reassembly memory carved from the shared slab. */
function memory(): ReassemblyMemory {
  const at = FRAG_SLOTS * 2048 + (BIG_SLOTS + 2 * nextMemory++) * SUPER_SLOT;
  return new ReassemblyMemory(2 * SUPER_SLOT, slab, at);
}

function ipv4Datagram(payload: number): ReturnType<Pool['alloc']> {
  const p = big.alloc()!;
  const b = p.buf;
  const s = p.start;
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], s);
  const ip = s + 14;
  b[ip] = 0x45;
  const tl = 20 + payload;
  b[ip + 2] = tl >> 8;
  b[ip + 3] = tl & 255;
  b[ip + 8] = 64;
  b[ip + 9] = 17;
  b.set([10, 0, 0, 1, 10, 0, 0, 2], ip + 12);
  const c = ~fold(sum(b, ip, ip + 20)) & 0xffff;
  b[ip + 10] = c >> 8;
  b[ip + 11] = c & 255;
  for (let i = 0; i < payload; i++) b[ip + 20 + i] = i * 7;
  p.end = ip + tl;
  p.l2 = s;
  p.l3 = ip;
  return p;
}

function ipv4Case(payload: number, mtu: number): Case {
  const dgram = ipv4Datagram(payload)!;
  const out = new Batch(256);
  const r = new Ipv4Reassembler({}, memory());
  let id = 0;
  const n = 1 + Math.ceil((payload - (mtu - 20)) / ((mtu - 20) & ~7));
  return {
    name: `ipv4/${payload}@${mtu}`,
    unitBytes: payload + 20,
    piecesPerOp: n,
    op(now) {
      id = (id + 1) & 0xffff;
      dgram.buf[dgram.l3 + 4] = id >> 8; // a new datagram each time (fragment4 keeps a fragment's ID)
      if (fragment4(dgram, mtu, id, frag, out) !== FRAGMENTED) throw new Error('fragment4');
      let done = 0;
      for (let i = 0; i < out.count; i++) {
        const q = out.packets[i]!;
        if (r.process(q, now) === DONE) {
          done++;
          r.release(r.out!);
        }
        frag.free(q);
      }
      const k = out.count;
      out.clear();
      if (done !== 1) throw new Error('not reassembled');
      return k;
    },
  };
}

function sttCase(valid: boolean): Case {
  const frame = big.alloc()!;
  frame.end = frame.start + 65535;
  for (let i = 0; i < 65535; i++) frame.buf[frame.start + i] = i * 13;
  const s = new SttSegmenter();
  const out = new Batch(256);
  const r = new SttReassembler({}, memory());
  return {
    name: `stt/64k@1500${valid ? '/valid' : ''}`,
    unitBytes: 65535,
    piecesPerOp: 45,
    op(now) {
      if (s.segment(frame, 1500, frag, out) !== SEGMENTED) throw new Error('segment');
      let done = 0;
      for (let i = 0; i < out.count; i++) {
        const q = out.packets[i]!;
        if (valid) q.flags |= CSUM_VALID;
        if (r.process(q, now) === STT_DONE) {
          done++;
          r.release(r.out!);
        }
        frag.free(q);
      }
      const k = out.count;
      out.clear();
      if (done !== 1) throw new Error('not reassembled');
      return k;
    },
  };
}

export function cases(): Case[] {
  return [ipv4Case(3000 - 20, 1500), ipv4Case(65000, 1500), sttCase(false), sttCase(true)];
}

/** The cases as bench/lib Bench entries (n ops per call; `bytes` = bytes of the big unit per op). */
export function benches(list: Case[] = cases()): Bench[] {
  return list.map((c) => {
    let now = 0;
    return {
      name: `offload/${c.name}`,
      bytes: c.unitBytes,
      run(n: number): number {
        let k = 0;
        for (let i = 0; i < n; i++) k += c.op(now++);
        return k;
      },
    };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const json = process.argv.includes('--json');
  const list = cases();
  const rows = [];
  for (const [i, b] of benches(list).entries()) {
    const r = await measure(b, DEFAULTS);
    const c = list[i]!;
    rows.push({
      name: c.name,
      mppsPieces: (c.piecesPerOp / r.median) * 1e3,
      gbps: (c.unitBytes * 8) / r.median,
      usPerOp: r.median / 1e3,
      gcCount: r.gcCount,
      gcMs: Math.round(r.gcMs * 10) / 10,
      heapGrowth: r.heapGrowth,
    });
  }
  if (json) console.log(JSON.stringify({ machine: machine(), rows }, null, 2));
  else {
    console.log(
      `${process.version}, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}; 9 rounds × ~100 ms after warm-up`,
    );
    console.log('case                  Mpps(pieces)  Gbit/s   µs/op   GCs   GC ms  heap growth');
    for (const r of rows)
      console.log(
        `${r.name.padEnd(22)}${r.mppsPieces.toFixed(2).padStart(12)}${r.gbps.toFixed(2).padStart(8)}${r.usPerOp
          .toFixed(1)
          .padStart(8)}${String(r.gcCount).padStart(6)}${String(r.gcMs).padStart(8)}  ${r.heapGrowth}`,
      );
  }
}
