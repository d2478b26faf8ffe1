// UDP GSO superframes arriving on the underlay (a peer's USO that no kernel cut on the way, e.g. veth
// to veth with vnet_hdr, or datagrams the receiving kernel merged in GRO with rx-udp-gro-forwarding).
// When their datagrams are consecutive tunnel packets of one inner TCP stream and the checksum state is
// settled, the superframe becomes one tunnel packet around an inner TCP superframe, in place
// (offload/uso-coalesce.ts; counted as rx-uso-coalesced). Otherwise each is split into its datagrams,
// every one a complete tunnel packet.
//
// The datagrams are decapsulated right here, so their outer UDP checksums need not be written: when the
// superframe's checksum state is already settled (NEEDS_CSUM: partial from a local/veth sender, or
// the kernel's GRO validated every datagram before merging and left it partial; CSUM_VALID: checked),
// the split leaves the outer checksum partial (NEEDS_CSUM, pseudo-header seeded) and underlay input
// takes it as settled, as it does for the superframe itself. That saves one summing pass over every
// received byte. A superframe with neither flag keeps the full split (checksums computed per datagram).
import { GSO_DROPPED } from '../offload/gso.ts';
import { coalesceUso } from '../offload/uso-coalesce.ts';
import type { Batch } from '../packet/batch.ts';
import { CSUM_VALID, GSO_UDP_L4, NEEDS_CSUM } from '../packet/packet.ts';
import type { Switch } from './switch.ts';

/**
 * A batch holding UDP GSO superframes (a peer's USO that no kernel cut on the way): each is split
 * into its datagrams and those go through receive() as a batch of their own; other packets go one by
 * one. Returns false when the batch had none (the caller goes on with it).
 */
export function receiveUso(sw: Switch, inPort: number, batch: Batch, now: number): boolean {
  let any = false;
  for (let i = 0; i < batch.count && !any; i++) any = (batch.packets[i]!.gsoType & 0x7f) === GSO_UDP_L4;
  if (!any) return false;
  const n0 = batch.count;
  batch.count = 0;
  for (let i = 0; i < n0; i++) {
    const p = batch.packets[i]!;
    batch.packets[i] = null;
    const out = (p.gsoType & 0x7f) === GSO_UDP_L4 ? sw.usoOut : sw.one;
    out.count = 0;
    if (out === sw.one) out.push(p);
    else {
      const settled = (p.flags & (NEEDS_CSUM | CSUM_VALID)) !== 0;
      if (settled && coalesceUso(p)) {
        sw.counters.v[sw.c.rxUsoCoalesced]! += 1;
        sw.one.count = 0;
        sw.one.push(p);
        sw.receive(inPort, sw.one, now);
        continue;
      }
      const n = (settled ? sw.usoSplit : sw.gso).segment(p, out);
      if (n === GSO_DROPPED) {
        sw.drop(p, sw.c.dropGso);
        continue;
      }
      if (n === 0) out.push(p);
      else p.owner?.free(p);
    }
    sw.receive(inPort, out, now);
  }
  return true;
}
