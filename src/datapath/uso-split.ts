// UDP GSO superframes arriving on the underlay (a peer's USO that no kernel cut on the way, e.g. veth
// to veth with vnet_hdr): each is split into its datagrams, every one a complete tunnel packet.
import { GSO_DROPPED } from '../offload/gso.ts';
import type { Batch } from '../packet/batch.ts';
import { GSO_UDP_L4 } from '../packet/packet.ts';
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
      const n = sw.gso.segment(p, out);
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
