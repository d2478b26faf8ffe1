// Finds every codec in src/wire (any export shaped like Codec<R> from src/wire/codec.ts) by listing the
// directory and importing each module, so codecs added later are fuzzed and benchmarked with no list to
// maintain. Shared by test/fuzz/parsers.test.ts and bench/micro/codecs.ts.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Codec } from '../../src/wire/codec.ts';
import { OK } from '../../src/wire/status.ts';
import { type Rng, rng } from './mutate.ts';

export const WIRE_DIR = fileURLToPath(new URL('../../src/wire/', import.meta.url));

export interface Found {
  /** `<file>:<export>` e.g. `ipv4.ts:codec`. */
  where: string;
  codec: Codec<unknown>;
  /** Optional `fuzzSeeds: Uint8Array[]` exported by the same module: real frames to mutate. */
  moduleSeeds: Uint8Array[];
}

function isCodec(x: unknown): x is Codec<unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  return (
    typeof c['name'] === 'string' &&
    ['newRepr', 'headerLen', 'parse', 'emit', 'format'].every((k) => typeof c[k] === 'function')
  );
}

export function wireModules(): string[] {
  return readdirSync(WIRE_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .sort();
}

/** Imports one module of src/wire and returns its codecs (deduplicated by identity). */
export async function codecsOf(file: string): Promise<Found[]> {
  const mod = (await import(pathToFileURL(join(WIRE_DIR, file)).href)) as Record<string, unknown>;
  const seeds = Array.isArray(mod['fuzzSeeds'])
    ? (mod['fuzzSeeds'] as unknown[]).filter((s): s is Uint8Array => s instanceof Uint8Array)
    : [];
  const out: Found[] = [];
  const seen = new Set<unknown>();
  for (const [name, value] of Object.entries(mod)) {
    if (!isCodec(value) || seen.has(value)) continue;
    seen.add(value);
    out.push({ where: `${file}:${name}`, codec: value, moduleSeeds: seeds });
  }
  return out;
}

export async function discoverCodecs(): Promise<Found[]> {
  const all: Found[] = [];
  for (const f of wireModules()) all.push(...(await codecsOf(f)));
  return all;
}

// ---- seed frames: emitted from Reprs with randomised fields, kept when they parse back OK ----

const INTERESTING = [0, 1, 2, 4, 8, 14, 20, 40, 64, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0xffff, 0xffffff];

function randomNumber(r: Rng, old: number): number {
  switch (r.int(8)) {
    case 0:
      return old;
    case 1:
      return INTERESTING[r.int(INTERESTING.length)]!;
    case 2:
      return r.int(64);
    case 3:
      return r.int(256);
    case 4:
      return r.int(0x10000);
    case 5:
      return r.int(0x1000000);
    case 6:
      return r.u32();
    default:
      return r.int(16);
  }
}

/** Randomises a Repr in place, field by field, keeping each field's type (and array lengths). */
function randomise(r: Rng, x: unknown, depth = 0): unknown {
  if (typeof x === 'number') return Number.isInteger(x) ? randomNumber(r, x) : x;
  if (typeof x === 'boolean') return r.int(2) === 1;
  if (typeof x === 'bigint') return BigInt(r.u32()) * 0x100000000n + BigInt(r.u32());
  if (x instanceof Uint8Array) {
    for (let i = 0; i < x.length; i++) x[i] = r.int(256);
    return x;
  }
  if (depth < 4 && typeof x === 'object' && x !== null && !ArrayBuffer.isView(x)) {
    const o = x as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = randomise(r, o[k], depth + 1);
  }
  return x;
}

/**
 * Up to `want` frames (header + some payload) that the codec parses OK: the default Repr, Reprs with
 * random field values, and the module's own fuzzSeeds. Emit may reject a nonsensical Repr by throwing
 * (a programmer error, allowed); those Reprs are skipped.
 */
export function validSeeds(found: Found, want: number, seed: number): Uint8Array[] {
  const { codec } = found;
  const r = rng(seed);
  const out: Uint8Array[] = [...found.moduleSeeds];
  const probe = codec.newRepr();
  for (let tries = 0; out.length < want && tries < want * 20; tries++) {
    const repr = codec.newRepr();
    if (tries > 0) randomise(r, repr);
    try {
      const len = codec.headerLen(repr);
      if (!(len >= 0 && len <= 65536)) continue;
      // Mostly short payloads (parsers rarely look past the header; bytes cost fuzz time), some MTU-size.
      const payload =
        tries % 10 === 9 ? r.int(1600) : tries % 3 === 0 ? 0 : r.int(tries % 3 === 1 ? 64 : 256);
      const b = new Uint8Array(len + payload);
      for (let i = len; i < b.length; i++) b[i] = r.int(256);
      codec.emit(repr, b, 0);
      if (codec.parse(b, 0, b.length, probe) === OK) out.push(b);
    } catch {
      // emit refused this Repr
    }
  }
  return out;
}
