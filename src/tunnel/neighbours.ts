// Underlay next hops: small route tables (longest prefix match over a handful of routes, IPv4 and
// IPv6) and the neighbour table that ARP (RFC 826) and ND (RFC 4861) fill. nvo owns its underlay
// addresses, so it answers and asks itself; this file is the table, datapath/neighbour-resolver.ts
// sends the probes and holds the packets that wait.
//
// Entry states follow Linux's NUD machine (net/core/neighbour.c), without DELAY (nvo has no upper
// layer to confirm reachability, so a stale entry in use is probed at once):
//
//   INCOMPLETE ─ARP reply / NA─► REACHABLE ─reachableMs─► STALE ─used─► PROBE ─answer─► REACHABLE
//       │ mcastProbes unanswered                                         │ ucastProbes unanswered
//       ▼                                                                ▼
//     (removed: its waiting packets are dropped)                      (removed)
//   PERMANENT: configured; never probed, never aged.
//
// Memory is bounded: at most `maxEntries` (Linux gc_thresh3, 1024) entries; when full, the least
// recently used entry that holds no waiting packet goes, else the new one is refused (counted by the
// caller). IPv4 addresses are u32 numbers; IPv6 ones are 16 bytes hashed into a Map<number, bucket>
// so a lookup on the transmit path allocates nothing. `generation` bumps whenever what a transmit
// resolved may have changed (a MAC, a route, an entry removed), so cached outer-header templates and
// resolved encapsulations (datapath/encap-routes.ts) know to resolve again.

import { formatIpv6 } from '../wire/bytes.ts';

export const NUD_INCOMPLETE = 1;
export const NUD_REACHABLE = 2;
export const NUD_STALE = 3;
export const NUD_PROBE = 4;
export const NUD_PERMANENT = 5;
export const NUD_NAMES = ['', 'INCOMPLETE', 'REACHABLE', 'STALE', 'PROBE', 'PERMANENT'] as const;

export interface NeighbourLimits {
  /** Table size bound (Linux gc_thresh3). Default 1024. */
  maxEntries?: number;
  /** A confirmation is good for this long (Linux base_reachable_time_ms). Default 30 s. */
  reachableMs?: number;
  /** Gap between probes (Linux retrans_time_ms). Default 1 s. */
  retransMs?: number;
  /** Broadcast ARP / multicast NS probes of an INCOMPLETE entry (Linux mcast_solicit). Default 3. */
  mcastProbes?: number;
  /** Unicast probes of a PROBE entry before it is given up (Linux ucast_solicit). Default 3. */
  ucastProbes?: number;
}

export interface Route4 {
  prefix: number;
  len: number;
  /** 0 = on-link (the destination itself is the next hop). */
  gateway: number;
  port: number;
}

export interface Route6 {
  prefix: Uint8Array;
  /** The prefix and its mask as four 32-bit words each (the lookup compares words). */
  prefixWords: Int32Array;
  maskWords: Int32Array;
  len: number;
  /** null = on-link. */
  gateway: Uint8Array | null;
  port: number;
}

export class NeighbourEntry {
  readonly family: 4 | 6;
  /** IPv4 address (family 4). */
  readonly ip4: number;
  /** IPv6 address (family 6; 16 zero bytes otherwise). */
  readonly ip6 = new Uint8Array(16);
  readonly mac = new Uint8Array(6);
  port: number;
  state: number;
  /** Last time reachability was confirmed (ms). */
  confirmed: number;
  /** Last time a packet used the entry (ms): eviction picks the oldest. */
  used: number;
  /** Probes sent in the current INCOMPLETE or PROBE round, and when the last one went. */
  probes = 0;
  probeAt = 0;
  /** Our address to ask from (IPv4 u32 / IPv6 bytes), remembered for retransmissions. */
  srcIp4 = 0;
  readonly srcIp6 = new Uint8Array(16);
  /** Packets waiting in the resolver's queue for this entry. */
  queued = 0;

  constructor(family: 4 | 6, ip4: number, ip6: Uint8Array | null, port: number, state: number, now: number) {
    this.family = family;
    this.ip4 = ip4;
    if (ip6) this.ip6.set(ip6.subarray(0, 16));
    this.port = port;
    this.state = state;
    this.confirmed = now;
    this.used = now;
  }

