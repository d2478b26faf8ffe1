// Named counters in one Float64Array (VPP/Snabb style): a name is resolved to an index once, at
// set-up; the hot path does `c.v[i] += n` with no lookup, no allocation. Float64 keeps exact integer
// counts up to 2^53 (≈ 9e15: 285 years at 1 Gpps). Names follow `<dir>-<proto>-<what>`, e.g.
// `drop-ipv4-bad-checksum`, `rx-packets`, `emc-hit`.

export class Counters {
  private readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  v: Float64Array;

  constructor(initial: readonly string[] = []) {
    this.v = new Float64Array(Math.max(16, initial.length));
    for (const n of initial) this.id(n);
  }

  /** Index of a counter, defining it on first use (set-up time only: this may grow the array). */
  id(name: string): number {
    const known = this.index.get(name);
    if (known !== undefined) return known;
    const i = this.names.length;
    this.names.push(name);
    this.index.set(name, i);
    if (i >= this.v.length) {
      const bigger = new Float64Array(this.v.length * 2);
      bigger.set(this.v);
      this.v = bigger;
    }
    return i;
  }

  /** The name of counter `i` (traces, error messages). */
  snapshotName(i: number): string {
    return this.names[i] ?? `counter-${i}`;
  }

  get(name: string): number {
    const i = this.index.get(name);
    return i === undefined ? 0 : this.v[i]!;
  }

  add(name: string, n = 1): void {
    this.v[this.id(name)]! += n;
  }

  /** Non-zero counters by name (for `nvo stats`, tests, JSON). */
  snapshot(all = false): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) if (all || this.v[i] !== 0) out[this.names[i]!] = this.v[i]!;
    return out;
  }

  reset(): void {
    this.v.fill(0);
  }
}
