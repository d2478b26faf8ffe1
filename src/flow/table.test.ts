// FLOW_MOD semantics of OpenFlow 1.3 §6.4 (openflow-etcd.md §4), driven with ovs-ofctl flow text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OFPP_ANY } from './actions.ts';
import { fieldByName, setField } from './fields.ts';
import { newKey } from './key.ts';
import { formatFlow } from './ofctl-format.ts';
import { parseFlow } from './ofctl-parse.ts';
import { type FlowModCommand, FlowTables } from './table.ts';

const add = (t: FlowTables, s: string, now = 0) => t.apply('add', parseFlow(s), now);
const mod = (t: FlowTables, cmd: FlowModCommand, s: string, now = 0) =>
  t.apply(cmd, parseFlow(s, {}, cmd.startsWith('delete') ? 'delete' : 'modify'), now);
const dump = (t: FlowTables) => t.dump().map((e) => formatFlow({ ...specOf(e) }));
function specOf(e: ReturnType<FlowTables['dump']>[number]) {
  return {
    table: e.table,
    priority: e.priority,
    match: e.match,
    cookie: e.cookie,
    cookieMask: 0n,
    idleTimeout: e.idleTimeout,
    hardTimeout: e.hardTimeout,
    importance: 0,
    flags: e.flags,
    outPort: OFPP_ANY,
    outGroup: OFPP_ANY,
    actions: e.actions,
  };
}
const key = (fields: Record<string, bigint>) => {
  const k = newKey();
  for (const [n, v] of Object.entries(fields)) setField(k, fieldByName(n)!, v);
  return k;
};

test('ADD: same match+priority replaces actions and cookie, keeps counters unless reset_counts', () => {
  const t = new FlowTables();
  add(t, 'priority=10,in_port=1,actions=output:2');
  const e = t.dump()[0]!;
  e.packets = 5;
  e.bytes = 500;
  add(t, 'priority=10,in_port=1,cookie=0x7,actions=output:3');
  assert.deepEqual(dump(t), ['priority=10,in_port=1 cookie:0x7 actions=output:3']);
  assert.equal(t.dump()[0]!.packets, 5);
  add(t, 'priority=10,in_port=1,reset_counts,actions=output:4');
  assert.equal(t.dump()[0]!.packets, 0);
  // A different priority is a different flow.
  add(t, 'priority=11,in_port=1,actions=output:5');
  assert.equal(t.flowCount, 2);
});

test('ADD with check_overlap refuses an overlapping flow at the same priority only', () => {
  const t = new FlowTables();
  add(t, 'priority=10,in_port=1,actions=drop');
  const r = add(t, 'priority=10,check_overlap,dl_dst=00:00:00:00:00:01,actions=drop');
  assert.equal(r.error?.code, 'OVERLAP');
  assert.equal(add(t, 'priority=11,check_overlap,dl_dst=00:00:00:00:00:01,actions=drop').error, null);
  // Disjoint at the same priority: fine.
  assert.equal(add(t, 'priority=10,check_overlap,in_port=2,actions=drop').error, null);
});

test('MODIFY covers (non-strict) and filters by cookie; MODIFY_STRICT needs match+priority; nothing matched is a no-op', () => {
  const t = new FlowTables();
  add(t, 'priority=10,in_port=1,dl_dst=00:00:00:00:00:01,cookie=0x1,actions=output:1');
  add(t, 'priority=20,in_port=1,cookie=0x2,actions=output:1');
  add(t, 'priority=30,in_port=2,cookie=0x1,actions=output:1');
  mod(t, 'modify', 'in_port=1,cookie=0x1/0xff,actions=output:9');
  assert.deepEqual(dump(t), [
    'priority=30,in_port=2 cookie:0x1 actions=output:1',
    'priority=20,in_port=1 cookie:0x2 actions=output:1',
    'priority=10,in_port=1,dl_dst=00:00:00:00:00:01 cookie:0x1 actions=output:9',
  ]);
  mod(t, 'modify_strict', 'priority=20,in_port=1,actions=output:8');
  mod(t, 'modify_strict', 'priority=21,in_port=1,actions=output:7');
  assert.equal(dump(t)[1], 'priority=20,in_port=1 cookie:0x2 actions=output:8');
  assert.equal(t.flowCount, 3);
  mod(t, 'modify', 'in_port=5,actions=output:6');
  assert.equal(t.flowCount, 3);
});

