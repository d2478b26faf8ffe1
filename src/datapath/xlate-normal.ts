// NORMAL resolved at translation (OVS ofproto-dpif-xlate.c xlate_normal): on the upcall, the source MAC
// is learned and a known unicast destination becomes a concrete output (with tun_id / tun_dst for a
// tunnel), so a cache hit runs no MAC-table code at all.
//
//   the megaflow un-wildcards what the answer consulted:
//     in_port                        the L2 domain of a guest port, split horizon, same-port drops
//     tun_id (low 24 bits)           the domain of a packet from a tunnel
//     dl_src, tun_src / tun_ipv6_src the source learned here: a new or moved source (or VTEP) misses and
//                                    comes back here to be learned
//     dl_dst                         the destination looked up
//   refreshing a known source's age: the megaflow's hits, pushed on the timer and before any cache flush
//     (FlowCache.pushStats → LearnedSource.push → MacLearning.touch), instead of a learn per packet; ages
//     are only tested by MacLearning.expire on the tick, right after that push, so a switch with these
//     caches forgets exactly the MACs a switch learning on every packet forgets, at the same tick
//   invalidation: a megaflow is tagged with the entries it read (the destination's, and the source's
//     when its hits stand for learning it); a MAC-table change (learn, move, age-out, port flush) logs
//     the entry's tag and the switch removes the megaflows carrying it (Switch.admit / tick,
//     FlowCache.invalidate), as OVS revalidates on them; past MacLearning's log size, all are flushed
//
// Everything else (broadcast, multicast, unknown destination, the drop cases with their named counters)
// stays output:NORMAL, run per packet by normal.ts with its own learning and lookup; it needs no mask bits
// beyond those above, because its answer is computed again for every packet.

import type { Op } from '../flow/action-program.ts';
import { type Action, OFPP_NORMAL } from '../flow/actions.ts';
import {
  DL_DST,
  DL_SRC,
  type FlowKey,
  IN_PORT,
  TUN_DST,
  TUN_ID,
  TUN_IPV6_DST,
  TUN_IPV6_SRC,
  TUN_SRC,
} from '../flow/key.ts';
import type { Translation, XlateCacheEntry } from '../flow/xlate.ts';
import type { Packet } from '../packet/packet.ts';
import { setU16, setU32, u32 } from '../wire/bytes.ts';
import { type MacLearning, macTag } from './mac-learning.ts';
import { sendTo } from './output.ts';
import { KIND_TUNNEL } from './port.ts';
import type { Switch } from './switch.ts';

const NORMAL: Action = { kind: 'output', port: OFPP_NORMAL, portName: '', maxLen: 0, trunc: false };

/** A source MAC learned on an upcall, whose age the megaflow's hits refresh. */
class LearnedSource implements XlateCacheEntry {
  readonly macs: MacLearning;
  readonly domain: number;
  readonly hi: number;
  readonly lo: number;
  readonly port: number;
  constructor(macs: MacLearning, domain: number, hi: number, lo: number, port: number) {
    this.macs = macs;
    this.domain = domain;
    this.hi = hi;
    this.lo = lo;
    this.port = port;
  }
  push(usedMs: number): void {
    this.macs.touch(this.domain, this.hi, this.lo, this.port, usedMs);
  }
}

// The two MACs as bytes, for MacLearning's byte-oriented learn / lookup (translation is not reentrant).
const macs12 = new Uint8Array(12);
const tunSrc = new Uint8Array(16);

