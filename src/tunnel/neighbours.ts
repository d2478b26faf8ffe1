// Underlay next hops: a small route table (longest prefix match over a handful of routes) and the
// neighbour table filled by ARP / ND (nvo owns its underlay address, so it answers and asks itself).
// IPv4 addresses are u32 numbers; IPv6 ones are keyed by their text form (slow path: set-up and ND).
// `generation` bumps whenever a MAC changes, so cached outer-header templates know to rebuild.

export interface Route4 {
  prefix: number;
  len: number;
  /** 0 = on-link (the destination itself is the next hop). */
  gateway: number;
  port: number;
}

export interface NeighbourEntry {
  readonly mac: Uint8Array;
  port: number;
  updated: number;
  /** Static entries (configured) never age. */
  isStatic: boolean;
}

export const NEIGHBOUR_TTL_MS = 30 * 60_000;

export class Neighbours {
  private readonly v4 = new Map<number, NeighbourEntry>();
  private readonly v6 = new Map<string, NeighbourEntry>();
  private readonly routes4: Route4[] = [];
  generation = 1;

  addRoute4(prefix: number, len: number, gateway: number, port: number): void {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    this.routes4.push({ prefix: (prefix & mask) >>> 0, len, gateway, port });
    this.routes4.sort((a, b) => b.len - a.len);
  }

  /** Next-hop address for dst (the gateway, or dst when on-link), or -1 when no route. */
  nextHop4(dst: number): number {
    for (const r of this.routes4) {
      const mask = r.len === 0 ? 0 : (0xffffffff << (32 - r.len)) >>> 0;
      if ((dst & mask) >>> 0 === r.prefix) return r.gateway === 0 ? dst : r.gateway;
    }
    return -1;
  }

  set4(ip: number, mac: Uint8Array, port: number, now: number, isStatic = false): void {
    this.set(this.v4, ip, mac, port, now, isStatic);
  }

  private set<K>(
    table: Map<K, NeighbourEntry>,
    ip: K,
    mac: Uint8Array,
    port: number,
    now: number,
    isStatic: boolean,
  ): void {
    const e = table.get(ip);
    if (e) {
      if (!sameMac(e.mac, mac)) {
        e.mac.set(mac.subarray(0, 6));
        this.generation++;
      }
      e.port = port;
      e.updated = now;
      e.isStatic ||= isStatic;
      return;
    }
    table.set(ip, { mac: mac.slice(0, 6), port, updated: now, isStatic });
    this.generation++;
  }

  get4(ip: number, now: number): NeighbourEntry | null {
    const e = this.v4.get(ip);
    if (!e || (!e.isStatic && now - e.updated > NEIGHBOUR_TTL_MS)) return null;
    return e;
  }

  set6(ip: string, mac: Uint8Array, port: number, now: number, isStatic = false): void {
    this.set(this.v6, ip, mac, port, now, isStatic);
  }

  get6(ip: string, now: number): NeighbourEntry | null {
    const e = this.v6.get(ip);
    if (!e || (!e.isStatic && now - e.updated > NEIGHBOUR_TTL_MS)) return null;
    return e;
  }

  dump(): { ip: string; mac: string; port: number; static: boolean }[] {
    const mac = (m: Uint8Array) => Array.from(m, (x) => x.toString(16).padStart(2, '0')).join(':');
    const out: { ip: string; mac: string; port: number; static: boolean }[] = [];
    for (const [ip, e] of this.v4)
      out.push({
        ip: [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'),
        mac: mac(e.mac),
        port: e.port,
        static: e.isStatic,
      });
    for (const [ip, e] of this.v6) out.push({ ip, mac: mac(e.mac), port: e.port, static: e.isStatic });
    return out;
  }
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}
