// Flow-lookup benchmark: EMC hit, megaflow hit (≤ 4 subtables), upcall (miss + translate + install),
// each with 1 flow and with 100k flows in the OpenFlow tables, plus heap growth over the steady-state
// hit loops after warm-up. Run: node bench/flow/classifier.ts [--quick]

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FlowCache } from '../../src/flow/cache.ts';
import { fieldByName, setField } from '../../src/flow/fields.ts';
import { type FlowKey, hashKey, newKey } from '../../src/flow/key.ts';
import { parseFlow } from '../../src/flow/ofctl-parse.ts';
import { FlowTables } from '../../src/flow/table.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const quick = process.argv.includes('--quick');
const F = (n: string) => fieldByName(n)!;

function macOf(i: number): string {
  const h = (i + 0x100).toString(16).padStart(12, '0');
  return h.match(/../g)!.join(':');
}

/** Tables with `n` exact dl_dst flows (one subtable) plus 3 other masks: in_port, ip/24, tcp dst. */
function buildTables(n: number): FlowTables {
  const t = new FlowTables({ maxFlowsPerTable: n + 10 });
  for (let i = 0; i < n; i++)
    t.apply('add', parseFlow(`priority=10,dl_dst=${macOf(i)},actions=output:${(i % 8) + 1}`), 0);
  t.apply('add', parseFlow('priority=5,in_port=9,actions=drop'), 0);
  t.apply('add', parseFlow('priority=4,ip,nw_dst=10.1.0.0/24,actions=output:3'), 0);
  t.apply('add', parseFlow('priority=3,tcp,tp_dst=80,actions=CONTROLLER:128'), 0);
  t.apply('add', parseFlow('priority=0,actions=NORMAL'), 0);
  return t;
}

/**
 * Key i. With `mix`, keys come in 4 kinds that stop at different flows and so produce 4 megaflow masks:
 * a known dl_dst; in_port 9; an unknown dl_dst to 10.1.0.5 (tp_dst 22); an unknown dl_dst to tcp/80.
 */
function keyFor(i: number, n: number, mix = false): FlowKey {
  const k = newKey();
  const kind = mix ? i % 4 : 0;
  setField(k, F('in_port'), kind === 1 ? 9n : BigInt((i % 4) + 1));
  setField(k, F('eth_dst'), kind === 0 ? BigInt(0x100 + (i % n)) : BigInt(0x0200_0000_0000 + i));
  setField(k, F('eth_src'), BigInt(0x200000 + i));
  setField(k, F('eth_type'), 0x0800n);
  setField(k, F('ip_src'), BigInt(0x0a000000 + i));
  setField(k, F('ip_dst'), kind === 3 ? 0x0a020005n : 0x0a010005n);
  setField(k, F('nw_proto'), 6n);
  setField(k, F('tp_src'), BigInt(1024 + (i & 0x7fff)));
  setField(k, F('tp_dst'), kind === 2 ? 22n : 80n);
  return k;
}

/** CPU time (user + system) of this process since c0, in ns: less distorted than wall time on a busy host. */
function cpuNs(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) * 1000;
}

interface Row {
  case: string;
  flows: number;
  'Mlookups/s': string;
  'ns/lookup': string;
  level: string;
  subtables: number;
  'heap Δ KB': string;
}
const rows: Row[] = [];

function run(
  name: string,
  flows: number,
  cache: FlowCache,
  keys: FlowKey[],
  iters: number,
  expectLevel: string,
) {
  const hashes = keys.map((k) => hashKey(k));
  // Warm-up: fill caches and let the JIT settle.
  for (let i = 0; i < Math.min(iters, 200_000); i++)
    cache.lookup(keys[i % keys.length]!, hashes[i % keys.length]!, 64, 0);
  const before = { emc: cache.emcHits, mf: cache.megaflowHits, up: cache.upcalls };
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const c0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) cache.lookup(keys[i % keys.length]!, hashes[i % keys.length]!, 64, 0);
  const ns = cpuNs(c0);
  const heap1 = process.memoryUsage().heapUsed;
  gc();
  const d = {
    emc: cache.emcHits - before.emc,
    megaflow: cache.megaflowHits - before.mf,
    upcall: cache.upcalls - before.up,
  };
  const level = Object.entries(d)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${((100 * v) / iters).toFixed(0)}%`)
    .join(' ');
  if (!level.startsWith(expectLevel))
    console.warn(`  (${name}: expected mostly ${expectLevel}, got ${level})`);
  rows.push({
    case: name,
    flows,
    'Mlookups/s': ((iters / ns) * 1e3).toFixed(2),
    'ns/lookup': (ns / iters).toFixed(0),
    level,
    subtables: cache.megaflowSubtables,
    'heap Δ KB': ((heap1 - heap0) / 1024).toFixed(0),
  });
}

const N = quick ? 100_000 : 1_000_000;
for (const flows of [1, 100_000]) {
  const t0 = Date.now();
  const tables = buildTables(flows);
  const setup = Date.now() - t0;
  const activeKeys = Math.min(flows, 1000);
  const keys = Array.from({ length: activeKeys }, (_, i) => keyFor(i, flows));
  run('EMC hit', flows, new FlowCache(tables, { emcInsertInvProb: 1 }), keys, N, 'emc');
  run('megaflow hit', flows, new FlowCache(tables, { emcEntries: 0 }), keys, N, 'megaflow');
  const mixed = Array.from({ length: activeKeys * 4 }, (_, i) => keyFor(i, flows, true));
  run('megaflow hit, 4 masks', flows, new FlowCache(tables, { emcEntries: 0 }), mixed, N, 'megaflow');
  run('EMC hit, 4 masks', flows, new FlowCache(tables, { emcInsertInvProb: 1 }), mixed, N, 'emc');
  // Misses: every key new to the cache (distinct dl_dst → a new megaflow each), until the budget ends.
  const missKeys = Array.from({ length: Math.min(flows, quick ? 20_000 : 100_000) }, (_, i) =>
    keyFor(i, flows),
  );
  const cache = new FlowCache(tables, { emcEntries: 0, megaflowMax: 1 << 20 });
  const c1 = process.cpuUsage();
  for (let i = 0; i < missKeys.length; i++) cache.lookup(missKeys[i]!, hashKey(missKeys[i]!), 64, 0);
  const ns = cpuNs(c1);
  rows.push({
    case: 'miss + install',
    flows,
    'Mlookups/s': ((missKeys.length / ns) * 1e3).toFixed(3),
    'ns/lookup': (ns / missKeys.length).toFixed(0),
    level: `upcall ${cache.upcalls}, installed ${cache.megaflowInstalls}`,
    subtables: cache.megaflowSubtables,
    'heap Δ KB': '-',
  });
  console.log(`tables with ${flows} flows built in ${setup} ms`);
}
console.log(
  `node ${process.version}, ${N} lookups per hit case, keys cycle over min(flows, 1000) active flows`,
);
console.table(rows);
