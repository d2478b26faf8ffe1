// Legacy UFO (virtio GSO_UDP = 3, Linux SKB_GSO_UDP): ONE UDP datagram, its checksum computed over the
// whole datagram, cut into IP FRAGMENTS carrying gso_size bytes of IP payload each (the first one
// includes the UDP header) — unlike USO (udp-gso.ts), which makes independent datagrams
// (encapsulations.md §8 rule 6; Linux udp4_ufo_fragment, inet_gso_segment with udpfrag). VXLAN-SOE's
// "UDP MSS" follows the same convention. The cutting is the IP fragmenter's (ipv4-fragment.ts,
// ipv6-fragment.ts); this file finishes the checksum and picks the fragment size:
//   IPv4: fragment payload = gso_size rounded down to a multiple of 8 (fragment offsets are in 8-byte
//         units, RFC 791 §3.1); DF is ignored, as UFO always fragments; the datagram's own ID is used.
//   IPv6: the same payload size after the fragment header; the identification comes from the caller.
import type { Batch } from '../packet/batch.ts';
import { CSUM_VALID, NEEDS_CSUM, type Packet } from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { u16 } from '../wire/bytes.ts';
import * as ipp from '../wire/ip-proto.ts';
import { OK } from '../wire/status.ts';
import { completeCsum } from './csum-complete.ts';
import type { Layout } from './frame-layout.ts';
import {
  DROP_BAD_CSUM_OFFSETS,
  DROP_BAD_GSO_SIZE,
  DROP_BAD_LENGTH,
  DROP_NO_BUFFERS,
  DROP_TYPE_MISMATCH,
} from './gso-reasons.ts';
import { FITS, FRAGMENTED, fragment4, MTU_TOO_SMALL, NO_BUFFERS } from './ipv4-fragment.ts';
import { fragment6 } from './ipv6-fragment.ts';
import { UDP_CSUM_OFFSET } from './udp-gso.ts';

/** Result: n > 0 fragments pushed; 0 fits as is; < 0 is −(1 + drop index). */
export function ufoFragment(p: Packet, lay: Layout, id6: number, pool: Pool, out: Batch): number {
  if (lay.l4Proto !== ipp.UDP) return -1 - DROP_TYPE_MISMATCH;
  if ((p.flags & NEEDS_CSUM) !== 0) {
    if (p.csumStart !== lay.l4 || p.csumOffset !== UDP_CSUM_OFFSET || completeCsum(p) !== OK) {
      return -1 - DROP_BAD_CSUM_OFFSETS;
    }
  }
  const frag = p.gsoSize & ~7;
  if (frag < 8) return -1 - DROP_BAD_GSO_SIZE;
  p.l2 = lay.l2;
  p.l3 = lay.l3;
  p.l4 = lay.l4;
  const before = out.count;
  const r =
    lay.ipVersion === 4
      ? fragment4(p, lay.ipHdrLen + frag, u16(p.buf, lay.l3 + 4), pool, out, true)
      : fragment6(p, lay.ipHdrLen + 8 + frag, id6, pool, out);
  if (r === FRAGMENTED) {
    for (let i = before; i < out.count; i++) out.packets[i]!.flags = CSUM_VALID;
    return out.count - before;
  }
  if (r === FITS) return 0;
  if (r === NO_BUFFERS) return -1 - DROP_NO_BUFFERS;
  if (r === MTU_TOO_SMALL) return -1 - DROP_BAD_GSO_SIZE;
  return -1 - DROP_BAD_LENGTH;
}
