// Fuzzes every codec in src/wire (found by listing the directory: see discover.ts) with random bytes
// (fast-check) and mutations of valid emitted frames (mutate.ts), NVO_FUZZ_RUNS inputs per codec in all
// (default 100,000; one fifth random, the rest mutated). For each input, parse and format run on the
// same bytes placed in four buffers that differ only OUTSIDE [o, end): none (the buffer ends at `end`),
// 0x00 junk, 0xff junk, random junk, at different offsets. Invariants:
//   - parse and format never throw, and never write to the buffer;
//   - status, Repr and format text are identical in all four (else something read outside [o, end));
//   - parse OK ⇒ headerLen(out) is a sane length, and emitting `out` over (a copy of) the input and
//     parsing again gives OK and the same Repr (what parse accepts, emit can reproduce).
// The seed is fixed (NVO_FUZZ_SEED overrides; NVO_FUZZ_SEED=random picks one and prints it), so CI is
// deterministic and a failure message carries the seed, the input hex and the layout to reproduce it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { hex } from '../../src/wire/bytes.ts';
import type { Codec } from '../../src/wire/codec.ts';
import { OK, type Status, statusName } from '../../src/wire/status.ts';
import { codecsOf, type Found, validSeeds, wireModules } from './discover.ts';
import { mutate, rng } from './mutate.ts';

const RUNS = Number(process.env['NVO_FUZZ_RUNS'] ?? 100_000);
const SEED =
  process.env['NVO_FUZZ_SEED'] === 'random'
    ? (Math.random() * 0x100000000) >>> 0
    : Number(process.env['NVO_FUZZ_SEED'] ?? 0x6e766f);

