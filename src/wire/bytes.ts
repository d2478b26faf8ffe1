// Big-endian field access over (bytes, offset). Plain functions that V8 inlines; no DataView per packet.
// 32-bit reads use `>>> 0` so a set top bit gives 0x80000000..0xffffffff, not a negative number.

export const u8 = (b: Uint8Array, o: number): number => b[o]!;
export const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const u24 = (b: Uint8Array, o: number): number => (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
export const u32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

export function setU8(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
}
export function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
export function setU24(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 16;
  b[o + 1] = v >>> 8;
  b[o + 2] = v;
}
export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Little-endian (virtio_net_hdr, pcap of the other byte order). */
export const u16le = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
export const u32le = (b: Uint8Array, o: number): number =>
  (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
export function setU16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}
export function setU32le(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/** 64-bit fields travel as hi/lo u32 pairs on the data path; bigint only for control plane and CLI. */
export const u64 = (b: Uint8Array, o: number): bigint => (BigInt(u32(b, o)) << 32n) | BigInt(u32(b, o + 4));
export function setU64(b: Uint8Array, o: number, v: bigint): void {
  setU32(b, o, Number((v >> 32n) & 0xffffffffn));
  setU32(b, o + 4, Number(v & 0xffffffffn));
}

// ---- text forms (control plane, traces, CLI: these allocate) ----

export function hex(b: Uint8Array, o = 0, end = b.length): string {
  let s = '';
  for (let i = o; i < end; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Parses "0a0b 0c" / "0a:0b:0c" style hex; whitespace and colons are ignored. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex: ${text.slice(0, 40)}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function formatMac(b: Uint8Array, o: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + b[o + i]!.toString(16).padStart(2, '0');
  return s;
}

export function parseMac(text: string, b: Uint8Array, o: number): void {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p)))
    throw new Error(`bad MAC address: ${text}`);
  for (let i = 0; i < 6; i++) b[o + i] = Number.parseInt(parts[i]!, 16);
}

export function formatIpv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

export function parseIpv4(text: string, b: Uint8Array, o: number): void {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    throw new Error(`bad IPv4 address: ${text}`);
  for (let i = 0; i < 4; i++) b[o + i] = Number(parts[i]);
}

/** RFC 5952 text: lower case, longest run of two or more zero groups shown as "::". */
export function formatIpv6(b: Uint8Array, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(u16(b, o + 2 * i));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const part = (from: number, to: number) =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  // IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) addresses end in a dotted quad
  // (RFC 5952 §5; glibc inet_ntop, and so ovs-ofctl and tshark, print them so).
  if (bestAt === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
    const q = `${g[6]! >>> 8}.${g[6]! & 0xff}.${g[7]! >>> 8}.${g[7]! & 0xff}`;
    return bestLen === 6 ? `::${q}` : `::ffff:${q}`;
  }
  if (bestAt < 0) return part(0, 8);
  return `${part(0, bestAt)}::${part(bestAt + bestLen, 8)}`;
}

export function parseIpv6(text: string, b: Uint8Array, o: number): void {
  const bad = () => new Error(`bad IPv6 address: ${text}`);
  let groups: string[];
  let tail4: string | undefined;
  let t = text;
  const lastColon = t.lastIndexOf(':');
  if (t.includes('.') && lastColon >= 0) {
    tail4 = t.slice(lastColon + 1);
    t = `${t.slice(0, lastColon + 1)}0:0`;
  }
  const halves = t.split('::');
  if (halves.length > 2) throw bad();
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) throw bad();
    groups = [...head, ...Array(fill).fill('0'), ...rest];
  } else groups = head;
  if (groups.length !== 8 || groups.some((x) => !/^[0-9a-fA-F]{1,4}$/.test(x))) throw bad();
  for (let i = 0; i < 8; i++) setU16(b, o + 2 * i, Number.parseInt(groups[i]!, 16));
  if (tail4 !== undefined) parseIpv4(tail4, b, o + 12);
}
