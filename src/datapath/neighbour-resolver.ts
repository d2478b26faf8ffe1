/**
 * Next-hop resolution on the underlay, as the kernel's neighbour layer does it: find the entry for a
 * tunnel packet's next hop, keep it fresh (probe when stale), start ARP / ND when there is none, and
 * hold the packets that arrive meanwhile in a small bounded queue until the answer comes.
 *
 *   resolve4 / resolve6    the entry to send with, or null: the entry is INCOMPLETE (a probe went out)
 *                          or could not be made (table full); the caller then calls hold()
 *   hold                   queues the packet for that entry: at most `perHop` per entry (Linux
 *                          unres_qlen) and `total` overall, so unresolved destinations can't drain
 *                          the pools; beyond that a counted drop
 *   take                   the waiting packets of an entry that just got its MAC (tunnel-output.ts
 *                          flushPending sends them, in arrival order)
 *   tick                   retransmits probes every retransMs; an INCOMPLETE entry unanswered after
 *                          mcastProbes, or a PROBE entry after ucastProbes, is removed and its packets
 *                          are dropped (`drop-neighbour-timeout`)
 *
 * Counters: tx-arp-request, tx-nd-ns (neighbour-probes.ts), drop-neighbour-queue-full,
 * drop-neighbour-timeout, drop-neighbour-table-full, neighbour-queued, neighbour-queue-sent.
 *
 * Probes are rate limited per entry: the first goes out when the entry is made, later ones only from
 * tick (one per retransMs), however many packets ask. Linux queued 3 packets per unresolved neighbour
 * until 3.3 (unres_qlen); since then a byte limit, unres_qlen_bytes = wmem_default (212,992 on this
 * machine's kernel 6.18; sysctl shows unres_qlen 101 derived from it). nvo's default stays 3 per next
 * hop and 64 in all, because waiting packets hold pool slots: 64 × 2 KiB = 128 KiB, or superframe
 * slots for a guest's TSO frames; `limits.unresQlen` / `unresTotal` raise it.
 */
import type { Packet } from '../packet/packet.ts';
import {
  type NeighbourEntry,
  NUD_INCOMPLETE,
  NUD_PROBE,
  NUD_REACHABLE,
  NUD_STALE,
} from '../tunnel/neighbours.ts';
import { sendProbe } from './neighbour-probes.ts';
import type { Port } from './port.ts';
import type { Switch } from './switch.ts';

export interface PendingLimits {
  /** Packets waiting per unresolved next hop. Default 3. */
  perHop?: number;
  /** Packets waiting in all. Default 64. */
  total?: number;
}

export class NeighbourResolver {
  private readonly sw: Switch;
  perHop = 3;
  total = 0;
  // The queue: slot i holds one packet with what its tunnel output needs again.
  packets: (Packet | null)[] = [];
  entry: (NeighbourEntry | null)[] = [];
  port: (Port | null)[] = [];
  idHi = new Uint32Array(0);
  idLo = new Uint32Array(0);
  /** 16 bytes per slot: the remote VTEP (IPv4 in the first 4). */
  remote = new Uint8Array(0);
  private seq = new Float64Array(0);
  /** Set by resolve4/6 when they return null: the INCOMPLETE entry to hold the packet on. */
  pending: NeighbourEntry | null = null;
  private nextSeq = 1;
  private used = 0;
  private readonly c = {
    queued: 0,
    queueFull: 0,
    timeout: 0,
    tableFull: 0,
  };

  constructor(sw: Switch, limits: PendingLimits = {}) {
    this.sw = sw;
    this.configure(limits);
    const k = sw.counters;
    this.c.queued = k.id('neighbour-queued');
    this.c.queueFull = k.id('drop-neighbour-queue-full');
    this.c.timeout = k.id('drop-neighbour-timeout');
    this.c.tableFull = k.id('drop-neighbour-table-full');
  }

  /** Sizes the queue (set-up time, while nothing waits). */
  configure(limits: PendingLimits): void {
    if (this.used > 0) throw new Error('neighbour queue: cannot resize while packets wait');
    this.perHop = limits.perHop ?? 3;
    const n = limits.total ?? 64;
    this.total = n;
    this.packets = new Array<Packet | null>(n).fill(null);
    this.entry = new Array<NeighbourEntry | null>(n).fill(null);
    this.port = new Array<Port | null>(n).fill(null);
    this.idHi = new Uint32Array(n);
    this.idLo = new Uint32Array(n);
    this.remote = new Uint8Array(n * 16);
    this.seq = new Float64Array(n);
  }

  /** Packets waiting now (all next hops). */
  get waiting(): number {
    return this.used;
  }

  /**
   * The entry for IPv4 next hop `hop`, usable now, or null when it must wait (INCOMPLETE: a probe is
   * out) — then `pending` is the entry to hold() the packet on, or null when the table is full.
   */
  resolve4(hop: number, src: number, routePort: number): NeighbourEntry | null {
    const sw = this.sw;
    const nb = sw.neighbours;
    const e = nb.lookup4(hop);
    if (e === undefined) {
      const made = nb.create4(hop, routePort, sw.now, null, NUD_INCOMPLETE);
      this.pending = made;
      if (made === null) return null;
      made.srcIp4 = src;
      this.startProbing(made);
      return null;
    }
    if (e.state !== NUD_INCOMPLETE && e.state !== NUD_PROBE) e.srcIp4 = src; // a probe may start now
    return this.use(e);
  }