/** Deep equality for Reprs: numbers (NaN-safe), booleans, bigints, strings, typed arrays, arrays, objects. */
export function sameRepr(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!(a instanceof Uint8Array || ArrayBuffer.isView(a)) || !ArrayBuffer.isView(b)) return false;
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length || a.constructor !== b.constructor) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka)
    if (!sameRepr((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

interface Layout {
  name: string;
  /** The junk before o and after end. */
  pre: Uint8Array;
  post: Uint8Array;
}

const RANDOM_JUNK = (() => {
  const r = rng(0x5eed);
  return Uint8Array.from({ length: 64 }, () => r.int(256));
})();

// 'exact' ends the buffer at `end` (a read past it yields undefined); the others surround the input with
// different junk at different offsets, so any byte read outside [o, end) shows up as a difference.
const LAYOUTS: Layout[] = [
  { name: 'exact', pre: new Uint8Array(0), post: new Uint8Array(0) },
  { name: 'zeros', pre: new Uint8Array(5), post: new Uint8Array(64) },
  { name: 'ones', pre: new Uint8Array(37).fill(0xff), post: new Uint8Array(64).fill(0xff) },
  { name: 'random', pre: RANDOM_JUNK.slice(0, 3), post: RANDOM_JUNK },
];
const MAX_INPUT = 70_000;

/**
 * Codecs whose emit deliberately does not reproduce everything parse accepts; the re-emit invariant is
 * skipped for them (every other invariant still holds). Each entry says why.
 */
const LOSSY_EMIT: Record<string, string> = {
  // Unknown option kinds are recorded (kind, offset, length) but not their bytes, and emit writes only
  // the options it knows (MSS, WS, SACK-permitted, SACK, TS).
  'tcp-options': 'unknown options are not re-emitted',
};

function same(b: Uint8Array, at: number, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) if (b[at + i] !== want[i]) return false;
  return true;
}

class Checker {
  readonly codec: Codec<unknown>;
  private readonly outs: unknown[];
  private readonly again: unknown;
  /** One buffer per layout, preallocated; the junk is rewritten around each input. */
  private readonly bufs: Uint8Array[];
  private readonly lossy: boolean;
  inputs = 0;
  parsedOk = 0;

  constructor(codec: Codec<unknown>) {
    this.codec = codec;
    this.lossy = codec.name in LOSSY_EMIT;
    this.outs = LAYOUTS.map(() => codec.newRepr());
    this.again = codec.newRepr();
    this.bufs = LAYOUTS.map((L) => new Uint8Array(L.pre.length + MAX_INPUT + L.post.length));
  }

  /** Undefined when every invariant holds, else a description of the first one broken. */
  check(input: Uint8Array): string | undefined {
    this.inputs++;
    const c = this.codec;
    const n = input.length;
    if (n > MAX_INPUT) return undefined;
    let status0: Status = OK;
    let text0 = '';
    for (let l = 0; l < LAYOUTS.length; l++) {
      const L = LAYOUTS[l]!;
      const o = L.pre.length;
      const end = o + n;
      // The exact layout is a view that ends at `end`.
      const buf = l === 0 ? this.bufs[0]!.subarray(0, n) : this.bufs[l]!;
      buf.set(L.pre, 0);
      buf.set(input, o);
      buf.set(L.post, end);
      let st: Status;
      let text: string;
      try {
        st = c.parse(buf, o, end, this.outs[l]);
      } catch (e) {
        return `parse threw (${L.name}): ${(e as Error).stack ?? e}`;
      }
      try {
        text = c.format(buf, o, end);
      } catch (e) {
        return `format threw (${L.name}): ${(e as Error).stack ?? e}`;
      }
      if (typeof text !== 'string') return `format returned ${typeof text}`;
      if (!same(buf, 0, L.pre) || !same(buf, o, input) || !same(buf, end, L.post))
        return `parse/format wrote to the buffer (${L.name})`;
      if (l === 0) {
        status0 = st;
        text0 = text;
        continue;
      }
      if (st !== status0)
        return `status ${statusName(st)} (${L.name}) != ${statusName(status0)} (exact): reads outside [o, end)`;
      if (!sameRepr(this.outs[l], this.outs[0]))
        return `Repr differs (${L.name} vs exact): reads outside [o, end)\n  ${show(this.outs[l])}\n  ${show(this.outs[0])}`;
      if (text !== text0)
        return `format differs (${L.name} vs exact): reads outside [o, end)\n  ${text}\n  ${text0}`;
    }
    if (status0 !== OK) return undefined;
    this.parsedOk++;
    return this.lossy ? undefined : this.reemit(input);
  }

  private reemit(input: Uint8Array): string | undefined {
    const c = this.codec;
    const out = this.outs[0];
    const len = c.headerLen(out);
    if (!(Number.isInteger(len) && len >= 0 && len <= 0x10000)) return `parse OK but headerLen(out) = ${len}`;
    // Emit over a copy of the input (so a payload the header's lengths count is still there); a codec
    // may write more than it read (padding, e.g. TCP options to 4 bytes), hence the zero-filled room.
    const b = new Uint8Array(Math.max(input.length, len));
    b.set(input);
    try {
      c.emit(out, b, 0);
    } catch (e) {
      return `emit of a parsed Repr threw: ${(e as Error).stack ?? e}`;
    }
    const st = c.parse(b, 0, b.length, this.again);
    if (st !== OK) return `parse → emit → parse: ${statusName(st)}; emitted ${hex(b, 0, len)}`;
    if (!sameRepr(this.again, out))
      return `parse → emit → parse changed the Repr\n  ${show(out)}\n  ${show(this.again)}`;
    return undefined;
  }
}

function show(x: unknown): string {
  return JSON.stringify(x, (_k, v) =>
    typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? hex(v) : (v as unknown),
  );
}

function fuzzCodec(found: Found, diagnostic: (msg: string) => void): void {
  const checker = new Checker(found.codec);
  const seeds = validSeeds(found, 64, SEED);
  const randomRuns = Math.ceil(RUNS / 5);
  const mutatedRuns = RUNS - randomRuns;
  const tag = `${found.where} seed=${SEED}`;

  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
      const err = checker.check(bytes);
      if (err) throw new Error(err);
    }),
    { numRuns: randomRuns, seed: SEED },
  );

  if (seeds.length === 0) {
    // Nothing emitted by this codec parses back: that alone is a bug worth failing for.
    assert.fail(`${tag}: no Repr emitted by the codec parses back OK (newRepr() included)`);
  }
  const r = rng(SEED ^ 0x9e3779b9);
  for (let i = 0; i < mutatedRuns; i++) {
    const input = mutate(r, seeds[r.int(seeds.length)]!);
    const err = checker.check(input);
    if (err) assert.fail(`${tag} mutated input #${i} (${input.length} B): ${hex(input)}\n${err}`);
  }
  // Mutations must still reach the accept path, or the re-emit invariant is never exercised.
  assert.ok(checker.parsedOk > 0, `${tag}: no fuzz input parsed OK`);
  diagnostic(
    `${found.where}: ${seeds.length} seed frames, ${checker.parsedOk} of ${checker.inputs} inputs parsed OK`,
  );
}

