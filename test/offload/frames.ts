// Test-only frame builders and a naive checksum, written independently of src/ (no src/wire/checksum.ts):
// plain byte loops and DataView, slow and obviously right. Used as the reference side of the offload tests.
import { Batch } from '../../src/packet/batch.ts';
import type { Packet } from '../../src/packet/packet.ts';
import type { Pool } from '../../src/packet/pool.ts';

/** RFC 1071 checksum, the textbook way: 16-bit big-endian words, end-around carry, complement. */
export function naiveChecksum(parts: Uint8Array[]): number {
  const all: number[] = [];
  for (const p of parts) for (const x of p) all.push(x);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) {
    s += (all[i]! << 8) | (all[i + 1] ?? 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

const be16 = (v: number) => new Uint8Array([v >>> 8, v & 0xff]);

export function pseudo(ip: Uint8Array, proto: number, l4len: number): Uint8Array {
  if (ip[0]! >>> 4 === 4) {
    return new Uint8Array([...ip.slice(12, 20), 0, proto, ...be16(l4len)]);
  }
  return new Uint8Array([...ip.slice(8, 40), 0, 0, ...be16(l4len), 0, 0, 0, proto]);
}

export interface IpOpts {
  v6?: boolean;
  id?: number;
  df?: boolean;
  ttl?: number;
  tos?: number;
  src?: number[];
  dst?: number[];
  flowLabel?: number;
}

/** IP header for an L4 segment of length l4len (checksummed for IPv4). */
export function ipHeader(o: IpOpts, proto: number, l4len: number): Uint8Array {
  if (o.v6) {
    const h = new Uint8Array(40);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, (6 << 28) | ((o.tos ?? 0) << 20) | (o.flowLabel ?? 0x12345));
    dv.setUint16(4, l4len);
    h[6] = proto;
    h[7] = o.ttl ?? 64;
    h.set(o.src ?? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
    h.set(o.dst ?? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
    return h;
  }
  const h = new Uint8Array(20);
  const dv = new DataView(h.buffer);
  h[0] = 0x45;
  h[1] = o.tos ?? 0;
  dv.setUint16(2, 20 + l4len);
  dv.setUint16(4, o.id ?? 0x1234);
  dv.setUint16(6, o.df === false ? 0 : 0x4000);
  h[8] = o.ttl ?? 64;
  h[9] = proto;
  h.set(o.src ?? [10, 0, 0, 1], 12);
  h.set(o.dst ?? [10, 0, 0, 2], 16);
  dv.setUint16(10, naiveChecksum([h]));
  return h;
}

export function ethHeader(type: number, vlan?: number, mac = 1): Uint8Array {
  const dst = [2, 0, 0, 0, 0, mac + 1];
  const src = [2, 0, 0, 0, 0, mac];
  if (vlan === undefined) return new Uint8Array([...dst, ...src, ...be16(type)]);
  return new Uint8Array([...dst, ...src, 0x81, 0x00, ...be16(vlan), ...be16(type)]);
}

export interface TcpOpts extends IpOpts {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  options?: number[];
  vlan?: number;
  mac?: number;
}

export function payloadOf(n: number, seed = 1): Uint8Array {
  const p = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    p[i] = x >>> 24;
  }
  return p;
}

/** TCP header with a correct checksum over (ip pseudo-header, header, payload). */
export function tcpSegment(o: TcpOpts, payload: Uint8Array): { ip: Uint8Array; l4: Uint8Array } {
  const opts = o.options ?? [];
  const hl = 20 + opts.length;
  const th = new Uint8Array(hl);
  const dv = new DataView(th.buffer);
  dv.setUint16(0, o.sport ?? 40000);
  dv.setUint16(2, o.dport ?? 5201);
  dv.setUint32(4, o.seq ?? 1000);
  dv.setUint32(8, o.ack ?? 5000);
  th[12] = (hl / 4) << 4;
  th[13] = o.flags ?? 0x18;
  dv.setUint16(14, o.window ?? 502);
  th.set(opts, 20);
  const ip = ipHeader(o, 6, hl + payload.length);
  dv.setUint16(16, naiveChecksum([pseudo(ip, 6, hl + payload.length), th, payload]));
  const l4 = new Uint8Array(hl + payload.length);
  l4.set(th);
  l4.set(payload, hl);
  return { ip, l4 };
}

export function udpDatagram(
  o: TcpOpts,
  payload: Uint8Array,
  csum = true,
): { ip: Uint8Array; l4: Uint8Array } {
  const l4 = new Uint8Array(8 + payload.length);
  const dv = new DataView(l4.buffer);
  dv.setUint16(0, o.sport ?? 40000);
  dv.setUint16(2, o.dport ?? 9999);
  dv.setUint16(4, l4.length);
  l4.set(payload, 8);
  const ip = ipHeader(o, 17, l4.length);
  if (csum) {
    const c = naiveChecksum([pseudo(ip, 17, l4.length), l4]);
    dv.setUint16(6, c === 0 ? 0xffff : c);
  }
  return { ip, l4 };
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function tcpFrame(o: TcpOpts, payload: Uint8Array): Uint8Array {
  const { ip, l4 } = tcpSegment(o, payload);
  return concat(ethHeader(o.v6 ? 0x86dd : 0x0800, o.vlan, o.mac), ip, l4);
}

export function udpFrame(o: TcpOpts, payload: Uint8Array, csum = true): Uint8Array {
  const { ip, l4 } = udpDatagram(o, payload, csum);
  return concat(ethHeader(o.v6 ? 0x86dd : 0x0800, o.vlan, o.mac), ip, l4);
}

export type TunnelKind = 'vxlan' | 'geneve' | 'gpe' | 'gre' | 'gre-csum-key';

export interface OuterOpts extends IpOpts {
  kind: TunnelKind;
  udpCsum?: boolean;
  sport?: number;
  vni?: number;
  /** Geneve option bytes (multiple of 4). */
  geneveOpts?: number[];
}

/** Wraps an inner Ethernet frame in outer Ethernet/IP/UDP+tunnel or GRE, all checksums correct. */
export function encapFrame(o: OuterOpts, inner: Uint8Array): Uint8Array {
  const vni = o.vni ?? 42;
  let tunnelHdr: Uint8Array;
  let port = 4789;
  if (o.kind === 'vxlan')
    tunnelHdr = new Uint8Array([0x08, 0, 0, 0, vni >>> 16, (vni >>> 8) & 0xff, vni & 0xff, 0]);
  else if (o.kind === 'gpe') {
    port = 4790;
    tunnelHdr = new Uint8Array([0x0c, 0, 0, 3, vni >>> 16, (vni >>> 8) & 0xff, vni & 0xff, 0]);
  } else if (o.kind === 'geneve') {
    port = 6081;
    const opts = o.geneveOpts ?? [];
    tunnelHdr = new Uint8Array([
      opts.length / 4,
      0,
      0x65,
      0x58,
      vni >>> 16,
      (vni >>> 8) & 0xff,
      vni & 0xff,
      0,
      ...opts,
    ]);
  } else {
    // GRE carrying Ethernet (0x6558), optionally with checksum and key (NVGRE style).
    const withCk = o.kind === 'gre-csum-key';
    const h = withCk
      ? new Uint8Array([0xa0, 0, 0x65, 0x58, 0, 0, 0, 0, vni >>> 16, (vni >>> 8) & 0xff, vni & 0xff, 0])
      : new Uint8Array([0, 0, 0x65, 0x58]);
    if (withCk) {
      const c = naiveChecksum([h, inner]);
      h[4] = c >>> 8;
      h[5] = c & 0xff;
    }
    const ip = ipHeader({ ...o, tos: o.tos ?? 0 }, 47, h.length + inner.length);
    return concat(ethHeader(o.v6 ? 0x86dd : 0x0800, undefined, 9), ip, h, inner);
  }
  const udpLen = 8 + tunnelHdr.length + inner.length;
  const udp = new Uint8Array(8);
  const dv = new DataView(udp.buffer);
  dv.setUint16(0, o.sport ?? 51000);
  dv.setUint16(2, port);
  dv.setUint16(4, udpLen);
  const ip = ipHeader(o, 17, udpLen);
  if (o.udpCsum) {
    const c = naiveChecksum([pseudo(ip, 17, udpLen), udp, tunnelHdr, inner]);
    dv.setUint16(6, c === 0 ? 0xffff : c);
  }
  return concat(ethHeader(o.v6 ? 0x86dd : 0x0800, undefined, 9), ip, udp, tunnelHdr, inner);
}

/** Copies bytes into a fresh pool packet. */
export function load(pool: Pool, bytes: Uint8Array): Packet {
  const p = pool.alloc();
  if (p === null) throw new Error('test pool empty');
  p.buf.set(bytes, p.start);
  p.end = p.start + bytes.length;
  return p;
}

export function drain(out: Batch, pool: Pool): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < out.count; i++) {
    const p = out.packets[i]!;
    frames.push(p.bytes());
    pool.free(p);
  }
  out.clear();
  return frames;
}

export const newBatch = (n = 512): Batch => new Batch(n);
