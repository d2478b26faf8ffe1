// Where an output action sends a packet: a port by number, or a reserved port (NORMAL, FLOOD, ALL,
// CONTROLLER, IN_PORT, LOCAL). The last output of a list takes the packet itself, earlier ones a copy
// (Switch.clone). Tunnel ports encapsulate (tunnel-output.ts); a port without vnet_hdr gets
// superframes cut and checksums finished here, since it can take neither.
import type { Op } from '../flow/action-program.ts';
import {
  OP_OUT_ALL,
  OP_OUT_CONTROLLER,
  OP_OUT_FLOOD,
  OP_OUT_IN_PORT,
  OP_OUT_LOCAL,
  OP_OUT_NORMAL,
} from '../flow/action-program.ts';
import type { FlowKey } from '../flow/key.ts';
import { GSO_DROPPED } from '../offload/gso.ts';
import { NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { normal } from './normal.ts';
import { packetIn } from './packet-in.ts';
import { KIND_TUNNEL, KIND_UNDERLAY, type Port } from './port.ts';
import type { Switch } from './switch.ts';
import { tunnelOutput } from './tunnel-output.ts';

/** An output op (OP_OUTPUT or a reserved port). `isLast`: p may be consumed, else copied. */
export function output(sw: Switch, p: Packet, op: Op, w: FlowKey, isLast: boolean): void {
  let port: Port | undefined;
  switch (op.code) {
    case OP_OUT_NORMAL:
      normal(sw, p, w, isLast);
      return;
    case OP_OUT_FLOOD:
    case OP_OUT_ALL:
      flood(sw, p, isLast, op.code === OP_OUT_ALL, w);
      return;
    case OP_OUT_CONTROLLER:
      packetIn(sw, p, op, isLast);
      return;
    case OP_OUT_IN_PORT:
      port = sw.portOf(p.inPort);
      break;
    case OP_OUT_LOCAL:
      port = sw.localPort;
      break;
    default:
      port = sw.portOf(op.port);
  }
  if (!port) {
    if (isLast) sw.drop(p, sw.c.dropNoPort);
    return;
  }
  sendTo(sw, port, p, isLast, w);
}

/** Sends p (or a copy when !consume) out of `port`; tunnel ports encapsulate using key `w`'s tun_*. */
export function sendTo(sw: Switch, port: Port, p: Packet, consume: boolean, w: FlowKey): void {
  const q = consume ? p : sw.clone(p);
  if (q === null) return;
  if (sw.trace) sw.trace.push(`output: ${port.name}`);
  if (port.kind === KIND_TUNNEL) {
    tunnelOutput(sw, port, q, w);
    return;
  }
  if (!port.txOffload && (q.gsoType !== 0 || (q.flags & (SUPERFRAME | NEEDS_CSUM)) !== 0)) {
    const out = sw.segOut;
    out.clear();
    const n = sw.gso.segment(q, out);
    if (n === GSO_DROPPED) {
      sw.drop(q, sw.c.dropGso);
      return;
    }
    if (n > 0) {
      q.owner?.free(q);
      for (let i = 0; i < out.count; i++) sw.stage(port, out.packets[i]!);
      out.clear();
      return;
    }
  }
  sw.stage(port, q);
}

/** FLOOD / ALL: every port but the input (and, for FLOOD, but underlay ports: they are not L2 members). */
function flood(sw: Switch, p: Packet, consume: boolean, all: boolean, w: FlowKey): void {
  // Two passes over the port list (count, then send) instead of a target array per packet: the last
  // target takes the packet itself, the others copies.
  const ports = sw.portList;
  let n = 0;
  for (let i = 0; i < ports.length; i++) if (floods(ports[i]!, p.inPort, all)) n++;
  if (n === 0) {
    if (consume) sw.drop(p, sw.c.dropNoPort);
    return;
  }
  for (let i = 0; i < ports.length; i++) {
    const q = ports[i]!;
    if (floods(q, p.inPort, all)) sendTo(sw, q, p, consume && --n === 0, w);
  }
}

/** FLOOD / ALL targets: every port but the input and the underlays; FLOOD skips flow-based tunnels. */
function floods(q: Port, inPort: number, all: boolean): boolean {
  if (q.no === inPort || q.kind === KIND_UNDERLAY) return false;
  return q.kind !== KIND_TUNNEL || all || q.tunnel!.remote !== null;
}
