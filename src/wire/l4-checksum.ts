// Transport checksums over an IP pseudo-header, for UDP (RFC 768), TCP (RFC 9293 §3.1) and ICMPv6
// (RFC 4443 §2.3), over IPv4 (RFC 768 pseudo-header) or IPv6 (RFC 8200 §8.1). The IP version is read
// from the version nibble at `l3`, so one call serves both families.
//
// IPv6 with a Routing header: RFC 8200 §8.1 says the pseudo-header destination is the *final*
// destination; we use the IPv6 header's destination (correct for every packet we emit and for
// routing headers with Segments Left = 0), and callers that forward source-routed traffic must not
// recompute these checksums.
import { setU16 } from './bytes.ts';
import { checksum, fold, pseudoSum4, pseudoSum6, sum } from './checksum.ts';

/** Unfolded sum of the pseudo-header for an L4 segment of `l4len` bytes, protocol `proto`. */
export function pseudoSum(b: Uint8Array, l3: number, proto: number, l4len: number): number {
  return b[l3]! >>> 4 === 6
    ? pseudoSum6(b, l3 + 8, l3 + 24, proto, l4len)
    : pseudoSum4(b, l3 + 12, l3 + 16, proto, l4len);
}

/**
 * The checksum value for the L4 segment [l4, end) whose checksum field sits at `l4 + field`: zeroes
 * the field, sums pseudo-header + segment, returns ~fold (not yet written; UDP maps 0 → 0xffff).
 */
export function compute(
  b: Uint8Array,
  l3: number,
  l4: number,
  end: number,
  proto: number,
  field: number,
): number {
  b[l4 + field] = 0;
  b[l4 + field + 1] = 0;
  return checksum(b, l4, end, pseudoSum(b, l3, proto, end - l4));
}

/** Computes and stores the checksum; `udp` applies RFC 768's "computed 0 is sent as all ones". */
export function fill(
  b: Uint8Array,
  l3: number,
  l4: number,
  end: number,
  proto: number,
  field: number,
  udp: boolean,
): void {
  const c = compute(b, l3, l4, end, proto, field);
  setU16(b, l4 + field, udp && c === 0 ? 0xffff : c);
}

/** True when pseudo-header + segment (checksum included) sums to 0xffff, i.e. the checksum is right. */
export function verify(b: Uint8Array, l3: number, l4: number, end: number, proto: number): boolean {
  return fold(sum(b, l4, end, pseudoSum(b, l3, proto, end - l4))) === 0xffff;
}

/**
 * Seeds a partial checksum (virtio_net_hdr NEEDS_CSUM / CHECKSUM_PARTIAL, encapsulations.md §10): the
 * field holds the folded, *uncomplemented* pseudo-header sum, so whoever completes it sums
 * [l4, end) and stores the complement — exactly what a NIC or the offload engine does.
 */
export function fillPseudo(
  b: Uint8Array,
  l3: number,
  l4: number,
  end: number,
  proto: number,
  field: number,
): void {
  setU16(b, l4 + field, fold(pseudoSum(b, l3, proto, end - l4)));
}
