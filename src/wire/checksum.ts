// Internet checksum, RFC 1071 (computation) and RFC 1624 (incremental update).
//
// The sum is the 16-bit one's-complement sum of the data taken as big-endian 16-bit words; an odd
// trailing byte is padded with a zero low byte. Partial sums are kept unfolded in a JS number: adding
// 16-bit words to a double is exact up to 2^53, i.e. for any buffer we will ever see, so `fold` runs once.
//
//   sum(b, o, end, init)  → unfolded partial sum (chain calls: the result of one is `init` of the next;
//                           each chunk but the last must have even length)
//   fold(s)               → 16-bit one's-complement sum (end-around carries added back)
//   checksum(b, o, end)   → ~fold(sum): the value that goes on the wire

export function sum(b: Uint8Array, o: number, end: number, init = 0): number {
  let s = init;
  let i = o;
  const even = end - ((end - o) & 1);
  // Four words per step keeps the loop body long enough for V8 to unroll nothing and still stay fast.
  for (; i + 8 <= even; i += 8) {
    s += ((b[i]! << 8) | b[i + 1]!) + ((b[i + 2]! << 8) | b[i + 3]!);
    s += ((b[i + 4]! << 8) | b[i + 5]!) + ((b[i + 6]! << 8) | b[i + 7]!);
  }
  for (; i < even; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (even !== end) s += b[end - 1]! << 8;
  return s;
}

export function fold(s: number): number {
  // A double sum of at most 2^53 needs at most four folds; two cover anything below 2^32.
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

export function checksum(b: Uint8Array, o: number, end: number, init = 0): number {
  return ~fold(sum(b, o, end, init)) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (RFC 768 / RFC 793): src, dst, zero, protocol, L4 length. */
export function pseudoSum4(b: Uint8Array, src: number, dst: number, proto: number, l4len: number): number {
  return sum(b, src, src + 4) + sum(b, dst, dst + 4) + proto + l4len;
}

/** Sum of the IPv6 pseudo-header (RFC 8200 §8.1): src, dst, upper-layer length (32-bit), next header. */
export function pseudoSum6(b: Uint8Array, src: number, dst: number, proto: number, l4len: number): number {
  return sum(b, src, src + 16) + sum(b, dst, dst + 16) + (l4len >>> 16) + (l4len & 0xffff) + proto;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from m to m'.
 * Eqn. 3 (not eqn. 2) is the one that never yields 0x0000 from a non-zero checksum except where a full
 * recompute would too, so incremental == full recompute (tested by property).
 */
export function update16(hc: number, m: number, m2: number): number {
  return ~fold((~hc & 0xffff) + (~m & 0xffff) + m2) & 0xffff;
}

/** A 32-bit field (an IPv4 address) changing from m to m2: two 16-bit updates folded into one. */
export function update32(hc: number, m: number, m2: number): number {
  const s = (~hc & 0xffff) + (~(m >>> 16) & 0xffff) + (~m & 0xffff) + (m2 >>> 16) + (m2 & 0xffff);
  return ~fold(s) & 0xffff;
}

/** UDP: a computed checksum of 0 is sent as 0xffff (RFC 768), since 0 means "no checksum". */
export function udpWire(c: number): number {
  return c === 0 ? 0xffff : c;
}
