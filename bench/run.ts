// Benchmark runner: `npm run bench -- [suite…] [--filter RE] [--quick] [--rounds N] [--clock wall|thread] [--isolate] [--json FILE]`.
// Suites: bench/<name>/index.ts, e.g. micro (checksum GB/s, codec parse/emit ns). Prints a table and
// writes JSON with the machine description to bench/results/<suite>-<date>.json (or --json FILE).
// Not part of `npm test`. `--isolate` measures each benchmark in a process of its own: a switch runs one to a
// process, and in a shared one the cases that ran before leave the JIT polymorphic code for the objects
// they built (the datapath suite's later cases measured up to 20 % slower for it).
// See bench/README.md for the method and what each column means.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machine } from './lib/machine.ts';
import { type Bench, DEFAULTS, measure, QUICK, type Result } from './lib/measure.ts';
import { describeMachine, format, header, row, writeJson } from './lib/report.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

// A suite is any bench/<name>/index.ts exporting `benches(): Bench[] | Promise<Bench[]>`: add a folder
// with one and `npm run bench -- <name>` runs it (standalone scripts in other folders are left alone).
const SUITES: Record<string, () => Promise<Bench[]>> = {};
for (const dir of readdirSync(BENCH_DIR, { withFileTypes: true })) {
  if (!dir.isDirectory() || !existsSync(join(BENCH_DIR, dir.name, 'index.ts'))) continue;
  SUITES[dir.name] = async () => {
    const mod = (await import(pathToFileURL(join(BENCH_DIR, dir.name, 'index.ts')).href)) as {
      benches?: () => Bench[] | Promise<Bench[]>;
    };
    if (typeof mod.benches !== 'function') throw new Error(`bench/${dir.name}/index.ts exports no benches()`);
    return mod.benches();
  };
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    filter: { type: 'string', short: 'f' },
    quick: { type: 'boolean', short: 'q' },
    rounds: { type: 'string' },
    json: { type: 'string' },
    clock: { type: 'string' },
    isolate: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(
    'usage: node bench/run.ts [suite…] [--filter RE] [--quick] [--rounds N] [--clock wall|thread] [--isolate] [--json FILE]\n' +
      `suites: ${Object.keys(SUITES).join(', ')} (default: micro)`,
  );
  process.exit(0);
}

const suites = positionals.length > 0 ? positionals : ['micro'];
for (const s of suites)
  if (!SUITES[s]) {
    console.error(`unknown suite '${s}' (have: ${Object.keys(SUITES).join(', ')})`);
    process.exit(2);
  }

const options = { ...(values.quick ? QUICK : DEFAULTS) };
if (values.rounds) options.rounds = Math.max(1, Number(values.rounds));
if (values.clock === 'thread' || values.clock === 'wall') options.clock = values.clock;
else if (values.clock !== undefined) {
  console.error(`--clock ${values.clock}: wall or thread`);
  process.exit(2);
}
const filter = values.filter ? new RegExp(values.filter) : null;
const m = machine();
console.log(describeMachine(m));
console.log(
  `rounds ${options.rounds} × ~${options.roundMs} ms after ${options.warmupMs} ms warm-up, ${options.clock === 'thread' ? 'main-thread CPU time' : 'wall-clock'}\n`,
);

for (const suite of suites) {
  const all = await SUITES[suite]!();
  const list = filter ? all.filter((b) => filter.test(b.name)) : all;
  console.log(`== ${suite} (${list.length} benchmarks)`);
  console.log(header());
  const results: Result[] = [];
  for (const b of list) {
    const r = values.isolate ? inChild(suite, b.name) : await measure(b, options);
    results.push(r);
    console.log(format(row(r)));
  }
  const stamp = m.date.replace(/[:.]/g, '-');
  const file = values.json ?? join(BENCH_DIR, 'results', `${suite}-${stamp}.json`);
  writeJson(file, suite, m, options, results);
  console.log(`\nwrote ${file}`);
}

/** One benchmark measured by a child run of this script with the same options (--isolate). */
function inChild(suite: string, name: string): Result {
  const dir = mkdtempSync(join(tmpdir(), 'nvo-bench-'));
  try {
    const file = join(dir, 'r.json');
    const exact = `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
    const args = [fileURLToPath(import.meta.url), suite, '--filter', exact, '--json', file];
    if (values.quick) args.push('--quick');
    if (values.rounds) args.push('--rounds', values.rounds);
    args.push('--clock', options.clock);
    const c = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (c.status !== 0) throw new Error(`${name}: child exited with ${c.status}`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { results: Result[] }).results[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
