// ARP on the underlay (RFC 826), for the IPv4 addresses nvo owns.
//
//   merge    the sender (spa, sha) updates an entry we have, from any ARP; an entry is made only when
//            the ARP is for one of our addresses (RFC 826 "?Am I the target protocol address?"), so
//            ARP chatter between other hosts can't fill the table
//   state    a reply to us confirms (REACHABLE); a request or an overheard reply says STALE; a
//            request repeating the MAC we have changes nothing (Linux neigh_update)
//   answer   a request for our address is turned into the reply in place and sent back
//   flush    an entry that just got its MAC sends the packets that waited for it (tunnel-output.ts)
//
// Drops: drop-underlay-bad-arp (not Ethernet/IPv4, truncated), drop-arp-bad-sender (a multicast or
// broadcast sender MAC: never learned, never answered).
import type { Packet } from '../packet/packet.ts';
import { NUD_REACHABLE, NUD_STALE } from '../tunnel/neighbours.ts';
import * as arp from '../wire/arp.ts';
import { OK } from '../wire/status.ts';
import type { Port } from './port.ts';
import type { Switch } from './switch.ts';
import { flushPending } from './tunnel-output.ts';

const arpRepr = arp.newRepr();

export function arpInput(sw: Switch, port: Port, p: Packet): void {
  const b = p.buf;
  const o = p.start + 14;
  const r = arpRepr;
  if (arp.parse(b, o, p.end, r) !== OK) {
    sw.drop(p, sw.counters.id('drop-underlay-bad-arp'));
    return;
  }
  if ((r.sha[0]! & 1) !== 0) {
    sw.drop(p, sw.counters.id('drop-arp-bad-sender'));
    return;
  }
  const forUs = sw.localIps4.has(r.tpa);
  if (r.spa !== 0) learn(sw, port, r, forUs);
  if (r.op === arp.OP_REQUEST && forUs) {
    // Turn the request into the reply in place.
    const target = r.tpa;
    r.op = arp.OP_REPLY;
    r.tha.set(r.sha);
    r.tpa = r.spa;
    r.sha.set(sw.underlayMac);
    r.spa = target;
    b.copyWithin(p.start, p.start + 6, p.start + 12);
    b.set(sw.underlayMac, p.start + 6);
    arp.emit(r, b, o);
    sw.counters.add('tx-arp-reply');
    sw.stage(port, p);
    return;
  }
  sw.counters.add('rx-arp');
  p.owner?.free(p);
}

function learn(sw: Switch, port: Port, r: arp.ArpRepr, forUs: boolean): void {
  const nb = sw.neighbours;
  const e = nb.lookup4(r.spa);
  const state = r.op === arp.OP_REPLY && forUs ? NUD_REACHABLE : NUD_STALE;
  if (e !== undefined) {
    nb.update(e, r.sha, port.no, state, sw.now);
    if (e.queued > 0 && e.valid) flushPending(sw, e);
    return;
  }
  if (!forUs) return;
  if (nb.create4(r.spa, port.no, sw.now, r.sha, state) === null) sw.counters.add('drop-neighbour-table-full');
}