test('DELETE: covered flows, cookie mask, out_port, table 255; DELETE_STRICT exact only', () => {
  const t = new FlowTables();
  add(t, 'priority=10,in_port=1,dl_dst=00:00:00:00:00:01,actions=output:1');
  add(t, 'priority=20,in_port=1,cookie=0x2,actions=output:2');
  add(t, 'table=1,priority=20,in_port=1,actions=output:2');
  add(t, 'priority=30,in_port=2,actions=output:1');
  assert.equal(mod(t, 'delete_strict', 'priority=11,in_port=1,dl_dst=00:00:00:00:00:01').removed.length, 0);
  assert.equal(mod(t, 'delete', 'in_port=1,cookie=0x2/-1').removed.length, 1);
  assert.equal(mod(t, 'delete', 'table=255,out_port=2').removed.length, 1);
  assert.equal(mod(t, 'delete_strict', 'priority=10,in_port=1,dl_dst=00:00:00:00:00:01').removed.length, 1);
  assert.deepEqual(dump(t), ['priority=30,in_port=2 actions=output:1']);
  assert.equal(mod(t, 'delete', 'table=255').removed.length, 1);
  assert.equal(t.flowCount, 0);
});

test('errors: missing table, table full, bad goto, prerequisites, action/match mismatch', () => {
  const t = new FlowTables({ tables: 2, maxFlowsPerTable: 2 });
  assert.equal(add(t, 'table=2,actions=drop').error?.code, 'BAD_TABLE_ID');
  assert.equal(add(t, 'in_port=1,actions=drop').error, null);
  assert.equal(add(t, 'in_port=2,actions=drop').error, null);
  const full = add(t, 'in_port=3,actions=drop');
  assert.equal(full.error?.code, 'TABLE_FULL');
  assert.match(full.error!.message, /table 0 is full \(2 flows\)/);
  // Replacing an existing flow is not growth.
  assert.equal(add(t, 'in_port=2,actions=output:1').error, null);
  assert.equal(add(t, 'table=1,actions=goto_table:1').error?.code, 'BAD_GOTO_TABLE');
  // Flows built as data (OpenFlow, etcd) get the same prerequisite checks as text.
  const spec = parseFlow('ip,nw_src=1.2.3.4,actions=drop');
  spec.match.clear(fieldByName('eth_type')!);
  assert.equal(t.apply('add', spec, 0).error?.code, 'BAD_PREREQ');
});

test('idle and hard timeouts with an explicit clock; lookups refresh idle time', () => {
  const t = new FlowTables();
  add(t, 'in_port=1,idle_timeout=10,actions=drop', 0);
  add(t, 'in_port=2,hard_timeout=5,actions=drop', 0);
  add(t, 'in_port=3,actions=drop', 0);
  assert.equal(t.expire(4_999).length, 0);
  const hard = t.expire(5_000);
  assert.deepEqual(
    hard.map((x) => x.reason),
    ['hard_timeout'],
  );
  const e = t.lookupTable(0, key({ in_port: 1n }), null)!;
  e.lastUsed = 8_000;
  assert.equal(t.expire(17_999).length, 0);
  assert.deepEqual(
    t.expire(18_000).map((x) => x.reason),
    ['idle_timeout'],
  );
  assert.equal(t.flowCount, 1);
});

test('generation changes on every effective change', () => {
  const t = new FlowTables();
  const g0 = t.generation;
  add(t, 'in_port=1,actions=drop');
  assert.ok(t.generation > g0);
  const g1 = t.generation;
  mod(t, 'delete', 'in_port=9');
  assert.equal(t.generation, g1);
  mod(t, 'delete', 'in_port=1');
  assert.ok(t.generation > g1);
});
