/**
 * The switch: ports, the OpenFlow tables with their caches, and the run loop that moves a batch.
 *
 *   guest/internal rx ─► flow key ─► EMC ─► megaflow ─► tables (upcall) ─► execute actions
 *   underlay rx ─► ARP / reassembly ─► decap to tunnel metadata ─► (the same, ONE lookup) ─► execute
 *   execute: set-field & co. change a working key; output commits it to the packet (commit.ts), and
 *   sends the packet (the last output) or a copy (every earlier output); tunnel outputs encapsulate.
 *   NORMAL to a known unicast is resolved on the upcall (xlate-normal.ts): a cache hit runs no MAC-table
 *   code; a MAC-table change removes the megaflows that read the changed entry (syncMacs), and hits
 *   refresh MAC ages on tick.
 *
 * A burst is classified packet by packet and executed in runs: consecutive packets of one megaflow whose
 * actions are one output get that output resolved once (admit / closeRun below; runs.test.ts holds it to
 * packet-by-packet results).
 *
 * Every drop has a named counter in `counters` (`nvo stats`). Outputs are staged per port and handed to
 * the back ends once per batch (`flush`).
 */

import type { FlowSpec } from '../flow/actions.ts';
import { FlowCache, LEVEL_EMC, type Megaflow } from '../flow/cache.ts';
import { extractKey } from '../flow/extract.ts';
import { FrameSnap } from '../flow/frame-snap.ts';
import { type FlowKey, KEY_WORDS, newKey, TUN_DST, TUN_ID } from '../flow/key.ts';
import { hashShape, shapeEnd, shapeOf } from '../flow/key-shape.ts';
import { FlowTables } from '../flow/table.ts';
import { Segmenter } from '../offload/gso.ts';
import { Ipv4Reassembler } from '../offload/ipv4-reassemble.ts';
import { Ipv6Reassembler } from '../offload/ipv6-reassemble.ts';
import { PmtuResponder } from '../offload/pmtu.ts';
import { ReassemblyMemory } from '../offload/reassembly-limits.ts';
import { SttReassembler } from '../offload/stt-reassemble.ts';
import { Coalescer } from '../offload/tcp-gro.ts';
import { Batch } from '../packet/batch.ts';
import { Counters } from '../packet/counters.ts';
import type { Packet } from '../packet/packet.ts';
import { Pool, SMALL_SLOT, SUPER_SLOT } from '../packet/pool.ts';
import { Ipv4Set } from '../tunnel/ipv4-set.ts';
import { Neighbours } from '../tunnel/neighbours.ts';
import { type TunnelConfig, TunnelPort } from '../tunnel/tunnel-port.ts';
import { OK } from '../wire/status.ts';
import { execute } from './execute.ts';
import { MacLearning } from './mac-learning.ts';
import { NeighbourResolver } from './neighbour-resolver.ts';
import { PacketInQueue } from './packet-in.ts';
import { KIND_INTERNAL, KIND_TUNNEL, KIND_UNDERLAY, Port, type PortSink } from './port.ts';
import { closeRun, openRun, RUN_MAX } from './runs.ts';
import { traceFrame, traceLookup } from './trace.ts';
import { TunnelTransmitters } from './tunnel-transmitters.ts';
import { receiveUnderlay } from './underlay-input.ts';
import { xlateNormal } from './xlate-normal.ts';

export interface SwitchConfig {
  name?: string;
  /** Underlay identity: nvo owns these addresses (answers ARP for them, terminates tunnels on them). */
  underlayMac?: string;
  /** Packets in each of the switch's own pools (copies for flooding, reassembly output). */
  poolSize?: number;
  superPoolSize?: number;
  emcEntries?: number;
  emcInsertInvProb?: number;
  /** EMC bypass verdicts every this many probes (FlowCache emcWindow; tests). */
  emcWindow?: number;
  macAgingMs?: number;
  /** GRO on underlay ports (default on). */
  gro?: boolean;
  /** Memory for outer IP and STT reassembly (default 4 MiB). */
  reassemblyBytes?: number;
}

