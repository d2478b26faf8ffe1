// The compiled ops (action-program.ts) must change a key exactly as the actions' definitions do:
// checked against set_field / load written directly with bigint field arithmetic (fields.ts), for
// random fields, values, masks and bit ranges on random keys; and the output / last / rewrites
// bookkeeping on hand-made lists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ActionProgram,
  moveField,
  OP_CONTROLLER,
  OP_OUT_NORMAL,
  OP_OUTPUT,
  OP_WRITE,
  type Op,
} from './action-program.ts';
import { type Action, OFPP_NORMAL, OFPP_TABLE } from './actions.ts';
import { FIELDS, fieldMax, getField, setField } from './fields.ts';
import { KEY_WORDS, newKey } from './key.ts';
import { parseFlow } from './ofctl-parse.ts';

const writable = FIELDS.filter((f) => f.writable);

/** Runs the OP_WRITE / OP_MOVE ops of a program on w, as Switch.execute does. */
function run(ops: readonly Op[], w: Uint32Array): void {
  for (const op of ops) {
    if (op.code === OP_WRITE) w[op.word] = (w[op.word]! & op.keep) | op.set;
    else if (op.move) moveField(w, op.move);
  }
}

const keyArb = fc.uint32Array({ minLength: KEY_WORDS, maxLength: KEY_WORDS });
const big = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });

test('set_field with and without a mask == (field & ~mask) | (value & mask)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...writable),
      keyArb,
      big(128),
      big(128),
      fc.boolean(),
      (field, key, value, mask, full) => {
        const m = full ? fieldMax(field) : mask & fieldMax(field);
        const a: Action = { kind: 'set_field', field, value: value & fieldMax(field), mask: m };
        const want = key.slice();
        setField(want, field, (getField(want, field) & ~m) | (a.value & m));
        const got = key.slice();
        run(new ActionProgram([a]).ops, got);
        assert.deepEqual(got, want, field.name);
      },
    ),
    { numRuns: 3000 },
  );
});

test('load:value->FIELD[ofs..ofs+n-1] == bigint bit-range write', () => {
  fc.assert(
    fc.property(fc.constantFrom(...writable), keyArb, big(128), fc.nat(), fc.nat(), (field, key, v, x, y) => {
      const ofs = x % field.bits;
      const nBits = 1 + (y % (field.bits - ofs));
      const value = v & ((1n << BigInt(nBits)) - 1n);
      const a: Action = { kind: 'load', field, ofs, nBits, value };
      const want = key.slice();
      const m = ((1n << BigInt(nBits)) - 1n) << BigInt(ofs);
      setField(want, field, (getField(want, field) & ~m) | ((value << BigInt(ofs)) & m));
      const got = key.slice();
      run(new ActionProgram([a]).ops, got);
      assert.deepEqual(got, want, `${field.name}[${ofs}..${ofs + nBits - 1}]`);
    }),
    { numRuns: 3000 },
  );
});

test('outputs: reserved ports become op codes; last output; rewrites only before it', () => {
  const prog = (text: string) => new ActionProgram(parseFlow(`udp,actions=${text}`).actions);
  const p1 = prog('NORMAL');
  assert.deepEqual([p1.ops.map((o) => o.code), p1.last, p1.rewrites], [[OP_OUT_NORMAL], 0, false]);
  const p2 = prog('set_field:5->reg0,output:3,dec_ttl');
  assert.deepEqual([p2.last, p2.rewrites, p2.ops[1]!.code, p2.ops[1]!.port], [1, true, OP_OUTPUT, 3]);
  // Metadata writes need the working copy, not a commit; a header field needs both.
  const p4 = prog('set_field:5->reg0,set_field:42->tun_id,set_field:10.0.0.2->tun_dst,output:3');
  assert.deepEqual([p4.rewrites, p4.rewritesPacket], [true, false]);
  for (const a of [
    'mod_dl_src:02:00:00:00:00:01',
    'mod_nw_dst:1.2.3.4',
    'dec_ttl',
    'push_vlan:0x8100',
    'mod_tp_dst:9',
  ])
    assert.equal(prog(`${a},output:3`).rewritesPacket, true, a);
  const p3 = prog('output:3,set_field:5->reg0');
  assert.deepEqual([p3.last, p3.rewrites], [0, false]);
  assert.deepEqual([prog('drop').last, prog('note:01').last], [-1, -1]);
  assert.equal(prog('CONTROLLER:64').ops[0]!.code, OP_CONTROLLER);
  // A reserved number no port can have (TABLE) compiles to port -1: "no such port" at run time.
  const t = new ActionProgram([{ kind: 'output', port: OFPP_TABLE, portName: '', maxLen: 0, trunc: false }]);
  assert.equal(t.ops[0]!.port, -1);
  const n = new ActionProgram([{ kind: 'output', port: OFPP_NORMAL, portName: '', maxLen: 0, trunc: false }]);
  assert.equal(n.ops[0]!.code, OP_OUT_NORMAL);
});

test('move: the bits land where the bigint definition puts them', () => {
  const a = parseFlow('actions=move:NXM_OF_ETH_DST[0..15]->NXM_NX_REG3[8..23]').actions[0]!;
  const k = newKey();
  setField(k, FIELDS.find((f) => f.name === 'eth_dst')!, 0x0102030405a6n);
  run(new ActionProgram([a]).ops, k);
  assert.equal(getField(k, FIELDS.find((f) => f.name === 'reg3')!), 0x05a600n);
});
