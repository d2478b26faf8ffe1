// ECN across the fragments of one datagram, RFC 3168 §5.3 as Linux applies it (net/ipv4/inet_fragment.c
// ip_frag_ecn_table): the reassembler ORs 1 << ecn for every fragment it keeps, then asks here.
//
//   seen (bits: 1 Not-ECT, 2 ECT(1), 4 ECT(0), 8 CE)   result
//   only ECT(0)/ECT(1)/CE, with CE among them          CE on the reassembled header
//   Not-ECT together with any ECT or CE                 invalid: drop the datagram (a CE mark could
//                                                       otherwise be lost on the way to a non-ECN host)
//   anything else (one kind, or ECT(0) + ECT(1))         the first fragment's value, unchanged
// ECN field values: 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.

export const ECN_CE = 3;
/** combineEcn result: keep the header as it is. */
export const ECN_KEEP = 0;

/** ECN_KEEP, ECN_CE, or −1 (invalid mix). `seen` is the OR of 1 << ecn over the fragments. */
export function combineEcn(seen: number): number {
  const notEct = (seen & 1) !== 0;
  const ect = (seen & 0b1110) !== 0;
  if (notEct && ect) return -1;
  return (seen & 0b1000) !== 0 ? ECN_CE : ECN_KEEP;
}
