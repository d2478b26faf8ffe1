// Prints results as a fixed-width table and writes them, with the machine, as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Machine } from './machine.ts';
import type { Options, Result } from './measure.ts';

function ns(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} ms`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)} µs`;
  return `${x.toFixed(x < 10 ? 2 : 1)} ns`;
}

function bytes(x: number): string {
  const a = Math.abs(x);
  if (a >= 2 ** 20) return `${(x / 2 ** 20).toFixed(1)} MiB`;
  if (a >= 2 ** 10) return `${(x / 2 ** 10).toFixed(1)} KiB`;
  return `${Math.round(x)} B`;
}

const COLUMNS = ['benchmark', 'median', 'min', 'max', 'GB/s', 'Mops/s', 'gc', 'gc ms', 'heap Δ', 'B/op'];

export function row(r: Result): string[] {
  return [
    r.name,
    ns(r.median),
    ns(r.min),
    ns(r.max),
    r.gbps === undefined ? '' : r.gbps.toFixed(2),
    (1e3 / r.median).toFixed(2),
    String(r.gcCount),
    r.gcMs.toFixed(1),
    bytes(r.heapGrowth),
    r.bytesPerOp === null ? '(gc)' : r.bytesPerOp.toFixed(1),
  ];
}

export function header(): string {
  return format(COLUMNS);
}

const WIDTHS = [34, 10, 10, 10, 7, 8, 4, 6, 10, 7];

export function format(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(WIDTHS[i]!) : c.padStart(WIDTHS[i]!))).join(' ');
}

export function describeMachine(m: Machine): string {
  return `${m.cpu} × ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os} ${m.kernel}, Node ${m.node} (V8 ${m.v8}), ${m.date}${m.commit ? `, commit ${m.commit}` : ''}`;
}

export function writeJson(
  path: string,
  suite: string,
  m: Machine,
  options: Options,
  results: Result[],
): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ suite, machine: m, options, results }, null, 2)}\n`);
}