  /** As resolve4 for the IPv6 next hop at hop[o..o+16). */
  resolve6(hop: Uint8Array, o: number, src: Uint8Array, routePort: number): NeighbourEntry | null {
    const sw = this.sw;
    const nb = sw.neighbours;
    const e = nb.lookup6(hop, o);
    if (e === undefined) {
      const made = nb.create6(hop, o, routePort, sw.now, null, NUD_INCOMPLETE);
      this.pending = made;
      if (made === null) return null;
      for (let i = 0; i < 16; i++) made.srcIp6[i] = src[i]!;
      this.startProbing(made);
      return null;
    }
    if (
      e.state === NUD_STALE ||
      (e.state === NUD_REACHABLE && this.sw.now - e.confirmed > this.sw.neighbours.reachableMs)
    )
      for (let i = 0; i < 16; i++) e.srcIp6[i] = src[i]!; // a probe starts now: from this packet's source
    return this.use(e);
  }

  private use(e: NeighbourEntry): NeighbourEntry | null {
    const now = this.sw.now;
    e.used = now;
    switch (e.state) {
      case NUD_INCOMPLETE:
        this.pending = e;
        return null;
      case NUD_REACHABLE:
        if (now - e.confirmed > this.sw.neighbours.reachableMs) {
          e.state = NUD_STALE;
          this.startProbe(e);
        }
        return e;
      case NUD_STALE:
        this.startProbe(e);
        return e;
      default:
        return e; // PROBE (tick retransmits), PERMANENT
    }
  }

  private startProbing(e: NeighbourEntry): void {
    e.probes = 1;
    e.probeAt = this.sw.now;
    sendProbe(this.sw, e, false);
  }

  /** STALE in use → PROBE: one unicast probe now, tick sends the rest. */
  private startProbe(e: NeighbourEntry): void {
    e.state = NUD_PROBE;
    e.probes = 1;
    e.probeAt = this.sw.now;
    sendProbe(this.sw, e, true);
  }

  /**
   * Queues p (a guest frame for tunnel port `port`, remote and key as given) until `e` resolves; when
   * it can't (no entry: table full; queue full) p is dropped and counted. p is the queue's either way.
   */
  hold(
    e: NeighbourEntry | null,
    port: Port,
    p: Packet,
    remote: Uint8Array,
    n: number,
    idHi: number,
    idLo: number,
  ): void {
    if (e === null) {
      this.sw.drop(p, this.c.tableFull);
      return;
    }
    if (e.queued >= this.perHop || this.used >= this.total) {
      this.sw.drop(p, this.c.queueFull);
      return;
    }
    let i = 0;
    while (this.packets[i] !== null) i++;
    this.packets[i] = p;
    this.entry[i] = e;
    this.port[i] = port;
    this.idHi[i] = idHi;
    this.idLo[i] = idLo;
    const r = this.remote;
    for (let j = 0; j < 16; j++) r[16 * i + j] = j < n ? remote[j]! : 0;
    this.seq[i] = this.nextSeq++;
    e.queued++;
    this.used++;
    this.sw.counters.v[this.c.queued]!++;
  }

  /** The oldest waiting slot of e, or -1. The caller reads the slot, then calls release(slot). */
  oldest(e: NeighbourEntry): number {
    if (e.queued === 0) return -1;
    let best = -1;
    for (let i = 0; i < this.total; i++)
      if (this.entry[i] === e && (best < 0 || this.seq[i]! < this.seq[best]!)) best = i;
    return best;
  }

  /** Empties slot i and returns its packet (now the caller's). */
  release(i: number): Packet {
    const p = this.packets[i]!;
    this.entry[i]!.queued--;
    this.packets[i] = null;
    this.entry[i] = null;
    this.port[i] = null;
    this.used--;
    return p;
  }

  /** Drops every packet waiting on e (counted as timeouts). */
  private dropAll(e: NeighbourEntry): void {
    for (let i = 0; i < this.total && e.queued > 0; i++)
      if (this.entry[i] === e) this.sw.drop(this.release(i), this.c.timeout);
  }

  /** Probe retransmission and failure; call often (the switch's tick, about once a second). */
  tick(now: number): void {
    const nb = this.sw.neighbours;
    const gone: NeighbourEntry[] = [];
    let sent = false;
    for (const e of nb.entries()) {
      if (e.state !== NUD_INCOMPLETE && e.state !== NUD_PROBE) continue;
      if (now - e.probeAt < nb.retransMs) continue;
      const max = e.state === NUD_INCOMPLETE ? nb.mcastProbes : nb.ucastProbes;
      // Given up when every probe has had its retransMs, also when ticks came late: a tick 10 s after
      // the first of 3 probes ends the entry rather than sending probe 2.
      if (e.probes >= max || now - e.probeAt >= (max - e.probes + 1) * nb.retransMs) {
        gone.push(e);
        continue;
      }
      e.probes++;
      e.probeAt = now;
      sendProbe(this.sw, e, e.state === NUD_PROBE);
      sent = true;
    }
    for (const e of gone) {
      this.dropAll(e);
      nb.remove(e);
    }
    // Timer context, not a receive batch: nothing else will flush the probes.
    if (sent) this.sw.flush();
  }
}
