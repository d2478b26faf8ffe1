// Keeps the layers of DESIGN.md honest: imports point downward only. Every non-test .ts file under src/
// is read, its relative imports are resolved (TypeScript's own import scanner, so `import type`,
// `export … from`, `import('…')` in types and dynamic imports all count), and an import into a HIGHER
// layer fails the test, naming file → import. Same-layer imports are fine. *.test.ts files are exempt:
// unit tests sitting beside a module may drive it with helpers from a layer above (a cross-module
// test), and nothing in the product imports a test.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

/** Bottom to top, as DESIGN.md "Layers (imports point downward only)" lists them. */
export const LAYERS = [
  'wire',
  'packet',
  'offload',
  'flow',
  'tunnel',
  'datapath',
  'io',
  'openflow',
  'control',
  'cli',
] as const;

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Layer index of a path under src/, or -1 when it lies in no layer directory (a new folder, or src/ itself). */
export function layerOf(absPath: string): number {
  const top = relative(SRC, absPath).split(sep)[0];
  return LAYERS.indexOf(top as (typeof LAYERS)[number]);
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

/** Every upward import in one file's text, as "src/a/x.ts → src/b/y.ts (layer a < b)". */
export function upwardImports(file: string, text: string): string[] {
  const from = layerOf(file);
  const bad: string[] = [];
  for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
    if (!fileName.startsWith('.')) continue; // node: builtins and packages have no layer
    const target = resolve(dirname(file), fileName);
    if (!target.startsWith(SRC + sep)) continue; // e.g. native/ or package.json: below every layer
    const to = layerOf(target);
    if (to > from) {
      bad.push(
        `${relative(ROOT, file)} → ${relative(ROOT, target)} (${LAYERS[from]} must not import ${LAYERS[to]})`,
      );
    }
  }
  return bad;
}

test('every file under src/ lies in a layer listed in DESIGN.md', () => {
  const stray = sourceFiles(SRC)
    .filter((f) => layerOf(f) < 0)
    .map((f) => relative(ROOT, f));
  assert.deepEqual(stray, [], 'add the folder to DESIGN.md and to LAYERS here, in its place');
});

test('imports point downward only (same layer is fine; *.test.ts exempt)', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 100, `found only ${files.length} source files: is SRC right?`);
  const bad = files.flatMap((f) => upwardImports(f, readFileSync(f, 'utf8')));
  assert.deepEqual(bad, [], `upward imports:\n  ${bad.join('\n  ')}`);
});

test('the checker sees type-only, re-export, type-position and dynamic imports', () => {
  // A file in src/offload/ that imports from flow, datapath, io and control in the four forms.
  const f = join(SRC, 'offload', 'probe.ts');
  const text = [
    "import type { Switch } from '../datapath/switch.ts';",
    "export { parseFlow } from '../flow/ofctl-parse.ts';",
    "type Io = typeof import('../io/tap.ts');",
    "const c = await import('../control/config.ts');",
    "import { hex } from '../wire/bytes.ts';", // downward: fine
    "import { Packet } from '../packet/packet.ts';", // downward: fine
    "import { holes } from './holes.ts';", // same layer: fine
  ].join('\n');
  assert.deepEqual(
    upwardImports(f, text).map((s) => s.split(' (')[0]),
    [
      'src/offload/probe.ts → src/datapath/switch.ts',
      'src/offload/probe.ts → src/flow/ofctl-parse.ts',
      'src/offload/probe.ts → src/io/tap.ts',
      'src/offload/probe.ts → src/control/config.ts',
    ],
  );
});
