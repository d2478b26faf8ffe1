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
  tos?: number;
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
  h[1] = opts.tos ?? 0;
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

/** Ethernet + IPv6 (Next Header `nh`) + `payload` (extension headers and upper layer, pre-serialised). */
export function ipv6Frame(opts: { nh: number; payload: Uint8Array; hop?: number }): Uint8Array {
  const f = new Uint8Array(14 + 40 + opts.payload.length);
  f.set(MAC_B, 0);
  f.set(MAC_A, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  f[14] = 0x60;
  f[18] = opts.payload.length >> 8;
  f[19] = opts.payload.length & 0xff;
  f[20] = opts.nh;
  f[21] = opts.hop ?? 64;
  f.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 22);
  f.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 38);
  f.set(opts.payload, 54);
  return f;
}

/** A generic extension header (HbH / Routing / Dest-opts layout) of 8·(1+units) bytes, PadN-filled. */
export function extHeader(nh: number, units: number, type0 = -1): number[] {
  const len = 8 * (1 + units);
  const h = new Array(len).fill(0);
  h[0] = nh;
  h[1] = units;
  if (type0 >= 0) {
    // Routing header: type, segments left 0.
    h[2] = type0;
    h[3] = 0;
  } else {
    h[2] = 1; // PadN option covering the rest
    h[3] = len - 4;
  }
  return h;
}

/** An IPv6 Fragment header. */
export function fragHeader(nh: number, offset: number, more: boolean, id: number): number[] {
  const f = offset | (more ? 1 : 0);
  return [nh, 0, f >> 8, f & 0xff, (id >>> 24) & 255, (id >>> 16) & 255, (id >>> 8) & 255, id & 255];
}

/** L4 checksum of the IPv4 packet at frame offset 14 (UDP/TCP), written into place. */
export function fixL4Checksum4(f: Uint8Array): void {
  const ihl = (f[14]! & 15) * 4;
  const l4 = 14 + ihl;
  const proto = f[23]!;
  const field = proto === 6 ? 16 : 6;
  const len = f.length - l4;
  f[l4 + field] = 0;
  f[l4 + field + 1] = 0;
  let s = sum(f, 26, 34) + proto + len;
  s = sum(f, l4, f.length, s);
  let c = ~fold(s) & 0xffff;
  if (c === 0 && proto === 17) c = 0xffff;
  f[l4 + field] = c >> 8;
  f[l4 + field + 1] = c & 0xff;
}

/**
 * The STT frame of reference/stt.md §6 (V1/V2): STT header (context 0x0123456789abcdef, no offloads)
 * + inner Ethernet 02:..:0a → 02:..:0b, IPv4 10.0.0.1 → 10.0.0.2 ID 0x0101 DF TTL 64, UDP 1234 → 5678
 * with payload byte k = k & 0xff.
 */
export function sttFrame(udpPayload: number): Uint8Array {
  const udp = new Uint8Array(8 + udpPayload);
  udp[0] = 1234 >> 8;
  udp[1] = 1234 & 255;
  udp[2] = 5678 >> 8;
  udp[3] = 5678 & 255;
  udp[4] = (8 + udpPayload) >> 8;
  udp[5] = (8 + udpPayload) & 255;
  for (let k = 0; k < udpPayload; k++) udp[8 + k] = k & 0xff;
  const inner = ipv4Frame({ payload: udp, id: 0x0101, df: true, proto: 17 });
  fixL4Checksum4(inner);
  const f = new Uint8Array(18 + inner.length);
  f.set([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef], 8);
  f.set(inner, 18);
  return f;
}

/** A guest TCP/IPv4 frame (10.0.0.1:40000 → 10.0.0.2:80, DF) with a correct checksum. */
export function guestTcp(payloadLen: number, seed = 1): Uint8Array {
  const tcp = new Uint8Array(20 + payloadLen);
  tcp.set([0x9c, 0x40, 0x00, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0x07, 0xd0, 0x50, 0x18, 0x01, 0xf6]);
  tcp.set(noise(payloadLen, seed), 20);
  const f = ipv4Frame({ payload: tcp, id: 0x0202, df: true, proto: 6 });
  fixL4Checksum4(f);
  return f;
}
