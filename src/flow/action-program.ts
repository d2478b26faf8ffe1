// A megaflow's datapath actions compiled once, at install, into a short list of numeric ops, so that
// executing them per packet needs no string switch, no bigint and no port-number decoding:
//
//   set_field / load   → one OP_WRITE per key word touched: w[word] = (w[word] & keep) | set
//   move               → OP_MOVE (bigint on the field values: rare, kept simple)
//   output:PORT        → OP_OUTPUT with the port, or one op per reserved port (NORMAL, FLOOD, …)
//   push/pop_vlan, dec_ttl, mod_nw_ttl, controller → their own op; note / set_queue → nothing
//
// Reserved port numbers are 0xfffffff8.. (above 2^31): kept as numbers on the hot path they are heap
// numbers in V8, and passing one to a function that isn't inlined allocates 16 bytes (it did, per
// packet, for NORMAL). As op codes they are small integers.
//
// `rewrites` says whether any op up to the last output changes the key: when none does (output:N,
// NORMAL, the common flows), the packet's bytes already match the extracted key, so execution needs
// no working copy of the key and no commit before output. `rewritesPacket` says whether one of them
// changes a header field (commit.ts); set_field on tun_id / tun_dst / registers needs the copy only.
import {
  type Action,
  type MoveAction,
  OFPP_ALL,
  OFPP_CONTROLLER,
  OFPP_FLOOD,
  OFPP_IN_PORT,
  OFPP_LOCAL,
  OFPP_MAX,
  OFPP_NORMAL,
} from './actions.ts';
import { type Field, fieldMax, getField, setField } from './fields.ts';
import * as K from './key.ts';
import { KEY_WORDS } from './key.ts';

export const OP_WRITE = 1;
export const OP_MOVE = 2;
export const OP_PUSH_VLAN = 3;
export const OP_POP_VLAN = 4;
export const OP_DEC_TTL = 5;
export const OP_SET_TTL = 6;
/** The controller action: no OpenFlow channel is attached to the data path (counted drop). */
export const OP_CONTROLLER = 7;
// Outputs (code >= OP_OUTPUT).
export const OP_OUTPUT = 8;
export const OP_OUT_IN_PORT = 9;
export const OP_OUT_NORMAL = 10;
export const OP_OUT_FLOOD = 11;
export const OP_OUT_ALL = 12;
export const OP_OUT_LOCAL = 13;
export const OP_OUT_CONTROLLER = 14;
/** NORMAL resolved at translation (actions.ts NormalOutputAction): port, tun_id low word, VTEP words. */
export const OP_OUT_RESOLVED = 15;

export class Op {
  readonly code: number;
  /** OP_WRITE: key word, bits kept (int32) and bits set (int32). OP_SET_TTL: the TTL in `set`. */
  readonly word: number;
  readonly keep: number;
  readonly set: number;
  /** OP_OUTPUT: the port number; -1 for a reserved number no port can have (TABLE, ANY, unresolved). */
  readonly port: number;
  readonly move: MoveAction | null;
  /** The action compiled (controller, output:CONTROLLER, dec_ttl): packet-in reads max_len, reason, its rule. */
  readonly source: Action | null;
  /** OP_OUT_RESOLVED: the VTEP address words written at key word `word` (-1: none); tun_id low in `set`. */
  readonly dst: Uint32Array | null;

  constructor(
    code: number,
    word = 0,
    keep = 0,
    set = 0,
    port = 0,
    move: MoveAction | null = null,
    source: Action | null = null,
    dst: Uint32Array | null = null,
  ) {
    this.code = code;
    this.word = word;
    this.keep = keep;
    this.set = set;
    this.port = port;
    this.move = move;
    this.source = source;
    this.dst = dst;
  }
}

export class ActionProgram {
  readonly ops: Op[];
  /** Index of the last output or controller op: later ops have no effect; -1 = the packet is dropped. */
  readonly last: number;
  /** Some op at or before `last` changes the key (outputs then see a working copy). */
  readonly rewrites: boolean;
  /** One of those changes a field that lives in the packet's headers (commit before each output). */
  readonly rewritesPacket: boolean;
  /**
   * The program's only effective op when it is one output to a port (OP_OUTPUT or OP_OUT_RESOLVED), else
   * null: the datapath then runs it once for a run of packets of the megaflow (Switch.closeRun).
   */
  readonly lone: Op | null;

