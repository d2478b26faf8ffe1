// Received-range tracker for reassembly (cf. smoltcp's Assembler; RFC 815's hole list, inverted).
//
// Instead of holes we keep the *received* ranges: sorted, disjoint and merged when they touch, so a
// datagram that arrives in order is always one range and completion is `count === 1 && [0, total)`.
// Storage is a caller-sized Uint32Array made once; `add` never allocates.
//
//   ranges  [s0,e0) [s1,e1) …      s0 < e0 < s1 < e1 < …   (e_i === s_{i+1} never holds: merged)
//
// add(start, end) answers for the new piece [start, end):
//   ADDED      no intersection with anything received (it may touch neighbours and merge)
//   DUPLICATE  entirely inside one received range: the bytes were already there (Linux's IPFRAG_DUP:
//              "inside a run"; the caller compares bytes to tell a true duplicate from a rewrite)
//   OVERLAP    intersects received data without being inside it (RFC 5722: kill the datagram)
//   FULL       no room for another disjoint range (the caller's per-datagram fragment cap)
// RFC 815 lets later data overwrite overlaps; we never do (encapsulations.md §11.2).

export const ADDED = 0;
export const DUPLICATE = 1;
export const OVERLAP = 2;
export const FULL = 3;

export class RangeSet {
  /** [start0, end0, start1, end1, …] */
  private readonly r: Uint32Array;
  readonly capacity: number;
  count = 0;

  /** `store`: 2 × capacity u32s, e.g. a subarray of one table-wide array (one allocation for all). */
  constructor(capacity: number, store: Uint32Array = new Uint32Array(capacity * 2)) {
    this.capacity = capacity;
    this.r = store;
  }

  clear(): void {
    this.count = 0;
  }

  start(i: number): number {
    return this.r[2 * i]!;
  }

  end(i: number): number {
    return this.r[2 * i + 1]!;
  }

  /** Bytes received (sum of range lengths). */
  bytes(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += this.r[2 * i + 1]! - this.r[2 * i]!;
    return n;
  }

  /** True when exactly [0, total) has been received. */
  complete(total: number): boolean {
    return this.count === 1 && this.r[0] === 0 && this.r[1] === total;
  }

  /** Highest end received (0 when empty). */
  maxEnd(): number {
    return this.count === 0 ? 0 : this.r[2 * this.count - 1]!;
  }

  /** Adds [start, end) with start < end; see the header for the answers. */
  add(start: number, end: number): number {
    const r = this.r;
    const n = this.count;
    // i = first range whose end >= start. In-order arrival hits the last range, so test it first.
    let i: number;
    if (n === 0 || r[2 * n - 1]! < start) i = n;
    else {
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (r[2 * mid + 1]! >= start) hi = mid;
        else lo = mid + 1;
      }
      i = lo;
    }
    if (i < n) {
      const si = r[2 * i]!;
      const ei = r[2 * i + 1]!;
      if (si < end && ei > start) return si <= start && end <= ei ? DUPLICATE : OVERLAP;
      // Range i only touches us on the left (ei === start) or lies wholly to the right (si >= end).
      if (ei === start) {
        if (i + 1 < n && r[2 * i + 2]! < end) return OVERLAP;
        if (i + 1 < n && r[2 * i + 2]! === end) {
          // Fills the gap between i and i+1 exactly: merge all three.
          r[2 * i + 1] = r[2 * i + 3]!;
          r.copyWithin(2 * i + 2, 2 * i + 4, 2 * n);
          this.count = n - 1;
          return ADDED;
        }
        r[2 * i + 1] = end;
        return ADDED;
      }
      if (si === end) {
        r[2 * i] = start;
        return ADDED;
      }
    }
    if (n === this.capacity) return FULL;
    r.copyWithin(2 * i + 2, 2 * i, 2 * n);
    r[2 * i] = start;
    r[2 * i + 1] = end;
    this.count = n + 1;
    return ADDED;
  }
}