describe('fuzz: every src/wire codec', async () => {
  for (const file of wireModules()) {
    const found = await codecsOf(file);
    for (const f of found)
      test(`${f.where} (${f.codec.name}) × ${RUNS}`, (t) => fuzzCodec(f, (m) => t.diagnostic(m)));
  }
});

// The harness must be able to fail: planted bugs, each of which one invariant has to catch.
describe('fuzz harness catches planted bugs', () => {
  interface R {
    v: number;
  }
  const base = {
    newRepr: (): R => ({ v: 0 }),
    headerLen: () => 2,
    emit: (r: R, b: Uint8Array, o: number) => {
      b[o] = r.v >>> 8;
      b[o + 1] = r.v & 0xff;
    },
    format: () => 'x',
  };
  const parse2 = (b: Uint8Array, o: number, end: number, out: R): Status => {
    if (end - o < 2) return 1;
    out.v = (b[o]! << 8) | b[o + 1]!;
    return OK;
  };
  const cases: [string, Codec<R>, RegExp][] = [
    [
      'reads b[end]',
      {
        ...base,
        name: 'p1',
        parse: (b, o, _e, out) => {
          out.v = b[o + 2] ?? -1;
          return OK;
        },
      },
      /outside/,
    ],
    [
      'reads b[o-1]',
      {
        ...base,
        name: 'p2',
        parse: (b, o, _e, out) => {
          out.v = b[o - 1] ?? -1;
          return OK;
        },
      },
      /outside/,
    ],
    [
      'format reads past end',
      { ...base, name: 'p3', parse: parse2, format: (b, _o, end) => `${b[end]}` },
      /format differs/,
    ],
    [
      'status depends on bytes past end',
      {
        ...base,
        name: 'p4',
        parse: (b, o, end, out) => (b[end] === 0xff ? 3 : parse2(b, o, end, out)),
      },
      /status/,
    ],
    [
      'throws on a short input',
      {
        ...base,
        name: 'p5',
        parse: (b, o, end, out) => {
          if (end - o === 1) throw new RangeError('boom');
          return parse2(b, o, end, out);
        },
      },
      /parse threw/,
    ],
    [
      'writes to the input',
      {
        ...base,
        name: 'p6',
        parse: (b, o, e, out) => {
          b[o] = 0;
          return parse2(b, o, e, out);
        },
      },
      /wrote/,
    ],
    [
      'emit loses a bit',
      { ...base, name: 'p7', parse: parse2, emit: (r, b, o) => base.emit({ v: r.v & ~1 }, b, o) },
      /changed/,
    ],
  ];
  for (const [what, codec, expect] of cases)
    test(what, () => {
      const checker = new Checker(codec as Codec<unknown>);
      const r = rng(1);
      let err: string | undefined;
      for (let i = 0; i < 2000 && !err; i++)
        err = checker.check(Uint8Array.from({ length: r.int(6) }, () => r.int(256)));
      assert.match(err ?? 'no invariant broken', expect);
    });
});