export interface TraceStep {
  what: string;
}

/** Port numbers below this are also kept in an array (`portOf`): an index instead of a Map lookup. */
const PORT_TABLE = 1024;
/** Packets in one run (Switch.admit): a longer run of one megaflow is closed and a new one opened. */

export class Switch {
  readonly name: string;
  readonly ports = new Map<number, Port>();
  private readonly portAt: (Port | undefined)[] = new Array<Port | undefined>(PORT_TABLE).fill(undefined);
  /** Every port in the order added (the Map's order), for loops on the data path: no iterator objects. */
  readonly portList: Port[] = [];
  /** OFPP_LOCAL: the internal port (the last one added, when there are several). */
  localPort: Port | undefined;
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
  readonly localIps4 = new Ipv4Set();
  readonly pool: Pool;
  readonly superPool: Pool;
  /** Software GSO for superframes a port can't take (segments come from `pool`). */
  readonly gso: Segmenter;
  /** Splits received USO superframes whose checksums are already settled, leaving them partial. */
  readonly usoSplit: Segmenter;
  /** Packet-in records for control-socket subscribers (packet-in.ts; sized by configurePacketIns). */
  packetInQueue = new PacketInQueue();
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
  /** ARP / ND next-hop resolution and the packets waiting for it (neighbour-resolver.ts). */
  readonly resolver: NeighbourResolver;
  /** Underlay GRO (null = off). */
  readonly gro: Coalescer | null;
  /** GRO's output batch (underlay-input.ts). */
  readonly groOut = new Batch(512);
  /** IPv4 ID for outer headers (one counter per switch, as Linux's per-destination counter simplified). */
  ipId = 1;
  now = 0;
  /** MacLearning.generation the caches were last valid for (NORMAL answers are cached: xlate-normal.ts). */
  private macGeneration = 0;
  // Scratch, made once.
  /** The packet's key; `prev` holds the previous packet's (admit swaps them). */
  private key = newKey();
  /** Words of `key` from here on are 0: its last extraction's shape ends here (extractKey's `clean`). */
  private keyEnd = KEY_WORDS;
  private prev = newKey();
  private prevEnd = KEY_WORDS;
  /**
   * While `snap.valid`, the last extracted packet was an EMC hit with key `prev` (of shape prevShape,
   * hash prevHash, megaflow prevFlow) and `snap` holds its headers (frame-snap.ts). With no flush or
   * invalidation since (prevEpoch) and the EMC not bypassed, a packet the snapshot matches has that key
   * and is an EMC hit on the same entry (a hit changes no slot): answered without extraction, hashing
   * or probing, and counted as the EMC hit it is. The snapshot is taken when an EMC hit's hash repeats
   * the last extracted packet's (the second packet of a flow in a row), so interleaved flows don't pay.
   */
  private readonly snap = new FrameSnap();
  private prevShape = 0;
  private prevHash = 0;
  private prevEpoch = 0;
  private prevFlow: Megaflow | null = null;
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
    rxUsoCoalesced: 0,
  };

  constructor(cfg: SwitchConfig = {}) {
    this.name = cfg.name ?? 'nvo';
    this.cache = new FlowCache(this.tables, {
      emcEntries: cfg.emcEntries,
      emcInsertInvProb: cfg.emcInsertInvProb,
      emcWindow: cfg.emcWindow,
      normal: (k, wc, out) => xlateNormal(this, k, wc, out),
    });
    this.macs = new MacLearning({ agingMs: cfg.macAgingMs });
    this.pool = new Pool(cfg.poolSize ?? 1024, SMALL_SLOT);
    this.superPool = new Pool(cfg.superPoolSize ?? 64, SUPER_SLOT);
    this.gso = new Segmenter({ pool: this.pool });
    this.usoSplit = new Segmenter({ pool: this.pool, partial: true });
    this.gro = cfg.gro === false ? null : new Coalescer({ superPool: this.superPool });
    this.pmtu = new PmtuResponder(this.pool);
    this.transmitters = new TunnelTransmitters(this);
    this.resolver = new NeighbourResolver(this);
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
    this.c.rxUsoCoalesced = c.id('rx-uso-coalesced');
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
    const p = this.register(new Port(opts.no ?? this.nextPortNo(), name, kind, opts));
    if (kind === KIND_UNDERLAY) this.underlays.push(p);
    return p;
  }

  addTunnel(cfg: TunnelConfig, opts: { no?: number } = {}): Port {
    const t = new TunnelPort(cfg);
    const p = this.register(new Port(opts.no ?? this.nextPortNo(), cfg.name, KIND_TUNNEL, { tunnel: t }));
    this.tunnels.push(p);
    if (t.ipVersion === 4) this.localIps4.add(t.local4);
    return p;
  }

  /** Enters a new port in every index (by number, by name, the list; LOCAL for an internal port). */
  private register(p: Port): Port {
    if (this.byName.has(p.name)) throw new Error(`port ${p.name} exists`);
    if (this.ports.has(p.no)) throw new Error(`port number ${p.no} is in use`);
    this.ports.set(p.no, p);
    this.portList.push(p);
    if (p.no >= 0 && p.no < PORT_TABLE) this.portAt[p.no] = p;
    this.byName.set(p.name, p);
    if (p.kind === KIND_INTERNAL) this.localPort = p;
    return p;
  }

  /** The port numbered `no` (the data path's lookup). */
  portOf(no: number): Port | undefined {
    return no >= 0 && no < PORT_TABLE ? this.portAt[no] : this.ports.get(no);
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
    // Hits refresh the sources their megaflows learned, then aging runs on the refreshed table.
    this.cache.pushStats();
    this.macs.expire(now);
    this.syncMacs();
    this.reasm4.tick(now);
    this.reasm6.tick(now);
    this.sttRx.tick(now);
    this.resolver.tick(now);
  }

  /**
   * Runs one frame through the switch as if received on `inPort`, transmitting nothing, and returns
   * the path it took (`nvo trace`, trace.ts).
   */
  traceFrame(inPort: number, frame: Uint8Array, now: number): string[] {
    return traceFrame(this, inPort, frame, now);
  }

  // ---- the run loop ----

  /** Processes a batch received on port `inPort` (the caller gives up the packets). */
  receive(inPort: number, batch: Batch, now: number): void {
    this.now = now;
    const port = this.ports.get(inPort);
    // Underlay batches: USO split, GRO, decap to tunnel metadata, then pipeline (underlay-input.ts).
    if (port !== undefined && port.kind === KIND_UNDERLAY) {
      receiveUnderlay(this, port, batch, now);
      return;
    }
    this.counters.v[this.c.rxPackets]! += batch.count;
    for (let i = 0; i < batch.count; i++) {
      const p = batch.packets[i]!;
      batch.packets[i] = null;
      if (!port) {
        this.drop(p, this.c.dropNoPort);
        continue;
      }
      port.rxPackets++;
      port.rxBytes += p.end - p.start;
      p.inPort = inPort;
      this.admit(p);
    }
    batch.count = 0;
    this.closeRun();
  }

  readonly usoOut = new Batch(512);
  readonly one = new Batch(1);

  /** Sends every port's staged output. */
  flush(): void {
    const ports = this.portList;
    for (let i = 0; i < ports.length; i++) ports[i]!.flush();
  }

  /**
   * When the MAC table changed: removes the megaflows that read a changed entry (xlate-normal.ts tags),
   * or flushes the caches when more changed than the table's log holds.
   */
  private syncMacs(): void {
    const macs = this.macs;
    if (macs.generation === this.macGeneration) return;
    this.macGeneration = macs.generation;
    if (macs.overflow) this.cache.flush();
    else this.cache.invalidate(macs.changes, macs.changeCount);
    macs.clearChanges();
  }

  /** Flow key, cache lookup, actions: p is done when this returns. */
  pipeline(p: Packet): void {
    this.admit(p);
    this.closeRun();
  }

  // ---- runs (runs.ts): admit classifies each packet; consecutive packets of one single-output megaflow
  // share one resolution of that output. The run state lives here so admit reaches it in one load.

  readonly run: (Packet | null)[] = new Array<Packet | null>(RUN_MAX).fill(null);
  runN = 0;
  runBytes = 0;
  runFlow: Megaflow | null = null;
  runPort: Port | null = null;
  /** Tunnel runs: tun_id (2 words) and tun_dst of the first packet's key, which every member shares. */
  runTunHi = 0;
  runTunLo = 0;
  runTunDst = 0;
  /** The run's key for tunnelOutputRun: tun_id and tun_dst as the lone op sets them (other words unused). */
  readonly runKey = newKey();

  /** Classifies p and runs its actions, or adds it to the open run (closeRun runs that). */
  admit(p: Packet): void {
    const cache = this.cache;
    if (this.macs.generation !== this.macGeneration || cache.stale) {
      // A flush pushes the megaflows' stats: the open run's are credited first.
      this.closeRun();
      this.syncMacs();
      cache.revalidate();
    }
    let k: FlowKey;
    let shape: number;
    let hash: number;
    let mf: Megaflow;
    if (this.snap.valid && cache.epoch === this.prevEpoch && !cache.emcBypass && this.snap.matches(p)) {
      k = this.prev;
      shape = this.prevShape;
      hash = this.prevHash;
      mf = this.prevFlow!;
      cache.repeatEmcHit();
    } else {
      k = this.key;
      if (extractKey(p, k, this.keyEnd) !== OK) {
        this.keyEnd = KEY_WORDS;
        this.drop(p, this.c.dropBadFrame);
        return;
      }
      shape = shapeOf(k, p.tunIpVersion);
      hash = hashShape(k, shape);
      mf = cache.classify(k, hash, shape);
      if (cache.level === LEVEL_EMC && hash === this.prevHash) this.snap.take(p);
      else this.snap.valid = false;
      this.prevShape = shape;
      this.prevHash = hash;
      this.prevEpoch = cache.epoch;
      this.prevFlow = mf;
      // The next packet's key goes in the other buffer; this one stays for the comparison.
      this.key = this.prev;
      this.prev = k;
      this.keyEnd = this.prevEnd;
      this.prevEnd = shapeEnd(shape);
    }
    if (p.flowHash === 0) p.flowHash = hash;
    const bytes = p.end - p.start;
    if (mf === this.runFlow) {
      if (
        this.runN < RUN_MAX &&
        (this.runPort!.kind !== KIND_TUNNEL ||
          (k[TUN_ID] === this.runTunHi && k[TUN_ID + 1] === this.runTunLo && k[TUN_DST] === this.runTunDst))
      ) {
        this.run[this.runN++] = p;
        this.runBytes += bytes;
        return;
      }
    }
    this.closeRun();
    if (this.trace) traceLookup(this, mf);
    const lone = mf.program.lone;
    if (lone !== null && this.trace === null && !this.dryRun && openRun(this, mf, lone, k)) {
      this.run[0] = p;
      this.runN = 1;
      this.runBytes = bytes;
      return;
    }
    this.cache.credit(mf, 1, bytes, this.now);
    execute(this, p, k, mf.program);
  }

  /** Runs the open run's actions on its packets (see admit; runs.ts). */
  closeRun(): void {
    if (this.runN !== 0) closeRun(this);
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
    if (this.trace) this.trace.push(`drop: ${this.counters.name(counter)}`);
    p.owner?.free(p);
  }
}
