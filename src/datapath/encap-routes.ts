// Resolved encapsulations of one tunnel port (IPv4 underlay): (remote VTEP, key) → the outer template
// with the next hop's MAC in it, the neighbour entry that MAC came from, and the underlay port. A hit
// skips the route lookup, the neighbour lookup, the port lookup and the template lookup: the transmit
// path of a known flow is then this check and the template copy (tunnel-output.ts).
//
// A slot is good while nothing it was resolved from has changed:
//   Neighbours.generation   bumps on every MAC change, route added and entry removed
//   entry.port              the neighbour moved to another underlay port (no MAC change, no bump)
//   entry state             fresh REACHABLE, PROBE or PERMANENT: what NeighbourResolver.use() sends
//                           with unchanged. A REACHABLE entry past reachableMs, a STALE or INCOMPLETE
//                           one goes the slow way, where the resolver starts its probe.
// 16 direct-mapped slots: a port sending to more (remote, key) pairs than that still works, with more
// slow-path lookups when they collide.
import {
  type NeighbourEntry,
  type Neighbours,
  NUD_PERMANENT,
  NUD_PROBE,
  NUD_REACHABLE,
} from '../tunnel/neighbours.ts';
import type { OuterTemplate } from '../tunnel/outer-template.ts';
import type { Port } from './port.ts';

const SLOTS = 16;

export class EncapRoute {
  dst = 0;
  idHi = 0;
  idLo = 0;
  /** Neighbours.generation when resolved; 0 = empty (the table's generation starts at 1). */
  generation = 0;
  tpl: OuterTemplate | null = null;
  entry: NeighbourEntry | null = null;
  underlay: Port | null = null;
}

export class EncapRoutes {
  private readonly slots: EncapRoute[] = [];

  constructor() {
    for (let i = 0; i < SLOTS; i++) this.slots.push(new EncapRoute());
  }

  /** The resolved encapsulation for IPv4 `dst` (u32) and key, still good at `now`; else null. */
  lookup(dst: number, idHi: number, idLo: number, nb: Neighbours, now: number): EncapRoute | null {
    const r = this.slots[slot(dst, idLo)]!;
    if (r.generation !== nb.generation || r.dst !== dst || r.idLo !== idLo || r.idHi !== idHi) return null;
    const e = r.entry!;
    if (e.port !== r.underlay!.no) return null;
    const s = e.state;
    if (s === NUD_REACHABLE ? now - e.confirmed > nb.reachableMs : s !== NUD_PERMANENT && s !== NUD_PROBE)
      return null;
    e.used = now;
    return r;
  }

  remember(
    dst: number,
    idHi: number,
    idLo: number,
    generation: number,
    tpl: OuterTemplate,
    entry: NeighbourEntry,
    underlay: Port,
  ): void {
    const r = this.slots[slot(dst, idLo)]!;
    r.dst = dst;
    r.idHi = idHi;
    r.idLo = idLo;
    r.generation = generation;
    r.tpl = tpl;
    r.entry = entry;
    r.underlay = underlay;
  }

  /** Forgets every slot (tests; a configuration change the generation does not see). */
  clear(): void {
    for (let i = 0; i < SLOTS; i++) this.slots[i]!.generation = 0;
  }
}

function slot(dst: number, idLo: number): number {
  const h = Math.imul(dst ^ Math.imul(idLo, 0x9e3779b1), 0x85ebca6b);
  return (h >>> 28) & (SLOTS - 1);
}
