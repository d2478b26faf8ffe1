// Fixed, named counters for the offload engines (segmenters, coalescers). The name list is given once
// at construction; hot code bumps `v[INDEX]` with an index constant exported beside the name list, so
// there is no lookup and no allocation per packet. (src/datapath/counters.ts is the growable kind;
// offload sits below datapath, so it keeps its own.) Names follow `<engine>-<what>`, e.g.
// `gso-drop-bad-gso-size`, `gro-flush-psh`.

export class OffloadCounters {
  readonly names: readonly string[];
  readonly v: Float64Array;

  constructor(names: readonly string[]) {
    this.names = names;
    this.v = new Float64Array(names.length);
  }

  get(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`no counter named ${name}`);
    return this.v[i]!;
  }

  /** Non-zero counters by name (stats, tests, JSON). */
  snapshot(all = false): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) if (all || this.v[i] !== 0) out[this.names[i]!] = this.v[i]!;
    return out;
  }

  reset(): void {
    this.v.fill(0);
  }
}
