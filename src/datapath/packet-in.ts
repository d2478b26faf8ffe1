/**
 * Packets for the controller (OpenFlow 1.3 §7.4.1 PACKET_IN): what `output:CONTROLLER`, the
 * `controller(…)` action, a table-miss flow sending to CONTROLLER, and dec_ttl at TTL ≤ 1 produce.
 * Each becomes a record in a bounded ring; subscribers (`nvo monitor` over the control socket, later
 * the OpenFlow channel) drain it. With no subscriber the packet is counted as today
 * (drop-controller-not-connected), as OVS does without a controller.
 *
 *   reason      NO_MATCH (0) when the action sits in a table-miss flow (priority 0, empty match: OVS's
 *               "explicit miss", reported as no_match to OpenFlow 1.3 controllers) or says
 *               controller(reason=no_match); ACTION (1) otherwise; INVALID_TTL (2) for dec_ttl, sent
 *               only to subscribers that asked for it (OVS too: off in its default async config)
 *   table_id, cookie   the flow that holds the action
 *   in_port, tunnel    the packet's input port; tun_id / tun_src / tun_dst when it came from a tunnel
 *   data        the frame as it is at that point (earlier set_field actions applied), cut to max_len
 *               (controller:max_len, default 65535); total_len is the whole frame's length
 *
 * Counters: packet-in (records queued), drop-packet-in-queue-full (ring full: the record is lost),
 * drop-controller-not-connected. A packet consumed by the controller action is freed, not counted
 * as a drop. Records reuse their data buffers (grown to the largest frame seen, ≤ 64 KiB each: at
 * most 256 × 64 KiB = 16 MiB with the default ring, when every record is a cut-free superframe).
 */