  get isStatic(): boolean {
    return this.state === NUD_PERMANENT;
  }
  /** A MAC is known (every state but INCOMPLETE). */
  get valid(): boolean {
    return this.state !== NUD_INCOMPLETE;
  }
}

/**
 * FNV-1a over 16 address bytes: the IPv6 bucket key, cut to 30 bits so it stays a small integer (a
 * Smi): a larger number is a heap number in V8, and looking one up in a Map allocated 16 bytes a packet.
 */
export function hash6(b: Uint8Array, o: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 4) h = Math.imul(h ^ word(b, o + i), 0x01000193);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** The 32-bit word at b[o] (signed: comparisons and hashing only). */
function word(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

/** 16 bytes at a[ao] and b[bo] are equal (four word compares). */
function same16(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  return (
    word(a, ao) === word(b, bo) &&
    word(a, ao + 4) === word(b, bo + 4) &&
    word(a, ao + 8) === word(b, bo + 8) &&
    word(a, ao + 12) === word(b, bo + 12)
  );
}

export class Neighbours {
  /** Keyed by the address as an int32 (`ip | 0`): see ipv4-set.ts for why; entries keep it as uint32. */
  private readonly v4 = new Map<number, NeighbourEntry>();
  private readonly v6 = new Map<number, NeighbourEntry[]>();
  private readonly routes4: Route4[] = [];
  private readonly routes6: Route6[] = [];
  /** IPv6 addresses nvo owns on the underlay (answers NS for them); tunnel ports' local_ip too. */
  readonly local6: Uint8Array[] = [];
  private count = 0;
  // Set-up knobs (NeighbourLimits); plain fields so a configuration can set them after construction.
  maxEntries: number;
  reachableMs: number;
  retransMs: number;
  mcastProbes: number;
  ucastProbes: number;
  generation = 1;

  constructor(limits: NeighbourLimits = {}) {
    this.maxEntries = limits.maxEntries ?? 1024;
    this.reachableMs = limits.reachableMs ?? 30_000;
    this.retransMs = limits.retransMs ?? 1000;
    this.mcastProbes = limits.mcastProbes ?? 3;
    this.ucastProbes = limits.ucastProbes ?? 3;
  }

  get size(): number {
    return this.count;
  }

  addLocal6(addr: Uint8Array): void {
    if (!this.isLocal6(addr, 0)) this.local6.push(addr.slice(0, 16));
  }

  isLocal6(b: Uint8Array, o: number): boolean {
    for (let k = 0; k < this.local6.length; k++) if (same16(this.local6[k]!, 0, b, o)) return true;
    return false;
  }

  /** Something every cached template holds changed outside this table (our own MAC): rebuild them. */
  invalidate(): void {
    this.generation++;
  }

  // ---- routes ----

  addRoute4(prefix: number, len: number, gateway: number, port: number): void {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    this.routes4.push({ prefix: (prefix & mask) >>> 0, len, gateway, port });
    this.routes4.sort((a, b) => b.len - a.len);
    this.generation++;
  }

  /** Next-hop address for dst (the gateway, or dst when on-link), or -1 when no route. */
  nextHop4(dst: number): number {
    const r = this.route4(dst);
    return r === null ? -1 : r.gateway === 0 ? dst : r.gateway;
  }

  /** The longest-prefix route for dst, or null. */
  route4(dst: number): Route4 | null {
    for (let k = 0; k < this.routes4.length; k++) {
      const r = this.routes4[k]!;
      const mask = r.len === 0 ? 0 : (0xffffffff << (32 - r.len)) >>> 0;
      if ((dst & mask) >>> 0 === r.prefix) return r;
    }
    return null;
  }

  addRoute6(prefix: Uint8Array, len: number, gateway: Uint8Array | null, port: number): void {
    if (len < 0 || len > 128) throw new Error(`IPv6 prefix length ${len} is not 0..128`);
    const p = new Uint8Array(16);
    const m = new Uint8Array(16);
    for (let i = 0; i < 16; i++) {
      m[i] = maskByte(len, i);
      p[i] = prefix[i]! & m[i]!;
    }
    const prefixWords = new Int32Array(4);
    const maskWords = new Int32Array(4);
    for (let i = 0; i < 4; i++) {
      prefixWords[i] = word(p, 4 * i);
      maskWords[i] = word(m, 4 * i);
    }
    const g = gateway ? gateway.slice(0, 16) : null;
    this.routes6.push({ prefix: p, prefixWords, maskWords, len, gateway: g, port });
    this.routes6.sort((a, b) => b.len - a.len);
    this.generation++;
  }

  /** The longest-prefix IPv6 route for the 16 bytes at dst[o], or null. */
  route6(dst: Uint8Array, o: number): Route6 | null {
    const w0 = word(dst, o);
    const w1 = word(dst, o + 4);
    const w2 = word(dst, o + 8);
    const w3 = word(dst, o + 12);
    for (let k = 0; k < this.routes6.length; k++) {
      const r = this.routes6[k]!;
      const m = r.maskWords;
      const p = r.prefixWords;
      if ((w0 & m[0]!) === p[0] && (w1 & m[1]!) === p[1] && (w2 & m[2]!) === p[2] && (w3 & m[3]!) === p[3])
        return r;
    }
    return null;
  }

  /**
   * Writes dst's next hop into `out` (its gateway, else dst itself) and returns the route's port, or
   * 0 when no route matches (the caller may still treat dst as on-link, as nvo did before IPv6 routes).
   */
  nextHop6(dst: Uint8Array, o: number, out: Uint8Array): number {
    const r = this.route6(dst, o);
    const g = r === null ? null : r.gateway;
    if (g !== null) for (let i = 0; i < 16; i++) out[i] = g[i]!;
    else for (let i = 0; i < 16; i++) out[i] = dst[o + i]!;
    return r === null ? 0 : r.port;
  }

  get hasRoutes6(): boolean {
    return this.routes6.length > 0;
  }

  // ---- entries ----

  lookup4(ip: number): NeighbourEntry | undefined {
    return this.v4.get(ip | 0);
  }

  lookup6(b: Uint8Array, o: number): NeighbourEntry | undefined {
    const bucket = this.v6.get(hash6(b, o));
    if (!bucket) return undefined;
    for (let k = 0; k < bucket.length; k++) {
      const e = bucket[k]!;
      if (same16(e.ip6, 0, b, o)) return e;
    }
    return undefined;
  }

  /** A new entry (INCOMPLETE unless a MAC is given), or null when the table is full of busy entries. */
  create4(
    ip: number,
    port: number,
    now: number,
    mac: Uint8Array | null,
    state: number,
  ): NeighbourEntry | null {
    if (!this.makeRoom()) return null;
    const e = new NeighbourEntry(4, ip, null, port, mac ? state : NUD_INCOMPLETE, now);
    this.v4.set(ip | 0, e);
    return this.added(e, mac);
  }

  create6(
    b: Uint8Array,
    o: number,
    port: number,
    now: number,
    mac: Uint8Array | null,
    state: number,
  ): NeighbourEntry | null {
    if (!this.makeRoom()) return null;
    const e = new NeighbourEntry(6, 0, b.subarray(o, o + 16), port, mac ? state : NUD_INCOMPLETE, now);
    const h = hash6(b, o);
    const bucket = this.v6.get(h);
    if (bucket) bucket.push(e);
    else this.v6.set(h, [e]);
    return this.added(e, mac);
  }

  private added(e: NeighbourEntry, mac: Uint8Array | null): NeighbourEntry {
    if (mac) this.setMac(e, mac);
    this.count++;
    return e;
  }

  /**
   * A confirmed or learned MAC for e (ARP reply, NA, or a request/solicitation carrying the sender's
   * address): `state` is REACHABLE for answers to our probes, STALE for what we only overheard.
   * Permanent entries keep their MAC. Returns true when the MAC changed.
   */
  update(e: NeighbourEntry, mac: Uint8Array, port: number, state: number, now: number): boolean {
    if (e.state === NUD_PERMANENT) return false;
    const changed = e.state === NUD_INCOMPLETE || !sameMac(e.mac, mac);
    // Overheard news that only repeats the MAC we have keeps the state (Linux neigh_update: a
    // REACHABLE or PROBE entry is not made STALE by a matching request).
    if (!changed && state === NUD_STALE) {
      e.port = port;
      return false;
    }
    if (changed) this.setMac(e, mac);
    e.port = port;
    e.state = state;
    e.probes = 0;
    if (state === NUD_REACHABLE) e.confirmed = now;
    return changed;
  }

  private setMac(e: NeighbourEntry, mac: Uint8Array): void {
    for (let i = 0; i < 6; i++) e.mac[i] = mac[i]!;
    this.generation++;
  }

  remove(e: NeighbourEntry): void {
    if (e.family === 4) {
      if (this.v4.get(e.ip4 | 0) !== e) return;
      this.v4.delete(e.ip4 | 0);
    } else {
      const h = hash6(e.ip6, 0);
      const bucket = this.v6.get(h);
      const i = bucket ? bucket.indexOf(e) : -1;
      if (i < 0) return;
      bucket!.splice(i, 1);
      if (bucket!.length === 0) this.v6.delete(h);
    }
    this.count--;
    this.generation++;
  }

  /** Evicts the least recently used entry without waiting packets when the table is full. */
  private makeRoom(): boolean {
    if (this.count < this.maxEntries) return true;
    let victim: NeighbourEntry | null = null;
    for (const e of this.entries())
      if (e.state !== NUD_PERMANENT && e.queued === 0 && (victim === null || e.used < victim.used))
        victim = e;
    if (victim === null) return false;
    this.remove(victim);
    return true;
  }

  *entries(): IterableIterator<NeighbourEntry> {
    yield* this.v4.values();
    for (const bucket of this.v6.values()) yield* bucket;
  }

  // ---- the API the configuration and older callers use ----

  set4(ip: number, mac: Uint8Array, port: number, now: number, isStatic = false): void {
    const state = isStatic ? NUD_PERMANENT : NUD_REACHABLE;
    const e = this.v4.get(ip | 0);
    if (e) this.setStatic(e, mac, port, state, now);
    else this.create4(ip, port, now, mac, state);
  }

  set6(ip: Uint8Array, mac: Uint8Array, port: number, now: number, isStatic = false): void {
    const state = isStatic ? NUD_PERMANENT : NUD_REACHABLE;
    const e = this.lookup6(ip, 0);
    if (e) this.setStatic(e, mac, port, state, now);
    else this.create6(ip, 0, port, now, mac, state);
  }

  private setStatic(e: NeighbourEntry, mac: Uint8Array, port: number, state: number, now: number): void {
    if (e.state === NUD_PERMANENT && state !== NUD_PERMANENT) return;
    if (e.state === NUD_INCOMPLETE || !sameMac(e.mac, mac)) this.setMac(e, mac);
    e.port = port;
    e.state = state;
    e.confirmed = now;
  }

  /** The entry for ip when it has a MAC (any state but INCOMPLETE), else null. */
  get4(ip: number, _now?: number): NeighbourEntry | null {
    const e = this.v4.get(ip | 0);
    return e?.valid ? e : null;
  }

  get6(ip: Uint8Array, o = 0): NeighbourEntry | null {
    const e = this.lookup6(ip, o);
    return e?.valid ? e : null;
  }

  dump(): { ip: string; mac: string; port: number; static: boolean; state: string }[] {
    const out: { ip: string; mac: string; port: number; static: boolean; state: string }[] = [];
    for (const e of this.entries())
      out.push({
        ip: e.family === 4 ? ip4Text(e.ip4) : ip6Text(e.ip6),
        mac: e.valid ? Array.from(e.mac, (x) => x.toString(16).padStart(2, '0')).join(':') : '',
        port: e.port,
        static: e.isStatic,
        state: NUD_NAMES[e.state]!,
      });
    return out;
  }
}

/** The bits of byte i (0..15) inside a /len prefix. */
function maskByte(len: number, i: number): number {
  const bits = len - 8 * i;
  return bits >= 8 ? 0xff : bits <= 0 ? 0 : (0xff << (8 - bits)) & 0xff;
}

export function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

function ip4Text(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
}

function ip6Text(b: Uint8Array): string {
  return formatIpv6(b, 0);
}
