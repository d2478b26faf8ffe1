// Independent implementations used as oracles: tshark (Wireshark's dissectors) and scapy (/usr/bin/python3,
// Debian's python3-scapy). Both are installed by .ci/run; tests that use them call `need*()` first.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TSHARK = '/usr/bin/tshark';
export const PYTHON = '/usr/bin/python3';

export function haveTshark(): boolean {
  return existsSync(TSHARK);
}

export function haveScapy(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import scapy.all'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A minimal classic pcap (µs, little-endian) of Ethernet frames, for feeding the oracles. */
export function pcapOf(frames: Uint8Array[], linktype = 1): Uint8Array {
  const total = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 262144, true);
  dv.setUint32(20, linktype, true);
  let o = 24;
  frames.forEach((f, i) => {
    dv.setUint32(o, 1_700_000_000 + i, true);
    dv.setUint32(o + 8, f.length, true);
    dv.setUint32(o + 12, f.length, true);
    out.set(f, o + 16);
    o += 16 + f.length;
  });
  return out;
}

export type Layers = Record<string, unknown>;

/**
 * Dissects frames with tshark and returns each frame's `_source.layers` object (field values are strings,
 * as tshark prints them). `prefs` are `-o name:value` pairs (e.g. ip.try_heuristic_first:TRUE for STT),
 * `decodeAs` are `-d` rules (e.g. udp.port==4790,vxlan-gpe... as tshark spells them).
 */
export function tshark(frames: Uint8Array[], opts: { prefs?: string[]; decodeAs?: string[] } = {}): Layers[] {
  const dir = mkdtempSync(join(tmpdir(), 'nvo-tshark-'));
  try {
    const file = join(dir, 'in.pcap');
    writeFileSync(file, pcapOf(frames));
    const args = ['-r', file, '-T', 'json', '--no-duplicate-keys', '-n'];
    for (const p of opts.prefs ?? []) args.push('-o', p);
    for (const d of opts.decodeAs ?? []) args.push('-d', d);
    const json = execFileSync(TSHARK, args, {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return (JSON.parse(json) as { _source: { layers: Layers } }[]).map((p) => p._source.layers);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when tshark's dissection of a frame contains a malformed-packet or expert error marker. */
export function tsharkMalformed(layers: Layers): string | undefined {
  const text = JSON.stringify(layers);
  if (text.includes('"_ws.malformed"')) return 'malformed';
  const m = text.match(/"_ws\.expert\.severity": "(\d+)"/g);
  // 8388608 = PI_ERROR (epan/proto.h); warnings (6291456) include benign things such as "checksum unverified".
  if (m?.some((x) => x.includes('8388608'))) return 'expert error';
  return undefined;
}

/**
 * Runs a Python snippet with `from scapy.all import *` already done; the snippet prints its results.
 * Returns stdout. Use `bytes(pkt).hex()` to hand frames back.
 */
export function scapy(code: string): string {
  const script = `import sys\nfrom scapy.all import *\nfrom scapy.contrib import *\n${code}\n`;
  return execFileSync(PYTHON, ['-c', script], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Nested field lookup in tshark JSON: the first value of `name` below `layers`, depth first. With
 * --no-duplicate-keys a repeated layer (outer and inner "ip") becomes an array: outer first. */
export function field(layers: unknown, name: string): string | undefined {
  if (layers === null || typeof layers !== 'object') return undefined;
  for (const [k, v] of Object.entries(layers as Record<string, unknown>)) {
    if (k === name && typeof v === 'string') return v;
    const found = field(v, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Every value of `name` below `layers`, in document order (outer headers before inner ones). */
export function fields(layers: unknown, name: string, acc: string[] = []): string[] {
  if (layers === null || typeof layers !== 'object') return acc;
  for (const [k, v] of Object.entries(layers as Record<string, unknown>)) {
    if (k === name && typeof v === 'string') acc.push(v);
    else if (k === name && Array.isArray(v))
      for (const x of v) typeof x === 'string' ? acc.push(x) : fields(x, name, acc);
    else fields(v, name, acc);
  }
  return acc;
}

/** Skip reasons for node:test (`{ skip: needTshark() }`): false when the tool is there. */
export function needTshark(): string | false {
  return haveTshark() ? false : 'tshark is not installed (scripts/install-deps.sh installs it)';
}

export function needScapy(): string | false {
  return haveScapy() ? false : 'python3-scapy is not installed (scripts/install-deps.sh installs it)';
}
