// Runs: the packets of a burst that share a megaflow (OVS dp_netdev_input's per-flow batches).
//
// admit() classifies each packet as it comes (key, hash, EMC / megaflow / upcall: per packet, in order,
// so cache counters, EMC inserts and upcalls are those of packet-by-packet processing). A packet whose
// megaflow's program is one output to a port (ActionProgram.lone) joins the open run when the run has
// its megaflow, else it starts a new run; the run's actions are resolved once when it closes: port
// lookup, counters (one add of n packets and bytes), the tunnel's encapsulation (encap-routes.ts),
// leaving per packet only the template copy or the staging. Any other packet closes the run and is
// executed at once, so outputs leave in packet order. The run also closes before anything that could
// make its answer differ from a packet-by-packet one: a cache revalidation (MAC-table or flow-table
// change, which may remove megaflows and push their stats), a non-tunnel underlay packet (ARP may change a next hop), the end of
// the burst (receive, receiveUnderlay), a full run.

import type { Op } from '../flow/action-program.ts';
import { OP_OUT_RESOLVED } from '../flow/action-program.ts';
import type { Megaflow } from '../flow/cache.ts';
import { type FlowKey, TUN_DST, TUN_ID } from '../flow/key.ts';
import { NEEDS_CSUM, SUPERFRAME } from '../packet/packet.ts';
import { sendTo } from './output.ts';
import { KIND_TUNNEL } from './port.ts';
import type { Switch } from './switch.ts';
import { tunnelOutputRun } from './tunnel-output.ts';

/** The most packets one run holds (a full run closes and the next packet opens another). */
export const RUN_MAX = 256;

/** Starts a run for megaflow mf whose lone op is `op`; false: the packet is to be executed alone. */
export function openRun(sw: Switch, mf: Megaflow, op: Op, k: FlowKey): boolean {
  const port = op.port >= 0 ? sw.portOf(op.port) : undefined;
  if (port === undefined) return false;
  if (port.kind === KIND_TUNNEL) {
    // IPv6 tunnels read tun_ipv6_dst too: they stay per packet.
    if (port.tunnel!.ipVersion !== 4) return false;
    sw.runTunHi = k[TUN_ID]!;
    sw.runTunLo = k[TUN_ID + 1]!;
    sw.runTunDst = k[TUN_DST]!;
  }
  sw.runFlow = mf;
  sw.runPort = port;
  return true;
}

/** Runs the open run's actions on its packets (see admit); Switch.closeRun calls it when one is open. */
export function closeRun(sw: Switch): void {
  const n = sw.runN;
  const mf = sw.runFlow!;
  const port = sw.runPort!;
  const op = mf.program.lone!;
  const bytes = sw.runBytes;
  sw.runN = 0;
  sw.runFlow = null;
  sw.runPort = null;
  sw.cache.credit(mf, n, bytes, sw.now);
  // resolvedOutput counts each packet it sends as a NORMAL forward.
  if (op.code === OP_OUT_RESOLVED) sw.counters.v[sw.c.normalForward]! += n;
  const ps = sw.run;
  if (port.kind === KIND_TUNNEL) {
    const w = sw.runKey;
    const resolved = op.code === OP_OUT_RESOLVED;
    w[TUN_ID] = sw.runTunHi;
    w[TUN_ID + 1] = resolved && op.set >= 0 ? op.set : sw.runTunLo;
    w[TUN_DST] = resolved && op.word === TUN_DST ? op.dst![0]! : sw.runTunDst;
    tunnelOutputRun(sw, port, ps, n, bytes, w);
    return;
  }
  for (let i = 0; i < n; i++) {
    const p = ps[i]!;
    ps[i] = null;
    // sendTo without its tunnel branch; superframes and partial checksums for a port that can't take them go there.
    if (!port.txOffload && (p.gsoType !== 0 || (p.flags & (SUPERFRAME | NEEDS_CSUM)) !== 0))
      sendTo(sw, port, p, true, sw.runKey);
    else sw.stage(port, p);
  }
}
