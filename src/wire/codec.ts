import type { Status } from './status.ts';

/**
 * The shape every header codec in src/wire exposes, so one round-trip harness, one fuzz harness and
 * one benchmark serve them all. `parse` fills a caller-owned Repr (reused; no allocation), `emit`
 * writes exactly `headerLen(r)` bytes at `o`, `format` is for humans (allocates).
 */
export interface Codec<R> {
  readonly name: string;
  newRepr(): R;
  headerLen(r: R): number;
  /** Returns OK and fills `out`, or a status from status.ts. Never reads outside [o, end). */
  parse(b: Uint8Array, o: number, end: number, out: R): Status;
  emit(r: R, b: Uint8Array, o: number): void;
  format(b: Uint8Array, o: number, end: number): string;
}
