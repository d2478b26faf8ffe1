// A seeded PRNG and byte-level mutators for fuzzing parsers with hostile variants of valid frames
// (the AFL/libFuzzer classics: bit flips, interesting values, length-field lies, truncation, extension,
// insert/delete). Deterministic from one 32-bit seed, so any failure is reproducible with NVO_FUZZ_SEED.

export interface Rng {
  /** Uniform integer in [0, n). */
  int(n: number): number;
  u32(): number;
}

/** mulberry32: 32-bit state, full period 2^32, fast and good enough for fuzzing. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const u32 = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return { u32, int: (n: number) => Math.floor((u32() / 0x100000000) * n) };
}

const BYTE_VALUES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x40, 0x45, 0x60, 0x08];

/**
 * One mutated copy of `src` (which is not modified). Lengths lie in 16-bit fields at any offset: the
 * written value is near the frame's own length, near the offset, or an extreme, which is where length
 * checks go wrong (off-by-one, header length > total length, 0, 0xffff).
 */
export function mutate(r: Rng, src: Uint8Array): Uint8Array {
  let b = src.slice();
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) {
    const n = b.length;
    switch (r.int(9)) {
      case 0: // flip 1–4 bits
      case 1: {
        if (n === 0) break;
        const flips = 1 + r.int(4);
        for (let i = 0; i < flips; i++) b[r.int(n)]! ^= 1 << r.int(8);
        break;
      }
      case 2: // an interesting byte
        if (n > 0) b[r.int(n)] = BYTE_VALUES[r.int(BYTE_VALUES.length)]!;
        break;
      case 3: {
        // a 16-bit length lie (big-endian)
        if (n < 2) break;
        const at = r.int(n - 1);
        const pick = r.int(8);
        const v =
          pick === 0
            ? n + r.int(3) - 1
            : pick === 1
              ? n - at + r.int(3) - 1
              : pick === 2
                ? 0
                : pick === 3
                  ? 0xffff
                  : pick === 4
                    ? r.int(64)
                    : pick === 5
                      ? (n >>> 2) + r.int(3) - 1
                      : r.int(0x10000);
        b[at] = (v >>> 8) & 0xff;
        b[at + 1] = v & 0xff;
        break;
      }
      case 4: // a length lie in one byte (IHL-style nibbles, option lengths)
        if (n > 0) {
          const at = r.int(n);
          b[at] = r.int(2) === 0 ? (b[at]! & 0xf0) | r.int(16) : r.int(n + 2) & 0xff;
        }
        break;
      case 5: // truncate
        b = b.slice(0, r.int(n + 1));
        break;
      case 6: {
        // extend with random bytes
        const extra = 1 + r.int(r.int(2) === 0 ? 8 : 200);
        const nb = new Uint8Array(n + extra);
        nb.set(b);
        for (let i = n; i < nb.length; i++) nb[i] = r.int(256);
        b = nb;
        break;
      }
      case 7: {
        // insert or delete a run inside
        const at = r.int(n + 1);
        const len = 1 + r.int(8);
        if (r.int(2) === 0) {
          const nb = new Uint8Array(n + len);
          nb.set(b.subarray(0, at));
          for (let i = 0; i < len; i++) nb[at + i] = r.int(256);
          nb.set(b.subarray(at), at + len);
          b = nb;
        } else {
          const nb = new Uint8Array(Math.max(0, n - len));
          nb.set(b.subarray(0, at).subarray(0, nb.length));
          if (at + len < n) nb.set(b.subarray(at + len), at);
          b = nb;
        }
        break;
      }
      default: {
        // random run of bytes
        if (n === 0) break;
        const at = r.int(n);
        const len = Math.min(n - at, 1 + r.int(8));
        for (let i = 0; i < len; i++) b[at + i] = r.int(256);
      }
    }
  }
  return b;
}
