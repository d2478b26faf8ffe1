// The general action path (Switch.admit sends here every packet that is not part of a run): rewrites,
// several outputs, NORMAL flooding, controller, dec_ttl.

import {
  type ActionProgram,
  moveField,
  OP_CONTROLLER,
  OP_DEC_TTL,
  OP_MOVE,
  OP_OUT_RESOLVED,
  OP_POP_VLAN,
  OP_PUSH_VLAN,
  OP_SET_TTL,
  OP_WRITE,
} from '../flow/action-program.ts';
import { type FlowKey, NW_TTL, VLAN_CFI, VLAN_TCI, VLAN2_TCI } from '../flow/key.ts';
import type { Packet } from '../packet/packet.ts';
import { commit } from './commit.ts';
import { output } from './output.ts';
import { invalidTtl, packetIn } from './packet-in.ts';
import type { Switch } from './switch.ts';
import { resolvedOutput } from './xlate-normal.ts';

/**
 * Runs a megaflow's compiled actions on p, whose bytes match key k. Consumes p. Without rewrites
 * (output:N, NORMAL) the key is used as it is; otherwise actions change a working copy, and when
 * they change header fields each output first commits the difference to the packet (commit.ts).
 */
export function execute(sw: Switch, p: Packet, k: FlowKey, prog: ActionProgram): void {
  const last = prog.last;
  if (last < 0) {
    sw.drop(p, sw.c.dropNoActions);
    return;
  }
  let w = k;
  if (prog.rewrites) {
    w = sw.work;
    w.set(k);
    if (prog.rewritesPacket) sw.cur.set(k);
  }
  const ops = prog.ops;
  for (let i = 0; i <= last; i++) {
    const op = ops[i]!;
    switch (op.code) {
      case OP_WRITE:
        w[op.word] = (w[op.word]! & op.keep) | op.set;
        break;
      case OP_MOVE:
        moveField(w, op.move!);
        break;
      case OP_PUSH_VLAN:
        w[VLAN2_TCI] = w[VLAN_TCI]!;
        w[VLAN_TCI] = VLAN_CFI;
        break;
      case OP_POP_VLAN:
        w[VLAN_TCI] = w[VLAN2_TCI]!;
        w[VLAN2_TCI] = 0;
        break;
      case OP_DEC_TTL:
        if (w[NW_TTL]! <= 1) {
          if (prog.rewritesPacket && !commitTo(sw, p, w, true)) return;
          invalidTtl(sw, p, op); // packet-in.ts: INVALID_TTL to subscribers that asked; counted drop
          return;
        }
        w[NW_TTL] = w[NW_TTL]! - 1;
        break;
      case OP_SET_TTL:
        w[NW_TTL] = op.set;
        break;
      case OP_OUT_RESOLVED:
        if (prog.rewritesPacket && !commitTo(sw, p, w, i === last)) return;
        resolvedOutput(sw, p, op, w, i === last);
        if (i === last) return;
        break;
      case OP_CONTROLLER:
        // A packet-in record for subscribers (packet-in.ts); without any, counted as before.
        if (prog.rewritesPacket && !commitTo(sw, p, w, i === last)) return;
        packetIn(sw, p, op, i === last);
        if (i === last) return;
        break;
      default:
        if (prog.rewritesPacket && !commitTo(sw, p, w, i === last)) return;
        output(sw, p, op, w, i === last);
        if (i === last) return;
    }
  }
}

/** Rewrites p to match w before an output (false: it could not, and p was dropped when `isLast`). */
function commitTo(sw: Switch, p: Packet, w: FlowKey, isLast: boolean): boolean {
  if (!commit(p, sw.cur, w)) {
    if (isLast) sw.drop(p, sw.c.dropCommit);
    return false;
  }
  sw.cur.set(w);
  return true;
}
