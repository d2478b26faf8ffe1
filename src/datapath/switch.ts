/**
 * The switch: ports, the OpenFlow tables with their caches, and the run loop that moves a batch.
 *
 *   guest/internal rx ─► flow key ─► EMC ─► megaflow ─► tables (upcall) ─► execute actions
 *   underlay rx ─► ARP / reassembly ─► decap to tunnel metadata ─► (the same, ONE lookup) ─► execute
 *   execute: set-field & co. change a working key; output commits it to the packet (commit.ts), and
 *   sends the packet (the last output) or a copy (every earlier output); tunnel outputs encapsulate.
 *
 * Every drop has a named counter in `counters` (`nvo stats`). Outputs are staged per port and handed to
 * the back ends once per batch (`flush`).
 */

import type { FlowSpec } from '../flow/actions.ts';
import {
  type Action,
  OFPP_ALL,
  OFPP_CONTROLLER,
  OFPP_FLOOD,
  OFPP_IN_PORT,
  OFPP_LOCAL,
  OFPP_NORMAL,
} from '../flow/actions.ts';
import { FlowCache, LEVEL_NAMES } from '../flow/cache.ts';
import { extractKey } from '../flow/extract.ts';
import { fieldMax, getField, setField } from '../flow/fields.ts';
import { type FlowKey, hashKey, NW_TTL, newKey, VLAN_CFI, VLAN_TCI, VLAN2_TCI } from '../flow/key.ts';
import { FlowTables } from '../flow/table.ts';
import { GSO_DROPPED, Segmenter } from '../offload/gso.ts';
import { Ipv4Reassembler } from '../offload/ipv4-reassemble.ts';
import { Ipv6Reassembler } from '../offload/ipv6-reassemble.ts';
import { PmtuResponder } from '../offload/pmtu.ts';
import { ReassemblyMemory } from '../offload/reassembly-limits.ts';
import { SttReassembler } from '../offload/stt-reassemble.ts';
import { Coalescer } from '../offload/tcp-gro.ts';
import { Batch } from '../packet/batch.ts';
import { NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { Pool, SMALL_SLOT, SUPER_SLOT } from '../packet/pool.ts';
import { Neighbours } from '../tunnel/neighbours.ts';
import { type TunnelConfig, TunnelPort } from '../tunnel/tunnel-port.ts';
import { OK } from '../wire/status.ts';
import { commit } from './commit.ts';
import { Counters } from './counters.ts';
import { MacLearning } from './mac-learning.ts';
import { normal } from './normal.ts';
import { KIND_GUEST, KIND_INTERNAL, KIND_TUNNEL, KIND_UNDERLAY, Port, type PortSink } from './port.ts';
import { tunnelOutput } from './tunnel-output.ts';
import { TunnelTransmitters } from './tunnel-transmitters.ts';
import { underlayInput } from './underlay-input.ts';
import { receiveUso } from './uso-split.ts';

export interface SwitchConfig {
  name?: string;
  /** Underlay identity: nvo owns these addresses (answers ARP for them, terminates tunnels on them). */
  underlayMac?: string;
  /** Packets in each of the switch's own pools (copies for flooding, reassembly output). */
  poolSize?: number;
  superPoolSize?: number;
  emcEntries?: number;
  emcInsertInvProb?: number;
  macAgingMs?: number;
  /** GRO on underlay ports (default on). */
  gro?: boolean;
  /** Memory for outer IP and STT reassembly (default 4 MiB). */
  reassemblyBytes?: number;
}

export interface TraceStep {
  what: string;
}

export class Switch {
  readonly name: string;
  readonly ports = new Map<number, Port>();
  private readonly byName = new Map<string, Port>();
  readonly tunnels: Port[] = [];
  readonly underlays: Port[] = [];
  readonly tables = new FlowTables();
  readonly cache: FlowCache;
  readonly counters = new Counters();
  readonly macs: MacLearning;
  readonly neighbours = new Neighbours();
  /** Head-end replication lists: VNI → remote VTEPs (IPv4 as u32 bytes, or IPv6 16 bytes). */
  readonly vteps = new Map<number, Uint8Array[]>();
  readonly underlayMac = new Uint8Array(6);
  /** Addresses nvo owns on the underlay (IPv4 as u32). */
  readonly localIps4 = new Set<number>();
  readonly pool: Pool;
  readonly superPool: Pool;
  /** Software GSO for superframes a port can't take (segments come from `pool`). */
  readonly gso: Segmenter;
  readonly segOut = new Batch(256);
  /** Outer IP and STT reassembly, sharing one bounded memory (default 4 MiB). */
  readonly reasmMemory: ReassemblyMemory;
  readonly reasm4: Ipv4Reassembler;
  readonly reasm6: Ipv6Reassembler;
  readonly sttRx: SttReassembler;
  /** ICMP frag-needed / packet-too-big towards guests whose frames don't fit a tunnel. */
  readonly pmtu: PmtuResponder;
  /** STT segmenters and SOE transmitters per destination. */
  readonly transmitters: TunnelTransmitters;
  /** Underlay GRO (null = off). */
  readonly gro: Coalescer | null;
  private readonly groOut = new Batch(512);
  /** IPv4 ID for outer headers (one counter per switch, as Linux's per-destination counter simplified). */
  ipId = 1;
  now = 0;
  // Scratch, made once.
  readonly key = newKey();
  readonly work = newKey();
  readonly cur = newKey();
  /** Set while tracing: lines describing the packet's path. */
  trace: string[] | null = null;
  /** While tracing, nothing is transmitted: staged packets are described and freed. */
  dryRun = false;

  // Counter ids resolved once.
  readonly c = {
    rxPackets: 0,
    dropNoPort: 0,
    dropBadFrame: 0,
    dropNoActions: 0,
    dropTtl: 0,
    dropNoBuffer: 0,
    dropTxFull: 0,
    dropController: 0,
    dropCommit: 0,
    tunnelGsoSegments: 0,
    dropGso: 0,
    normalForward: 0,
    normalFlood: 0,
  };

  constructor(cfg: SwitchConfig = {}) {
    this.name = cfg.name ?? 'nvo';
    this.cache = new FlowCache(this.tables, {
      emcEntries: cfg.emcEntries,
      emcInsertInvProb: cfg.emcInsertInvProb,
    });
    this.macs = new MacLearning({ agingMs: cfg.macAgingMs });
    this.pool = new Pool(cfg.poolSize ?? 1024, SMALL_SLOT);
    this.superPool = new Pool(cfg.superPoolSize ?? 64, SUPER_SLOT);
    this.gso = new Segmenter({ pool: this.pool });
    this.gro = cfg.gro === false ? null : new Coalescer({ superPool: this.superPool });
    this.pmtu = new PmtuResponder(this.pool);
    this.transmitters = new TunnelTransmitters(this);
    this.reasmMemory = new ReassemblyMemory(cfg.reassemblyBytes ?? 4 << 20);
    this.reasm4 = new Ipv4Reassembler({}, this.reasmMemory);
    this.reasm6 = new Ipv6Reassembler({}, this.reasmMemory);
    this.sttRx = new SttReassembler({}, this.reasmMemory);
    if (cfg.underlayMac) {
      const parts = cfg.underlayMac.split(':').map((x) => Number.parseInt(x, 16));
      this.underlayMac.set(parts);
    } else {
      // A locally administered unicast MAC (bit 1 of the first octet set, bit 0 clear).
      this.underlayMac.set([0x02, 0x4e, 0x56, 0x4f, (Math.random() * 256) | 0, (Math.random() * 256) | 0]);
    }
    const c = this.counters;
    this.c.rxPackets = c.id('rx-packets');
    this.c.dropNoPort = c.id('drop-no-such-port');
    this.c.dropBadFrame = c.id('drop-bad-frame');
    this.c.dropNoActions = c.id('drop-no-actions');
    this.c.dropTtl = c.id('drop-ttl-exceeded');
    this.c.dropNoBuffer = c.id('drop-no-buffer');
    this.c.dropTxFull = c.id('drop-tx-queue-full');
    this.c.dropController = c.id('drop-controller-not-connected');
    this.c.dropCommit = c.id('drop-no-headroom');
    this.c.tunnelGsoSegments = c.id('tunnel-gso-segments');
    this.c.dropGso = c.id('drop-gso');
    this.c.normalForward = c.id('normal-forward');
    this.c.normalFlood = c.id('normal-flood');
  }

  // ---- configuration ----

  private nextPortNo(): number {
    let n = 1;
    while (this.ports.has(n)) n++;
    return n;
  }

  addPort(
    name: string,
    kind: number,
    opts: {
      no?: number;
      mtu?: number;
      vni?: number;
      sink?: PortSink | null;
      txOffload?: boolean;
      txUso?: boolean;
    } = {},
  ): Port {
    if (this.byName.has(name)) throw new Error(`port ${name} exists`);
    const no = opts.no ?? this.nextPortNo();
    if (this.ports.has(no)) throw new Error(`port number ${no} is in use`);
    const p = new Port(no, name, kind, opts);
    this.ports.set(no, p);
    this.byName.set(name, p);
    if (kind === KIND_UNDERLAY) this.underlays.push(p);
    return p;
  }

  addTunnel(cfg: TunnelConfig, opts: { no?: number } = {}): Port {
    const t = new TunnelPort(cfg);
    if (this.byName.has(cfg.name)) throw new Error(`port ${cfg.name} exists`);
    const no = opts.no ?? this.nextPortNo();
    const p = new Port(no, cfg.name, KIND_TUNNEL, { tunnel: t });
    this.ports.set(no, p);
    this.byName.set(cfg.name, p);
    this.tunnels.push(p);
    if (t.ipVersion === 4)
      this.localIps4.add(
        ((t.local[0]! << 24) | (t.local[1]! << 16) | (t.local[2]! << 8) | t.local[3]!) >>> 0,
      );
    return p;
  }

  port(nameOrNo: string | number): Port | undefined {
    return typeof nameOrNo === 'number' ? this.ports.get(nameOrNo) : this.byName.get(nameOrNo);
  }

  portByName = (name: string): number | undefined => this.byName.get(name)?.no;

  addFlow(spec: FlowSpec): void {
    const r = this.tables.apply('add', spec, this.now);
    if (r.error) throw new Error(`${r.error.code}: ${r.error.message}`);
  }

  /** Adds a remote VTEP to a VNI's flood list. */
  addVtep(vni: number, remote: Uint8Array): void {
    const list = this.vteps.get(vni) ?? [];
    list.push(remote.slice());
    this.vteps.set(vni, list);
  }

  // ---- timers and tracing ----

  /** Expires idle/hard-timeout flows and aged MACs; call about once a second. */
  tick(now: number): void {
    this.now = now;
    this.tables.expire(now);
    this.macs.expire(now);
    this.reasm4.tick(now);
    this.reasm6.tick(now);
    this.sttRx.tick(now);
  }

  /**
   * Runs one frame through the switch as if received on `inPort`, transmitting nothing, and returns
   * the path it took: cache level, tables, actions, outputs or the drop reason (`nvo trace`).
   */
  traceFrame(inPort: number, frame: Uint8Array, now: number): string[] {
    const pool = frame.length + 512 <= SMALL_SLOT ? this.pool : this.superPool;
    const p = pool.alloc();
    if (p === null) return ['no buffer'];
    p.buf.set(frame, p.start);
    p.end = p.start + frame.length;
    const lines: string[] = [`in_port ${this.ports.get(inPort)?.name ?? inPort}: ${frame.length} bytes`];
    this.trace = lines;
    this.dryRun = true;
    try {
      const b = this.traceBatch;
      b.count = 0;
      b.push(p);
      this.receive(inPort, b, now);
    } finally {
      this.trace = null;
      this.dryRun = false;
    }
    return lines;
  }

  private readonly traceBatch = new Batch(1);

  // ---- the run loop ----

  /** Processes a batch received on port `inPort` (the caller gives up the packets). */
  receive(inPort: number, batch: Batch, now: number): void {
    this.now = now;
    const port = this.ports.get(inPort);
    // Underlay GRO (NAPI-style, per batch): in-order segments of one inner TCP flow inside VXLAN/GPE/
    // Geneve (or plain TCP) become one encapsulated superframe, so decap and the flow lookup run once
    // per ~64 KB and the guest port gets one superframe.
    // A UDP GSO superframe from a vnet_hdr port (a peer's USO, not yet cut by the kernel): split it
    // into its datagrams first, each one tunnel packet.
    if (port && port.kind === KIND_UNDERLAY && receiveUso(this, inPort, batch, now)) return;
    if (port && port.kind === KIND_UNDERLAY && this.gro !== null && batch.count > 1 && !this.dryRun) {
      const out = this.groOut;
      out.count = 0;
      for (let i = 0; i < batch.count; i++) {
        this.gro.receive(batch.packets[i]!, out, now);
        batch.packets[i] = null;
      }
      batch.count = 0;
      this.gro.flush(out);
      batch = out;
    }
    for (let i = 0; i < batch.count; i++) {
      const p = batch.packets[i]!;
      batch.packets[i] = null;
      this.counters.v[this.c.rxPackets]!++;
      if (!port) {
        this.drop(p, this.c.dropNoPort);
        continue;
      }
      port.rxPackets++;
      port.rxBytes += p.end - p.start;
      p.inPort = inPort;
      if (port.kind === KIND_UNDERLAY) {
        const q = underlayInput(this, port, p);
        if (q === null) continue; // consumed (ARP, reassembly in progress) or dropped
        const tunnelPort = this.ports.get(q.inPort)!;
        if (this.trace) this.trace.push(`decap: ${tunnelPort.name} tun_id=0x${q.tunIdLo.toString(16)}`);
        tunnelPort.rxPackets++;
        tunnelPort.rxBytes += q.end - q.start;
        this.pipeline(q);
        continue;
      }
      this.pipeline(p);
    }
    batch.count = 0;
  }

  readonly usoOut = new Batch(512);
  readonly one = new Batch(1);

  /** Sends every port's staged output. */
  flush(): void {
    for (const port of this.ports.values()) port.flush();
  }

  /** Flow key, cache lookup, actions. */
  pipeline(p: Packet): void {
    const k = this.key;
    if (extractKey(p, k) !== OK) {
      this.drop(p, this.c.dropBadFrame);
      return;
    }
    const hash = hashKey(k);
    if (p.flowHash === 0) p.flowHash = hash;
    const mf = this.cache.lookup(k, hash, p.end - p.start, this.now);
    if (this.trace) {
      this.trace.push(`cache: ${LEVEL_NAMES[this.cache.level]}`);
      for (const step of mf.path)
        this.trace.push(
          `table ${step.table}: ${step.entry ? `matched priority=${step.entry.priority} cookie=0x${step.entry.cookie.toString(16)}` : 'miss'}`,
        );
      this.trace.push(`actions: ${mf.actions.length ? mf.actions.map((a) => a.kind).join(',') : 'drop'}`);
    }
    this.execute(p, k, mf.actions);
  }

  /** Runs datapath actions on p, whose bytes match key k. Consumes p. */
  execute(p: Packet, k: FlowKey, actions: readonly Action[]): void {
    let last = -1;
    for (let i = actions.length - 1; i >= 0; i--)
      if (actions[i]!.kind === 'output' || actions[i]!.kind === 'controller') {
        last = i;
        break;
      }
    if (last < 0) {
      this.drop(p, this.c.dropNoActions);
      return;
    }
    const w = this.work;
    const cur = this.cur;
    w.set(k);
    cur.set(k);
    for (let i = 0; i <= last; i++) {
      const a = actions[i]!;
      switch (a.kind) {
        case 'set_field': {
          const v =
            a.mask === fieldMax(a.field) ? a.value : (getField(w, a.field) & ~a.mask) | (a.value & a.mask);
          setField(w, a.field, v);
          break;
        }
        case 'load': {
          const m = ((1n << BigInt(a.nBits)) - 1n) << BigInt(a.ofs);
          setField(w, a.field, (getField(w, a.field) & ~m) | ((a.value << BigInt(a.ofs)) & m));
          break;
        }
        case 'move': {
          const bits = (getField(w, a.src) >> BigInt(a.srcOfs)) & ((1n << BigInt(a.nBits)) - 1n);
          const m = ((1n << BigInt(a.nBits)) - 1n) << BigInt(a.dstOfs);
          setField(w, a.dst, (getField(w, a.dst) & ~m) | ((bits << BigInt(a.dstOfs)) & m));
          break;
        }
        case 'push_vlan':
          w[VLAN2_TCI] = w[VLAN_TCI]!;
          w[VLAN_TCI] = VLAN_CFI;
          break;
        case 'pop_vlan':
          w[VLAN_TCI] = w[VLAN2_TCI]!;
          w[VLAN2_TCI] = 0;
          break;
        case 'dec_ttl':
          if (w[NW_TTL]! <= 1) {
            this.drop(p, this.c.dropTtl);
            return;
          }
          w[NW_TTL] = w[NW_TTL]! - 1;
          break;
        case 'set_nw_ttl':
          w[NW_TTL] = a.ttl;
          break;
        case 'output':
          this.output(p, a.port, i === last);
          if (i === last) return;
          break;
        case 'controller':
          // No OpenFlow channel is attached to the data path yet: count, as OVS does with no controller.
          if (i === last) {
            this.drop(p, this.c.dropController);
            return;
          }
          this.counters.v[this.c.dropController]!++;
          break;
        default:
          break; // note, set_queue, pop_queue: no data-path effect here
      }
    }
  }

  /** Output to an OpenFlow port number (or reserved port). `isLast`: p may be consumed, else copied. */
  private output(p: Packet, portNo: number, isLast: boolean): void {
    if (!commit(p, this.cur, this.work)) {
      if (isLast) this.drop(p, this.c.dropCommit);
      return;
    }
    this.cur.set(this.work);
    if (portNo === OFPP_IN_PORT) portNo = p.inPort;
    if (portNo === OFPP_NORMAL) {
      normal(this, p, this.work, isLast);
      return;
    }
    if (portNo === OFPP_FLOOD || portNo === OFPP_ALL) {
      this.flood(p, isLast, portNo === OFPP_ALL);
      return;
    }
    if (portNo === OFPP_LOCAL) {
      let local: Port | undefined;
      for (const q of this.ports.values()) if (q.kind === KIND_INTERNAL) local = q;
      if (!local) {
        if (isLast) this.drop(p, this.c.dropNoPort);
        return;
      }
      portNo = local.no;
    }
    if (portNo === OFPP_CONTROLLER) {
      if (isLast) this.drop(p, this.c.dropController);
      return;
    }
    const port = this.ports.get(portNo);
    if (!port) {
      if (isLast) this.drop(p, this.c.dropNoPort);
      return;
    }
    this.sendTo(port, p, isLast, this.work);
  }

  /** Sends p (or a copy when !consume) out of `port`; tunnel ports encapsulate using key `w`'s tun_*. */
  sendTo(port: Port, p: Packet, consume: boolean, w: FlowKey): void {
    const q = consume ? p : this.clone(p);
    if (q === null) return;
    if (this.trace) this.trace.push(`output: ${port.name}`);
    if (port.kind === KIND_TUNNEL) {
      tunnelOutput(this, port, q, w);
      return;
    }
    // A port without vnet_hdr takes neither superframes nor partial checksums: finish them here.
    if (!port.txOffload && (q.gsoType !== 0 || (q.flags & (SUPERFRAME | NEEDS_CSUM)) !== 0)) {
      const out = this.segOut;
      out.clear();
      const n = this.gso.segment(q, out);
      if (n === GSO_DROPPED) {
        this.drop(q, this.c.dropGso);
        return;
      }
      if (n > 0) {
        q.owner?.free(q);
        for (let i = 0; i < out.count; i++) this.stage(port, out.packets[i]!);
        out.clear();
        return;
      }
    }
    this.stage(port, q);
  }

  /** Stages q on port for tx (counted drop when its batch is full). */
  stage(port: Port, q: Packet): void {
    if (this.dryRun) {
      this.trace?.push(`tx ${port.name}: ${q.end - q.start} bytes`);
      q.owner?.free(q);
      return;
    }
    if (!port.stage(q)) {
      port.flush();
      if (!port.stage(q)) this.drop(q, this.c.dropTxFull);
    }
  }

  /** FLOOD / ALL: every port but the input (and, for FLOOD, but underlay ports: they are not L2 members). */
  private flood(p: Packet, consume: boolean, all: boolean): void {
    const targets: Port[] = [];
    for (const q of this.ports.values()) {
      if (q.no === p.inPort || q.kind === KIND_UNDERLAY) continue;
      if (q.kind === KIND_TUNNEL && !all && q.tunnel!.remote === null) continue; // flow-based: no fixed remote
      targets.push(q);
    }
    if (targets.length === 0) {
      if (consume) this.drop(p, this.c.dropNoPort);
      return;
    }
    for (let i = 0; i < targets.length; i++)
      this.sendTo(targets[i]!, p, consume && i === targets.length - 1, this.work);
  }

  /** A copy of p from the switch's pools; null (and a counted drop) when they are empty. */
  clone(p: Packet): Packet | null {
    const len = p.end - p.start;
    const pool = len + 512 <= SMALL_SLOT ? this.pool : this.superPool;
    const q = pool.alloc();
    if (q === null) {
      this.counters.v[this.c.dropNoBuffer]!++;
      return null;
    }
    q.copyFrom(p);
    return q;
  }

  drop(p: Packet, counter: number): void {
    this.counters.v[counter]!++;
    if (this.trace) this.trace.push(`drop: ${this.counters.snapshotName(counter)}`);
    p.owner?.free(p);
  }

  /** Guest ports of an L2 domain (NORMAL flooding). */
  guestPortsOf(vni: number): Port[] {
    const out: Port[] = [];
    for (const q of this.ports.values())
      if ((q.kind === KIND_GUEST || q.kind === KIND_INTERNAL) && q.vni === vni) out.push(q);
    return out;
  }
}
