// `nvo trace`: one frame through the switch with nothing transmitted (Switch.dryRun); the path's steps
// (cache level, tables, actions, outputs, drop reason) are collected as lines in Switch.trace.

import { EMC_MIN_HIT_INV, LEVEL_NAMES, type Megaflow } from '../flow/cache.ts';
import { Batch } from '../packet/batch.ts';
import { SMALL_SLOT } from '../packet/pool.ts';
import type { Switch } from './switch.ts';

const traceBatch = new Batch(1);

/**
 * Runs one frame through the switch as if received on `inPort`, transmitting nothing, and returns
 * the path it took: cache level, tables, actions, outputs or the drop reason (`nvo trace`).
 */
export function traceFrame(sw: Switch, inPort: number, frame: Uint8Array, now: number): string[] {
  const pool = frame.length + 512 <= SMALL_SLOT ? sw.pool : sw.superPool;
  const p = pool.alloc();
  if (p === null) return ['no buffer'];
  p.buf.set(frame, p.start);
  p.end = p.start + frame.length;
  const lines: string[] = [`in_port ${sw.ports.get(inPort)?.name ?? inPort}: ${frame.length} bytes`];
  sw.trace = lines;
  sw.dryRun = true;
  try {
    const b = traceBatch;
    b.count = 0;
    b.push(p);
    sw.receive(inPort, b, now);
  } finally {
    sw.trace = null;
    sw.dryRun = false;
  }
  return lines;
}

/** The cache level and table path that answered a traced packet. */
export function traceLookup(sw: Switch, mf: Megaflow): void {
  const trace = sw.trace!;
  const bypass = sw.cache.emcBypass ? ` (EMC bypassed: below one hit in ${EMC_MIN_HIT_INV})` : '';
  trace.push(`cache: ${LEVEL_NAMES[sw.cache.level]}${bypass}`);
  for (const step of mf.path)
    trace.push(
      `table ${step.table}: ${step.entry ? `matched priority=${step.entry.priority} cookie=0x${step.entry.cookie.toString(16)}` : 'miss'}`,
    );
  trace.push(`actions: ${mf.actions.length ? mf.actions.map((a) => a.kind).join(',') : 'drop'}`);
}
