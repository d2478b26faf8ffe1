// Test-only frame builders for the fragmentation / STT / SOE suites (not used by src/).
import type { Packet } from '../../src/packet/packet.ts';
import type { Pool } from '../../src/packet/pool.ts';
import { fold, sum } from '../../src/wire/checksum.ts';

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const MAC_A = [0x02, 0, 0, 0, 0, 0x0a];
export const MAC_B = [0x02, 0, 0, 0, 0, 0x0b];

function ipv4Checksum(h: Uint8Array): number {
  return ~fold(sum(h, 0, h.length)) & 0xffff;
}

/** Ethernet + IPv4 (+ options) + payload as plain bytes. */
export function ipv4Frame(opts: {
  payload: Uint8Array;
  src?: number[];
  dst?: number[];
  proto?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  offset?: number;
  ttl?: number;
  options?: number[];
}): Uint8Array {
  const optLen = opts.options?.length ?? 0;
  const hlen = 20 + optLen;
  if (hlen % 4) throw new Error('options must be padded to 4');
  const f = new Uint8Array(14 + hlen + opts.payload.length);
  f.set(MAC_B, 0);
  f.set(MAC_A, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  const h = f.subarray(14, 14 + hlen);
  h[0] = 0x40 | (hlen >> 2);
  const tl = hlen + opts.payload.length;
  h[2] = tl >> 8;
  h[3] = tl & 0xff;
  const id = opts.id ?? 0x1234;
  h[4] = id >> 8;
  h[5] = id & 0xff;
  const fo = ((opts.df ? 0x4000 : 0) | (opts.mf ? 0x2000 : 0) | ((opts.offset ?? 0) >> 3)) & 0xffff;
  h[6] = fo >> 8;
  h[7] = fo & 0xff;
  h[8] = opts.ttl ?? 64;
  h[9] = opts.proto ?? 17;
  h.set(opts.src ?? [10, 0, 0, 1], 12);
  h.set(opts.dst ?? [10, 0, 0, 2], 16);
  if (opts.options) h.set(opts.options, 20);
  const c = ipv4Checksum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  f.set(opts.payload, 14 + hlen);
  return f;
}

/** Loads a frame into a pool packet: start at headroom, l2 = start, l3 = start + 14 (Ethernet). */
export function load(pool: Pool, frame: Uint8Array, l2len = 14): Packet {
  const p = pool.alloc();
  if (!p) throw new Error('pool empty');
  p.buf.set(frame, p.start);
  p.end = p.start + frame.length;
  p.l2 = p.start;
  p.l3 = p.start + l2len;
  return p;
}

/** All permutations of [0, n) (Heap's algorithm); n ≤ 7 keeps it under 5040. */
export function permutations(n: number): number[][] {
  const a = Array.from({ length: n }, (_, i) => i);
  const out: number[][] = [a.slice()];
  const c = new Array(n).fill(0);
  let i = 0;
  while (i < n) {
    if (c[i] < i) {
      const j = i % 2 === 0 ? 0 : c[i];
      [a[j], a[i]] = [a[i]!, a[j]!];
      out.push(a.slice());
      c[i]++;
      i = 0;
    } else {
      c[i] = 0;
      i++;
    }
  }
  return out;
}
