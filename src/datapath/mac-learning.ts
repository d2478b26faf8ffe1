// The NORMAL action's MAC table (OVS lib/mac-learning.c; Linux vxlan FDB): per L2 domain (a VNI, or a
// VLAN on a plain bridge), MAC → port, plus the remote VTEP the MAC sits behind when the port is a
// tunnel. Entries age out (default 300 s, as OVS and the Linux bridge) and the table is bounded
// (default 8192 entries; when full, a new MAC is not learned and `mac-table-full` counts it).
//
// Keys: a MAC is 48 bits, exact in a double, so Map<number, …> per domain needs no string keys and
// lookups allocate nothing. Learning a new MAC allocates (an entry object): that is per new MAC, not per
// packet.

export interface MacEntry {
  port: number;
  /** Remote VTEP for MACs learned from a tunnel: 4 (IPv4 in remote[0..4)) or 6; 0 for local ports. */
  remoteVersion: number;
  readonly remote: Uint8Array;
  seen: number;
}

export const DEFAULT_AGING_MS = 300_000;
export const DEFAULT_MAX_ENTRIES = 8192;

export function macAt(b: Uint8Array, o: number): number {
  return (
    ((b[o]! << 8) | b[o + 1]!) * 0x100000000 +
    (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0)
  );
}

export class MacLearning {
  private readonly domains = new Map<number, Map<number, MacEntry>>();
  private size = 0;
  readonly agingMs: number;
  readonly maxEntries: number;
  learned = 0;
  moved = 0;
  full = 0;
  aged = 0;

  constructor(opts: { agingMs?: number; maxEntries?: number } = {}) {
    this.agingMs = opts.agingMs ?? DEFAULT_AGING_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  get count(): number {
    return this.size;
  }

  /** Learns (domain, mac) on `port` (behind `remote` when a tunnel). */
  learn(
    domain: number,
    mac: number,
    port: number,
    remoteVersion: number,
    remote: Uint8Array | null,
    now: number,
  ): void {
    let d = this.domains.get(domain);
    let e = d?.get(mac);
    if (e) {
      if (e.port !== port || (remoteVersion !== 0 && !sameRemote(e, remoteVersion, remote!))) this.moved++;
      e.port = port;
      e.remoteVersion = remoteVersion;
      if (remote) e.remote.set(remote.subarray(0, remoteVersion === 4 ? 4 : 16));
      e.seen = now;
      return;
    }
    if (this.size >= this.maxEntries) {
      this.full++;
      return;
    }
    if (!d) {
      d = new Map();
      this.domains.set(domain, d);
    }
    e = { port, remoteVersion, remote: new Uint8Array(16), seen: now };
    if (remote) e.remote.set(remote.subarray(0, remoteVersion === 4 ? 4 : 16));
    d.set(mac, e);
    this.size++;
    this.learned++;
  }

  /** The live entry for (domain, mac), or null (unknown or aged out). */
  lookup(domain: number, mac: number, now: number): MacEntry | null {
    const e = this.domains.get(domain)?.get(mac);
    if (!e) return null;
    if (now - e.seen > this.agingMs) return null;
    return e;
  }

  /** Drops aged entries (call from a timer, not per packet). */
  expire(now: number): void {
    for (const d of this.domains.values())
      for (const [mac, e] of d)
        if (now - e.seen > this.agingMs) {
          d.delete(mac);
          this.size--;
          this.aged++;
        }
  }

  /** Forgets every MAC on a port (port deleted or link down). */
  flushPort(port: number): void {
    for (const d of this.domains.values())
      for (const [mac, e] of d)
        if (e.port === port) {
          d.delete(mac);
          this.size--;
        }
  }

  dump(): { domain: number; mac: string; port: number; remote: string; ageMs: number }[] {
    const out: { domain: number; mac: string; port: number; remote: string; ageMs: number }[] = [];
    const now = Date.now();
    for (const [domain, d] of this.domains)
      for (const [mac, e] of d)
        out.push({
          domain,
          mac: mac
            .toString(16)
            .padStart(12, '0')
            .replace(/(..)(?!$)/g, '$1:'),
          port: e.port,
          remote:
            e.remoteVersion === 4
              ? Array.from(e.remote.subarray(0, 4)).join('.')
              : e.remoteVersion
                ? 'ipv6'
                : '',
          ageMs: now - e.seen,
        });
    return out;
  }
}

function sameRemote(e: MacEntry, v: number, r: Uint8Array): boolean {
  if (e.remoteVersion !== v) return false;
  const n = v === 4 ? 4 : 16;
  for (let i = 0; i < n; i++) if (e.remote[i] !== r[i]) return false;
  return true;
}