  constructor(actions: readonly Action[]) {
    const ops: Op[] = [];
    for (const a of actions) compileAction(a, ops);
    let last = -1;
    for (let i = ops.length - 1; i >= 0 && last < 0; i--) if (ops[i]!.code >= OP_CONTROLLER) last = i;
    let rewrites = false;
    let rewritesPacket = false;
    for (let i = 0; i <= last; i++) {
      const op = ops[i]!;
      if (op.code >= OP_CONTROLLER) continue;
      rewrites = true;
      if (op.code !== OP_WRITE || PACKET_WORDS.has(op.word)) rewritesPacket = true;
    }
    this.ops = ops;
    this.last = last;
    this.rewrites = rewrites;
    this.rewritesPacket = rewritesPacket;
    const op0 = ops[0];
    this.lone = last === 0 && (op0!.code === OP_OUTPUT || op0!.code === OP_OUT_RESOLVED) ? op0! : null;
  }
}

/** Key words commit.ts writes back into headers (the rest are metadata: tun_*, registers, marks). */
const PACKET_WORDS = new Set<number>([
  K.DL_DST,
  K.DL_DST + 1,
  K.DL_SRC,
  K.DL_SRC + 1,
  K.VLAN_TCI,
  K.VLAN2_TCI,
  K.NW_SRC,
  K.NW_DST,
  K.NW_PROTO,
  K.NW_TOS,
  K.NW_TTL,
  K.TP_SRC,
  K.TP_DST,
  ...Array.from({ length: 8 }, (_, i) => K.IPV6_SRC + i),
]);

const OUTPUT_CODES = new Map<number, number>([
  [OFPP_IN_PORT, OP_OUT_IN_PORT],
  [OFPP_NORMAL, OP_OUT_NORMAL],
  [OFPP_FLOOD, OP_OUT_FLOOD],
  [OFPP_ALL, OP_OUT_ALL],
  [OFPP_LOCAL, OP_OUT_LOCAL],
  [OFPP_CONTROLLER, OP_OUT_CONTROLLER],
]);

function compileAction(a: Action, ops: Op[]): void {
  switch (a.kind) {
    case 'output': {
      const code = OUTPUT_CODES.get(a.port);
      if (code !== undefined) ops.push(new Op(code, 0, 0, 0, 0, null, a));
      else ops.push(new Op(OP_OUTPUT, 0, 0, 0, a.port < OFPP_MAX ? a.port : -1));
      return;
    }
    case 'normal_output':
      ops.push(new Op(OP_OUT_RESOLVED, a.dstWord, 0, a.tunIdLo, a.port, null, a, Uint32Array.from(a.dst)));
      return;
    case 'controller':
      ops.push(new Op(OP_CONTROLLER, 0, 0, 0, 0, null, a));
      return;
    case 'set_field':
      writes(a.field, a.mask, a.value & a.mask, ops);
      return;
    case 'load': {
      const m = ((1n << BigInt(a.nBits)) - 1n) << BigInt(a.ofs);
      writes(a.field, m, (a.value << BigInt(a.ofs)) & m, ops);
      return;
    }
    case 'move':
      ops.push(new Op(OP_MOVE, 0, 0, 0, 0, a));
      return;
    case 'push_vlan':
      ops.push(new Op(OP_PUSH_VLAN));
      return;
    case 'pop_vlan':
      ops.push(new Op(OP_POP_VLAN));
      return;
    case 'dec_ttl':
      ops.push(new Op(OP_DEC_TTL, 0, 0, 0, 0, null, a));
      return;
    case 'set_nw_ttl':
      ops.push(new Op(OP_SET_TTL, 0, 0, a.ttl));
      return;
    default:
      return; // note, set_queue, pop_queue: no data-path effect here
  }
}

/**
 * field = (field & ~mask) | value, as per-word constant writes: setField places the mask and the value
 * at the field's words and bit shift (and cuts them to its width), so each touched word gets
 * keep = ~(mask bits there) and set = (value bits there).
 */
const m = new Uint32Array(KEY_WORDS);
const v = new Uint32Array(KEY_WORDS);
function writes(fl: Field, mask: bigint, value: bigint, ops: Op[]): void {
  m.fill(0);
  v.fill(0);
  setField(m, fl, mask & fieldMax(fl));
  setField(v, fl, value);
  for (let w = fl.word; w < fl.word + fl.nwords; w++)
    if (m[w] !== 0) ops.push(new Op(OP_WRITE, w, ~m[w]! | 0, v[w]! | 0));
}

/** move:SRC[a..]->DST[b..] on key words w (the bigint path; moves are rare). */
export function moveField(w: Uint32Array, a: MoveAction): void {
  const ones = (1n << BigInt(a.nBits)) - 1n;
  const bits = (getField(w, a.src) >> BigInt(a.srcOfs)) & ones;
  const m = ones << BigInt(a.dstOfs);
  setField(w, a.dst, (getField(w, a.dst) & ~m) | ((bits << BigInt(a.dstOfs)) & m));
}
