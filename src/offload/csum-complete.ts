// Checksum completion with partial-checksum semantics, and local checksum offload (LCO) for the outer
// UDP checksum of a tunnel packet.
//
// Partial checksum (virtio_net_hdr NEEDS_CSUM, Linux CHECKSUM_PARTIAL; encapsulations.md §10,
// Documentation/networking/checksum-offloads.rst): the field at csumStart + csumOffset already holds the
// folded pseudo-header sum (not complemented). The finisher sums [csumStart, end) — the field included,
// which is how the pseudo-header gets in — folds, complements and stores. A result of 0 is stored as
// 0xffff (Linux skb_checksum_help: `csum_fold(csum) ?: CSUM_MANGLED_0`): for UDP 0 would mean "no
// checksum" (RFC 768); for TCP the two are the same one's-complement number, so the rule is harmless.
//
// LCO: once the inner L4 checksum is right (valid, or partial and about to be filled in), the inner
// region from the inner csum_start to the end sums to ~pseudoInner, because
//   sum(region with checksum C stored) = S + C = S + ~(pseudoInner + S) ≡ ~pseudoInner  (one's complement).
// So the outer UDP checksum needs only the bytes in front of the inner csum_start:
//   outer = ~fold(pseudoOuter + sum[outer UDP, inner csum_start) + ~fold(pseudoInner))
// with the outer UDP checksum field counted as 0. Linux computes the same in lco_csum() (it reads
// ~field, which for a partial inner checksum is ~pseudoInner).

import { CSUM_VALID, NEEDS_CSUM, type Packet } from '../packet/packet.ts';
import { setU16, u16 } from '../wire/bytes.ts';
import { fold, sum } from '../wire/checksum.ts';
import * as ipp from '../wire/ip-proto.ts';
import { pseudoSum } from '../wire/l4-checksum.ts';
import { BAD_FIELD, OK, type Status } from '../wire/status.ts';

/**
 * Finishes a partial checksum in place: p.flags NEEDS_CSUM → cleared, CSUM_VALID set. Returns OK (also
 * when nothing was pending) or BAD_FIELD when csumStart/csumOffset point outside the frame (hostile
 * vnet header): the caller counts the drop.
 */
export function completeCsum(p: Packet): Status {
  if ((p.flags & NEEDS_CSUM) === 0) return OK;
  const at = p.csumStart + p.csumOffset;
  if (p.csumStart < p.start || p.csumOffset < 0 || at + 2 > p.end || (p.csumOffset & 1) !== 0)
    return BAD_FIELD;
  const c = ~fold(sum(p.buf, p.csumStart, p.end)) & 0xffff;
  setU16(p.buf, at, c === 0 ? 0xffff : c);
  p.flags = (p.flags & ~NEEDS_CSUM) | CSUM_VALID;
  return OK;
}

/** Seeds a partial checksum: writes fold(pseudo) at l4 + csumOffset and marks the packet NEEDS_CSUM. */
export function seedPartial(p: Packet, l4: number, csumOffset: number, pseudo: number): void {
  setU16(p.buf, l4 + csumOffset, fold(pseudo));
  p.flags = (p.flags & ~CSUM_VALID) | NEEDS_CSUM;
  p.csumStart = l4;
  p.csumOffset = csumOffset;
}

/** Pseudo-header sum for the L4 header behind the IP header at l3 (version from the header). */
export const pseudoFor = pseudoSum;

/**
 * Outer UDP checksum from headers only (LCO). outerL3/outerL4: the outer IP and UDP headers;
 * innerL3/innerL4: the inner IP header and the inner L4 header whose checksum (at innerL4 + innerCsumOff,
 * for protocol innerProto) is valid or partial. end: frame end. Writes the checksum (0 → 0xffff).
 */
export function lcoOuterUdp(
  b: Uint8Array,
  outerL3: number,
  outerL4: number,
  innerL3: number,
  innerL4: number,
  innerProto: number,
  end: number,
): void {
  const outerLen = end - outerL4;
  setU16(b, outerL4 + 6, 0);
  const innerPseudo = pseudoFor(b, innerL3, innerProto, end - innerL4);
  const s =
    pseudoFor(b, outerL3, ipp.UDP, outerLen) + sum(b, outerL4, innerL4) + (~fold(innerPseudo) & 0xffff);
  const c = ~fold(s) & 0xffff;
  setU16(b, outerL4 + 6, c === 0 ? 0xffff : c);
}

/** Full verification of an L4 checksum (rx side, when the port did not vouch with CSUM_VALID). */
export function l4ChecksumOk(b: Uint8Array, l3: number, l4: number, proto: number, end: number): boolean {
  if (proto === ipp.UDP && u16(b, l4 + 6) === 0 && b[l3]! >>> 4 === 4) return true; // no checksum (RFC 768)
  return fold(sum(b, l4, end, pseudoFor(b, l3, proto, end - l4))) === 0xffff;
}

/** IPv4 header checksum: writes it (field zeroed first). */
export function setIpv4Checksum(b: Uint8Array, l3: number, hdrLen: number): void {
  setU16(b, l3 + 10, 0);
  setU16(b, l3 + 10, ~fold(sum(b, l3, l3 + hdrLen)) & 0xffff);
}