/** The NormalHook the switch gives its FlowCache: learns k's source, resolves k's destination. */
export function xlateNormal(sw: Switch, k: FlowKey, wc: Uint32Array, out: Translation): void {
  const inPort = sw.portOf(k[IN_PORT]!);
  wc[IN_PORT] = 0xffffffff;
  if (!inPort) {
    out.actions.push(NORMAL); // per packet: the counted drop
    return;
  }
  const fromTunnel = inPort.kind === KIND_TUNNEL;
  if (fromTunnel) wc[TUN_ID + 1] = wc[TUN_ID + 1]! | 0xffffff;
  const domain = fromTunnel ? k[TUN_ID + 1]! & 0xffffff : inPort.vni;
  const dstHi = k[DL_DST]!;
  const dstLo = k[DL_DST + 1]!;
  const srcHi = k[DL_SRC]!;
  const srcLo = k[DL_SRC + 1]!;
  wc[DL_DST] = wc[DL_DST + 1] = wc[DL_SRC] = wc[DL_SRC + 1] = 0xffffffff;
  setU16(macs12, 0, dstHi);
  setU32(macs12, 2, dstLo);
  setU16(macs12, 6, srcHi);
  setU32(macs12, 8, srcLo);
  // Learn the source, as normal.ts does per packet (a multicast source is never learned).
  let learned: LearnedSource | null = null;
  if ((srcHi & 0x0100) === 0) {
    let version = 0;
    if (fromTunnel) {
      version = inPort.tunnel!.ipVersion;
      if (version === 4) {
        wc[TUN_SRC] = 0xffffffff;
        setU32(tunSrc, 0, k[TUN_SRC]!);
      } else
        for (let w = 0; w < 4; w++) {
          wc[TUN_IPV6_SRC + w] = 0xffffffff;
          setU32(tunSrc, 4 * w, k[TUN_IPV6_SRC + w]!);
        }
    }
    sw.macs.learn(domain, macs12, 6, inPort.no, version, fromTunnel ? tunSrc : null, sw.now);
    learned = new LearnedSource(sw.macs, domain, srcHi, srcLo, inPort.no);
  }
  const unicast = (dstHi & 0x0100) === 0;
  const e = unicast ? sw.macs.lookup(domain, macs12, 0) : -1;
  // The answer read the destination's entry (or its absence): a change to it removes this megaflow.
  if (unicast) out.tags.push(macTag(domain, dstHi, dstLo));
  const out1 = e >= 0 ? sw.portOf(sw.macs.portOf(e)) : undefined;
  // Unknown, multicast, or one of normal.ts's drops (same port, split horizon, port gone): per packet.
  if (!out1 || (out1.no === inPort.no && !fromTunnel) || (fromTunnel && out1.kind === KIND_TUNNEL)) {
    out.actions.push(NORMAL);
    return;
  }
  if (learned !== null) {
    out.xc.push(learned);
    // Its hits stand for learning the source: if the entry moves or ages out, the next packet must learn.
    out.tags.push(macTag(domain, srcHi, srcLo));
  }
  let dstWord = -1;
  const dst: number[] = [];
  if (out1.kind === KIND_TUNNEL && sw.macs.remoteVersionOf(e) !== 0) {
    const at = e * 16;
    const m = sw.macs.remotes;
    if (out1.tunnel!.ipVersion === 4) {
      dstWord = TUN_DST;
      dst.push(u32(m, at));
    } else {
      dstWord = TUN_IPV6_DST;
      for (let j = 0; j < 4; j++) dst.push(u32(m, at + 4 * j));
    }
  }
  out.actions.push({
    kind: 'normal_output',
    port: out1.no,
    tunIdLo: out1.kind === KIND_TUNNEL ? domain : -1,
    dstWord,
    dst,
  });
}

/**
 * Executes a resolved NORMAL (OP_OUT_RESOLVED, from the `normal_output` above): the destination's port,
 * and for a tunnel the domain's tun_id and the learned VTEP, set in w for this output only (as normal.ts
 * does per packet). Counted as normal.ts counts a known unicast.
 */
export function resolvedOutput(sw: Switch, p: Packet, op: Op, w: FlowKey, isLast: boolean): void {
  const port = sw.portOf(op.port);
  if (!port) {
    if (isLast) sw.drop(p, sw.c.dropNoPort);
    return;
  }
  sw.counters.v[sw.c.normalForward]!++;
  if (op.set < 0) {
    sendTo(sw, port, p, isLast, w);
    return;
  }
  const savedId = w[TUN_ID + 1]!;
  w[TUN_ID + 1] = op.set;
  const d = op.dst!;
  const at = op.word;
  if (at < 0) {
    sendTo(sw, port, p, isLast, w);
  } else if (d.length === 1) {
    const saved = w[at]!;
    w[at] = d[0]!;
    sendTo(sw, port, p, isLast, w);
    w[at] = saved;
  } else {
    const s0 = w[at]!;
    const s1 = w[at + 1]!;
    const s2 = w[at + 2]!;
    const s3 = w[at + 3]!;
    w.set(d, at);
    sendTo(sw, port, p, isLast, w);
    w[at] = s0;
    w[at + 1] = s1;
    w[at + 2] = s2;
    w[at + 3] = s3;
  }
  w[TUN_ID + 1] = savedId;
}