import type { Op } from '../flow/action-program.ts';
import type { Action } from '../flow/actions.ts';
import type { FlowEntry } from '../flow/table.ts';
import { completeCsum } from '../offload/csum-complete.ts';
import { NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import type { Switch } from './switch.ts';

export const OFPR_NO_MATCH = 0;
export const OFPR_ACTION = 1;
export const OFPR_INVALID_TTL = 2;
export const REASON_NAMES = ['no_match', 'action', 'invalid_ttl'] as const;

export class PacketInRecord {
  reason = 0;
  tableId = 0;
  cookie = 0n;
  inPort = 0;
  totalLen = 0;
  data = new Uint8Array(128);
  dataLen = 0;
  /** 0: not from a tunnel; else 4 or 6. */
  tunIpVersion = 0;
  tunIdHi = 0;
  tunIdLo = 0;
  readonly tunSrc = new Uint8Array(16);
  readonly tunDst = new Uint8Array(16);
}

export class PacketInQueue {
  readonly capacity: number;
  private readonly ring: PacketInRecord[];
  private head = 0;
  count = 0;
  /** Subscribers now, and how many of them asked for INVALID_TTL. */
  subscribers = 0;
  invalidTtlSubscribers = 0;
  /** Called when a record arrives in an empty ring (the control server schedules a drain). */
  onRecord: (() => void) | null = null;
  // Rules by the action objects they hold (cold path: rebuilt when the tables change).
  private rules = new WeakMap<Action, FlowEntry>();
  private rulesGeneration = -1;

  constructor(capacity = 256) {
    this.capacity = capacity;
    this.ring = [];
    for (let i = 0; i < capacity; i++) this.ring.push(new PacketInRecord());
  }

  /** The oldest record, or null; valid until the next push (read it, then let it go). */
  shift(): PacketInRecord | null {
    if (this.count === 0) return null;
    const r = this.ring[this.head]!;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return r;
  }

  /** A slot for a new record, or null when the ring is full. */
  slot(): PacketInRecord | null {
    if (this.count === this.capacity) return null;
    const r = this.ring[(this.head + this.count) % this.capacity]!;
    this.count++;
    return r;
  }

  ruleOf(sw: Switch, a: Action | null): FlowEntry | undefined {
    if (a === null) return undefined;
    if (this.rulesGeneration !== sw.tables.generation) {
      this.rules = new WeakMap();
      for (const e of sw.tables.dump()) for (const x of e.actions) this.rules.set(x, e);
      this.rulesGeneration = sw.tables.generation;
    }
    return this.rules.get(a);
  }
}

/** The switch's packet-in queue. */
export function packetIns(sw: Switch): PacketInQueue {
  return sw.packetInQueue;
}

/** Gives the switch a queue of `capacity` records (subscribers follow the switch to the new one). */
export function configurePacketIns(sw: Switch, capacity: number): PacketInQueue {
  sw.packetInQueue = new PacketInQueue(capacity);
  return sw.packetInQueue;
}

/**
 * Sends p to the controller for the op `op` (controller, output:CONTROLLER): a record when someone
 * listens, else the old count. `consume`: p is freed here (else it goes on to later actions).
 * The packet's bytes already match the key (the caller committed earlier rewrites).
 */
export function packetIn(sw: Switch, p: Packet, op: Op, consume: boolean): void {
  const q = packetIns(sw);
  if (sw.dryRun) {
    // `nvo trace`: say what would happen, record nothing.
    sw.trace?.push(q.subscribers > 0 ? 'controller: packet-in' : 'controller: no subscriber (counted drop)');
    if (consume) p.owner?.free(p);
    return;
  }
  if (q.subscribers === 0) {
    if (consume) sw.drop(p, sw.c.dropController);
    else sw.counters.v[sw.c.dropController]!++;
    return;
  }
  const a = op.source;
  let reason = OFPR_ACTION;
  let maxLen = 65535;
  if (a !== null && a.kind === 'controller') {
    maxLen = a.maxLen;
    if (a.reason === 'no_match') reason = OFPR_NO_MATCH;
    else if (a.reason === 'invalid_ttl') reason = OFPR_INVALID_TTL;
  } else if (a !== null && a.kind === 'output' && a.trunc) maxLen = a.maxLen;
  const rule = q.ruleOf(sw, a);
  if (reason === OFPR_ACTION && rule !== undefined && rule.priority === 0 && rule.match.isCatchAll())
    reason = OFPR_NO_MATCH;
  record(sw, q, p, reason, rule, maxLen);
  if (consume) p.owner?.free(p);
}

/** dec_ttl found TTL ≤ 1: an INVALID_TTL packet-in for subscribers that asked, and the counted drop. */
export function invalidTtl(sw: Switch, p: Packet, op: Op): void {
  const q = packetIns(sw);
  if (q.invalidTtlSubscribers > 0 && !sw.dryRun)
    record(sw, q, p, OFPR_INVALID_TTL, q.ruleOf(sw, op.source), 65535);
  sw.drop(p, sw.c.dropTtl);
}

function record(
  sw: Switch,
  q: PacketInQueue,
  p: Packet,
  reason: number,
  rule: FlowEntry | undefined,
  maxLen: number,
): void {
  const r = q.slot();
  if (r === null) {
    sw.counters.add('drop-packet-in-queue-full');
    return;
  }
  // A checksum the guest left to offload is finished first, so the controller sees a valid frame
  // (not for a superframe: its segments get theirs when cut).
  if ((p.flags & NEEDS_CSUM) !== 0 && (p.flags & SUPERFRAME) === 0 && p.gsoType === 0) completeCsum(p);
  const total = p.end - p.start;
  const n = Math.min(total, maxLen);
  if (r.data.length < n) r.data = new Uint8Array(Math.max(n, 2 * r.data.length));
  r.data.set(p.buf.subarray(p.start, p.start + n));
  r.dataLen = n;
  // total_len is 16 bits on the wire: a superframe says 65535.
  r.totalLen = Math.min(total, 65535);
  r.reason = reason;
  r.tableId = rule?.table ?? 0;
  r.cookie = rule?.cookie ?? 0n;
  r.inPort = p.inPort;
  r.tunIpVersion = p.tunIpVersion;
  if (p.tunIpVersion !== 0) {
    r.tunIdHi = p.tunIdHi;
    r.tunIdLo = p.tunIdLo;
    r.tunSrc.set(p.tunSrc.subarray(0, 16));
    r.tunDst.set(p.tunDst.subarray(0, 16));
  }
  sw.counters.add('packet-in');
  if (q.count === 1) q.onRecord?.();
}
