// Named counters in one Float64Array (VPP/Snabb style), the one counter class of every layer: the
// offload engines, reassemblers, switch and port back ends. A name is resolved to an index once, at
// set-up (`id`, or a fixed name list whose positions are the indices, for modules that export index
// constants beside their list); the hot path does `c.v[i] += n`: no lookup, no allocation. Float64
// keeps exact integer counts up to 2^53 (≈ 9e15: 285 years at 1 Gpps). Names follow
// `<dir>-<proto>-<what>`, e.g. `drop-ipv4-bad-checksum`, `rx-packets`, `gso-drop-bad-gso-size`.
//
// `v` is replaced (grown ×2, values kept) when `id` defines a name beyond its length, so code keeps
// `c.v` in a local for one batch at most, never in a field across set-up.

export class Counters {
  private readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  v: Float64Array;

  /** `names` get indices 0, 1, 2… in order; a name listed twice would shift them, so it throws. */
  constructor(names: readonly string[] = []) {
    this.v = new Float64Array(Math.max(16, names.length));
    for (const n of names) {
      if (this.index.has(n)) throw new Error(`counter ${n} listed twice`);
      this.id(n);
    }
  }

  /** Every defined name, index order (what `nvo stats` lists); a live view, not a copy. */
  get names(): readonly string[] {
    return this.list;
  }

  /** Index of a counter, defining it on first use (set-up time only: this may grow `v`). */
  id(name: string): number {
    const known = this.index.get(name);
    if (known !== undefined) return known;
    const i = this.list.length;
    this.list.push(name);
    this.index.set(name, i);
    if (i >= this.v.length) {
      const bigger = new Float64Array(this.v.length * 2);
      bigger.set(this.v);
      this.v = bigger;
    }
    return i;
  }

  /** The name of counter `i` (traces, drop reasons, error messages). */
  name(i: number): string {
    return this.list[i] ?? `counter-${i}`;
  }

  /** Value by name; 0 for a name never defined (a counter is defined when first used). */
  get(name: string): number {
    const i = this.index.get(name);
    return i === undefined ? 0 : this.v[i]!;
  }

  /** Control-plane increment by name (defines it if new); hot code uses `v[id]`. */
  add(name: string, n = 1): void {
    this.v[this.id(name)]! += n;
  }

  /** Counters by name into `into` (a new object by default): the non-zero ones, or `all`. */
  snapshot(all = false, into: Record<string, number> = {}): Record<string, number> {
    for (let i = 0; i < this.list.length; i++) if (all || this.v[i] !== 0) into[this.list[i]!] = this.v[i]!;
    return into;
  }

  reset(): void {
    this.v.fill(0);
  }
}
