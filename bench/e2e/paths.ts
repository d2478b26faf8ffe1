// End to end: one TCP flow (iperf3) guest → guest through each path, on the same machine in the same
// run, median of N runs (default 3), printed with ratios to kernel VXLAN, the machine, kernel, Node
// version and the underlay's offload flags. Needs root (network namespaces); nothing leaves them.
// Then 64-B UDP frames per direction over veth, kernel VXLAN and nvo VXLAN (udp-flood.ts).
// Every wire is a modelled real one (testbed.ts REAL_WIRE) unless --wire off.
//
//   node bench/e2e/paths.ts [--seconds 3] [--runs 3] [--only veth,kernel-vxlan,...,udp|udp:nvo-vxlan] [--wire on|off]
//                           [--warmup S] [--own-mac on|off] [--pin CPU] [--guest-link veth|tap] [--json]
//
// Every bed first carries a ping (nvo and OVS resolve their tunnel neighbours and learn MACs on the
// first packets). `--warmup S` then runs S seconds of the same traffic unmeasured on every path
// (default 0): nvo's JIT compiles its datapath in the first seconds, which a 3-s run otherwise
// partly measures. Two seconds are not all of it: in the 4 s after a 2-s warm-up V8's optimizing
// compiler still took 8 % of nvo's perf samples (none after 12 s), and nvo STT measured 2.10 / 2.11
// CPU s/GB with `--warmup 2` against 1.82 / 1.95 with `--warmup 8` (alternating runs, 2026-11-26).
// `--own-mac off`: nvo's raw underlay shares the veth's MAC (the host's IP stack
// then routes and drops every tunnel packet nvo receives; testbed/nvo-hosts.ts ownMac). `--pin CPU`
// puts both nvo processes on one CPU (taskset), as a datapath gets its own core (OVS pmd-cpu-mask):
// the second core is left to the guests' TCP, and the 64 KB a host hands the other stays in that
// core's cache. `--guest-link tap`: the nvo rows' guests are vnet TAPs nvo opens (a VM's natural
// attachment; testbed.ts guestLink) instead of veths nvo reads with AF_PACKET; the veth and
// kernel-vxlan rows keep their veths (a TAP's far end is a file descriptor, which only a switch
// process holds; the kernel-vxlan bed bridges the guest's veth). The table's guest column is what the
// kernel reports for the sending guest's eth0 (testbed/netns.ts linkKind). Measured 2026-11-26: TAP
// guests were no faster and cost nvo 12-23 % more CPU per GB (testbed/README.md).
//
// Paths:
//   veth            the guests' namespaces joined by one veth: the optimum a tunnel can approach
//   kernel-vxlan    Linux vxlan devices bridged to the guests (the reference)
//   nvo-stt         nvo on both hosts, STT (one TCP-like superframe per 64 KB, cut by the kernel's TSO)
//   nvo-vxlan       nvo, VXLAN classic: software tunnel GSO, one packet per segment
//   nvo-vxlan-uso   nvo, VXLAN with inner TSO and one outer UDP GSO superframe per burst
//   nvo-vxlan-soe   nvo, VXLAN-SOE: one datagram per 64 KB, outer IPv4 fragments
//   nvo-sock-uso    nvo with the socket underlay (kernel UDP sockets, UDP_SEGMENT / UDP_GRO): VXLAN
//   nvo-sock-soe    the same, VXLAN-SOE: the kernel fragments and reassembles the 64 KB datagram
//   ovs-vxlan       Open vSwitch userspace (datapath_type=netdev) on both hosts
// Issue goals (on this machine): nvo VXLAN with UDP GSO ≥ 10 × OVS userspace VXLAN; STT ≥ 0.75 ×
// kernel VXLAN; STT ≥ 2 × classic VXLAN; SOE ≥ 2.5 × classic VXLAN; 64-B UDP through nvo ≥ 0.15 Mpps
// per direction.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from '../../src/control/control-client.ts';
import { iperf, waitReachable } from '../../testbed/iperf.ts';
import {
  getOffloads,
  ip,
  isRoot,
  linkKind,
  netnsAdd,
  netnsDel,
  setOffloads,
  uniqueName,
  vethPair,
} from '../../testbed/netns.ts';
import { startNvoHosts } from '../../testbed/nvo-hosts.ts';
import { ovsUnavailable, startOvsPeer } from '../../testbed/ovs-peer.ts';
import * as tb from '../../testbed/testbed.ts';
import { machine } from '../lib/machine.ts';
import { describeMachine } from '../lib/report.ts';

/** Two guests that can reach each other through the path under test. */
interface Bed {
  a: { ns: string; addr: string };
  b: { ns: string; addr: string };
  /** Processes doing the switching in user space (nvo, ovs-vswitchd), for CPU seconds per GB. */
  pids?: number[];
  /** nvo's control sockets, for its garbage collections during a run (`nvo stats` process.gc). */
  sockets?: string[];
  close(): Promise<void>;
}

/** utime + stime of a process, or utime alone, seconds (/proc/PID/stat fields 14 and 15, in USER_HZ = 100). */
function cpuSeconds(pid: number, userOnly = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + (userOnly ? 0 : Number(f[12]))) / 100;
  } catch {
    return 0;
  }
}

interface GcSample {
  collections: number;
  ms: number;
  heapUsed: number;
}

/** Every nvo process's GC counters (gc-watch.ts via `nvo stats`), summed. */
async function nvoGc(sockets: string[]): Promise<GcSample> {
  const sum: GcSample = { collections: 0, ms: 0, heapUsed: 0 };
  for (const s of sockets) {
    const g = ((await request(s, { cmd: 'stats' })) as { process: { gc: GcSample } }).process.gc;
    sum.collections += g.collections;
    sum.ms += g.ms;
    sum.heapUsed += g.heapUsed;
  }
  return sum;
}

/**
 * The whole machine's busy CPU seconds (/proc/stat "cpu": user + nice + system + irq + softirq, in
 * USER_HZ; idle, iowait and steal left out). Every path's work lands here, the kernel's softirq on
 * behalf of the kernel VXLAN too, so busy seconds per GB compare every row with every other.
 */
function hostBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) / 100;
}

interface PathRun {
  path: string;
  note: string;
  setup(): Promise<Bed>;
}

/** Every path's wire, the plain veth's too (testbed.ts REAL_WIRE); `--wire off`: veth defaults. */
const WIRE = tb.REAL_WIRE;
let wire: Readonly<Record<string, 'on' | 'off'>> = WIRE;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1]! : 0;
};

async function veth(): Promise<Bed> {
  const a = uniqueName('nvoe');
  const b = `${a}b`;
  netnsAdd(a);
  netnsAdd(b);
  const close = async () => {
    netnsDel(a);
    netnsDel(b);
  };
  try {
    vethPair(a, 'eth0', b, 'eth0');
    for (const [ns, addr] of [
      [a, '10.97.0.1/24'],
      [b, '10.97.0.2/24'],
    ] as const) {
      ip(ns, 'addr', 'add', addr, 'dev', 'eth0');
      ip(ns, 'link', 'set', 'eth0', 'up');
      setOffloads(ns, 'eth0', wire);
    }
    return { a: { ns: a, addr: '10.97.0.1' }, b: { ns: b, addr: '10.97.0.2' }, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function guests(t: tb.Testbed): Pick<Bed, 'a' | 'b'> {
  const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
  return { a: { ns: h1.guestNs!, addr: h1.guestAddr }, b: { ns: h2.guestNs!, addr: h2.guestAddr } };
}

async function kernelVxlan(): Promise<Bed> {
  const name = uniqueName('nvoe');
  const t = tb.up({ name, vxlan: { vni: 42, port: 4789, udpcsum: false }, underlayOffloads: wire });
  return { ...guests(t), close: async () => void tb.down(name) };
}

let ownMac = true;
/** `--pin CPU`: every nvo process (all its threads) on that CPU (taskset), '' = the scheduler's choice. */
let pin = '';
/** `--guest-link`: how the nvo rows' guests attach (testbed.ts guestLink); veth and kernel rows keep veth. */
let guestLink: 'veth' | 'tap' = 'veth';

function nvo(encap: string, uso: boolean, underlay: 'raw' | 'socket' = 'raw') {
  return async (): Promise<Bed> => {
    const name = uniqueName('nvoe');
    const t = tb.up({ name, vxlan: null, underlayOffloads: wire, guestLink });
    try {
      const hosts = await startNvoHosts(t, {
        encap,
        guestMtu: 1400,
        uso,
        ownMac,
        underlay,
        ...(underlay === 'socket' ? { udp: 'native' as const } : {}),
      });
      if (pin)
        for (const p of hosts.procs) await promisify(execFile)('taskset', ['-a', '-pc', pin, String(p.pid!)]);
      await waitReachable(t.hosts[0]!.guestNs!, t.hosts[1]!.guestAddr, 5);
      return {
        ...guests(t),
        pids: hosts.procs.map((p) => p.pid!),
        sockets: hosts.sockets,
        close: async () => {
          await hosts.stop();
          tb.down(name);
        },
      };
    } catch (e) {
      tb.down(name);
      throw e;
    }
  };
}

async function ovsVxlan(): Promise<Bed> {
  const name = uniqueName('nvoe');
  const t = tb.up({ name, vxlan: null, underlayOffloads: wire });
  const peers: ReturnType<typeof startOvsPeer>[] = [];
  const close = async () => {
    for (const p of peers) p.stop();
    tb.down(name);
  };
  try {
    const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
    for (const [h, o] of [
      [h1, h2],
      [h2, h1],
    ] as const) {
      // OVS system ports read raw frames (no vnet_hdr): its guests must not send partial checksums.
      setOffloads(h.guestNs!, 'eth0', { tx: 'off' });
      // OVS userspace neither fragments nor sends ICMP for a too-big frame: leave room for VXLAN.
      ip(h.guestNs!, 'link', 'set', 'eth0', 'mtu', '1450');
      peers.push(
        startOvsPeer({
          ns: h.ns,
          underlayIf: h.underlayIf,
          underlayAddr: h.underlayAddr,
          prefixLen: 24,
          guestIf: h.guestIf,
          tunnel: { type: 'vxlan', remoteIp: o.underlayAddr, key: 42 },
        }),
      );
    }
    // OVS learns its tunnel neighbours and MACs from traffic: warm up with pings first.
    await waitReachable(h1.guestNs!, h2.guestAddr, 5);
    return { ...guests(t), close };
  } catch (e) {
    await close();
    throw e;
  }
}

const FLOOD = join(import.meta.dirname, 'udp-flood.ts');

/** Datagrams per second from `from` to `to` (udp-flood.ts: batched sender and sink, 18-B payload). */
async function udpRate(from: Bed['a'], to: Bed['b'], seconds: number): Promise<number> {
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, [FLOOD, ...args], { timeout: (seconds + 15) * 1000 });
  const port = '5300';
  const sink = run([
    'sink',
    '--netns',
    to.ns,
    '--bind',
    to.addr,
    '--port',
    port,
    '--seconds',
    String(seconds),
  ]);
  // The sink binds within a few ms of starting; a late bind only costs the flood's first datagrams.
  await new Promise((r) => setTimeout(r, 300));
  await run([
    'flood',
    '--netns',
    from.ns,
    '--bind',
    from.addr,
    '--to',
    to.addr,
    '--port',
    port,
    '--seconds',
    String(seconds),
  ]);
  const r = JSON.parse((await sink).stdout) as { packets: number; seconds: number };
  return r.seconds > 0 ? r.packets / r.seconds : 0;
}

const PATHS: PathRun[] = [
  { path: 'veth', note: 'no tunnel: the optimum', setup: veth },
  { path: 'kernel-vxlan', note: 'Linux vxlan, bridged', setup: kernelVxlan },
  { path: 'nvo-stt', note: 'STT, one TCP-like superframe per 64 KB', setup: nvo('stt', false) },
  { path: 'nvo-vxlan', note: 'classic: software tunnel GSO', setup: nvo('vxlan', false) },
  { path: 'nvo-vxlan-uso', note: 'inner TSO + outer UDP GSO superframe', setup: nvo('vxlan', true) },
  { path: 'nvo-vxlan-soe', note: 'one datagram, outer IPv4 fragments', setup: nvo('vxlan-soe', false) },
  {
    path: 'nvo-sock-uso',
    note: 'socket underlay: UDP_SEGMENT / UDP_GRO',
    setup: nvo('vxlan', false, 'socket'),
  },
  {
    path: 'nvo-sock-soe',
    note: 'socket underlay: SOE, kernel fragments',
    setup: nvo('vxlan-soe', false, 'socket'),
  },
  { path: 'ovs-vxlan', note: 'OVS userspace (netdev), both hosts', setup: ovsVxlan },
];

/**
 * The 64-B UDP rows: the same beds, a packet-rate test per direction. nvo-vxlan-uso's underlay port
 * sends each burst of one flow's datagrams as one UDP GSO superframe (src/io/udp-tx-pack.ts).
 */
const UDP_PATHS = ['veth', 'kernel-vxlan', 'nvo-vxlan', 'nvo-vxlan-uso'];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1]! : d;
  };
  if (args.includes('--help')) {
    console.log(
      'node bench/e2e/paths.ts [--seconds 3] [--runs 3] [--only veth,kernel-vxlan,...,udp] [--wire on|off] [--warmup S] [--own-mac on|off] [--pin CPU] [--guest-link veth|tap] [--json]',
    );
    console.log(
      `paths: ${PATHS.map((p) => p.path).join(', ')}; udp (64-B rates over ${UDP_PATHS.join(', ')})`,
    );
    return;
  }
  const gl = opt('--guest-link', 'veth');
  if (gl !== 'veth' && gl !== 'tap') {
    console.error(`bench/e2e: --guest-link veth|tap, got ${gl}`);
    process.exit(2);
  }
  guestLink = gl;
  if (!isRoot()) {
    console.error('bench/e2e: needs root (network namespaces)');
    process.exit(2);
  }
  const seconds = Number(opt('--seconds', '3'));
  const runs = Number(opt('--runs', '3'));
  const only = opt('--only', '').split(',').filter(Boolean);
  const warmup = Number(opt('--warmup', '0'));
  wire = opt('--wire', 'on') === 'off' ? {} : WIRE;
  ownMac = opt('--own-mac', 'on') !== 'off';
  pin = opt('--pin', '');
  const m = machine();
  console.log(describeMachine(m));
  console.log(
    `load before: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  // The underlay's offload flags in effect (ethtool -k of a test bed's ul0 after the settings).
  {
    const name = uniqueName('nvoe');
    const t = tb.up({ name, vxlan: null, underlayOffloads: wire });
    const f = getOffloads(t.hosts[0]!.ns, t.hosts[0]!.underlayIf);
    tb.down(name);
    const keys = [
      'tx-checksumming',
      'tcp-segmentation-offload',
      'generic-segmentation-offload',
      'tx-udp-segmentation',
      'tx-udp_tnl-segmentation',
      'generic-receive-offload',
      'rx-udp-gro-forwarding',
    ];
    const model = Object.keys(wire).length ? 'real wire: segmented before it, GRO after it' : 'veth defaults';
    console.log(`underlay veth (${model}): ${keys.map((k) => `${k}=${f[k] ?? '?'}`).join(' ')}`);
  }
  console.log(
    `one TCP flow, iperf3 ${seconds} s, median of ${runs}; warm-up ${warmup} s; nvo raw underlay MAC: ${ownMac ? 'its own' : "the veth's"}; nvo processes on CPU ${pin || 'any'}; nvo guests: ${guestLink === 'tap' ? 'vnet TAP (veth and kernel-vxlan rows: veth)' : 'veth (AF_PACKET)'}\n`,
  );
  const rows: {
    path: string;
    note: string;
    runs: number[];
    median: number;
    cpuPerGB: number[];
    /** The machine's busy CPU seconds per GB (hostBusySeconds). */
    hostPerGB: number[];
    /** The nvo processes' user-space seconds per GB: the JS, libuv and the addon's own work. */
    userPerGB: number[];
    /** nvo only, per run: collections, GC ms and heap growth summed over its processes, and the run's ms. */
    gc: (GcSample & { runMs: number; processes: number; mb: number })[];
    retransmits: number[];
    /** The sending guest's eth0 as the kernel reports it (linkKind): 'veth' or 'tap'. */
    guest: string;
  }[] = [];
  for (const p of PATHS) {
    if (only.length && !only.includes(p.path)) continue;
    if (p.path.startsWith('ovs') && ovsUnavailable()) {
      console.error(`${p.path}: skipped: ${ovsUnavailable()}`);
      continue;
    }
    const xs: number[] = [];
    const cpu: number[] = [];
    const host: number[] = [];
    const user: number[] = [];
    const gcs: (GcSample & { runMs: number; processes: number; mb: number })[] = [];
    const retx: number[] = [];
    const kinds = new Set<string>();
    for (let i = 0; i < runs; i++) {
      try {
        const bed = await p.setup();
        try {
          kinds.add(linkKind(bed.a.ns, 'eth0'));
          if (warmup > 0) await iperf(bed.a.ns, bed.b.ns, bed.b.addr, { seconds: warmup });
          const pids = bed.pids ?? [];
          const sum = (userOnly: boolean) => pids.reduce((a, pid) => a + cpuSeconds(pid, userOnly), 0);
          const g0 = bed.sockets ? await nvoGc(bed.sockets) : null;
          const [c0, u0, h0] = [sum(false), sum(true), hostBusySeconds()];
          const r = await iperf(bed.a.ns, bed.b.ns, bed.b.addr, { seconds });
          const [c1, u1, h1] = [sum(false), sum(true), hostBusySeconds()];
          if (g0 && bed.sockets) {
            const g1 = await nvoGc(bed.sockets);
            gcs.push({
              collections: g1.collections - g0.collections,
              ms: g1.ms - g0.ms,
              heapUsed: g1.heapUsed - g0.heapUsed,
              runMs: r.seconds * 1000,
              processes: bed.sockets.length,
              mb: (r.bitsPerSecond * r.seconds) / 8e6,
            });
          }
          const gb = (r.bitsPerSecond * r.seconds) / 8e9;
          xs.push(r.bitsPerSecond);
          retx.push(r.retransmits);
          host.push((h1 - h0) / gb);
          if (bed.pids) {
            cpu.push((c1 - c0) / gb);
            user.push((u1 - u0) / gb);
          }
        } finally {
          await bed.close();
        }
      } catch (e) {
        console.error(`${p.path}: run ${i + 1} failed: ${(e as Error).message.split('\n')[0]}`);
      }
      process.stderr.write('.');
    }
    rows.push({
      path: p.path,
      note: p.note,
      runs: xs,
      median: median(xs),
      cpuPerGB: cpu,
      hostPerGB: host,
      userPerGB: user,
      gc: gcs,
      retransmits: retx,
      guest: [...kinds].join('/'),
    });
    process.stderr.write(` ${p.path}\n`);
  }
  const udpRows: { path: string; ab: number[]; ba: number[] }[] = [];
  // `--only udp` runs every UDP row; `--only udp:nvo-vxlan` just that one.
  const udpOnly = only.filter((x) => x.startsWith('udp:')).map((x) => x.slice(4));
  if (!only.length || only.includes('udp') || udpOnly.length) {
    for (const name of UDP_PATHS) {
      if (udpOnly.length && !only.includes('udp') && !udpOnly.includes(name)) continue;
      const p = PATHS.find((x) => x.path === name)!;
      const ab: number[] = [];
      const ba: number[] = [];
      for (let i = 0; i < runs; i++) {
        try {
          const bed = await p.setup();
          try {
            if (warmup > 0) await udpRate(bed.a, bed.b, warmup);
            ab.push(await udpRate(bed.a, bed.b, seconds));
            ba.push(await udpRate(bed.b, bed.a, seconds));
          } finally {
            await bed.close();
          }
        } catch (e) {
          console.error(`udp ${name}: run ${i + 1} failed: ${(e as Error).message.split('\n')[0]}`);
        }
        process.stderr.write('.');
      }
      udpRows.push({ path: name, ab, ba });
      process.stderr.write(` udp ${name}\n`);
    }
  }
  const ref = rows.find((r) => r.path === 'kernel-vxlan')?.median ?? 0;
  const g = (x: number) => (x / 1e9).toFixed(2);
  if (rows.length) {
    // CPU s/GB: user+system seconds of both nvo processes per GB delivered (median); the kernel's
    // softirq work lands on whichever process is running, so this is a load-independent efficiency
    // figure for nvo's paths, not comparable with the kernel paths (which have no process to charge).
    // retx: TCP retransmits per run. On this bed they are spurious (the receiver D-SACKs them) for
    // kernel VXLAN and nvo alike: reordering, not loss. nvo's 48s are one 64 KB guest TSO frame that
    // overtook another before nvo saw it (captured on the host end of the guest's veth: netif_rx's
    // per-CPU backlog when the sending side changes CPU); see testbed/README.md.
    // host s/GB: the machine's busy CPU per GB, every path alike (hostBusySeconds), the G3 figure of
    // performance.md §9. user: the nvo processes' user-space share of their CPU s/GB. free-JS: the
    // Gbit/s the run would have reached with the same busy CPU if nvo's user space cost nothing,
    // median Gbit/s × host / (host − user): a ceiling for what making the JS faster can give, since
    // what remains (system calls, the kernel's copies into and out of nvo, the wire) is the kernel's.
    console.log(
      'path             Gbit/s (median)  min..max        vs kernel VXLAN  CPU s/GB  host s/GB  user  free-JS  retx        guest  note',
    );
    for (const r of rows) {
      const range = r.runs.length ? `${g(Math.min(...r.runs))}..${g(Math.max(...r.runs))}` : '-';
      const f2 = (xs: number[]) => (xs.length ? median(xs).toFixed(2) : '-');
      const h = median(r.hostPerGB);
      const u = median(r.userPerGB);
      const ceiling = r.userPerGB.length && h > u ? g((r.median * h) / (h - u)) : '-';
      console.log(
        `${r.path.padEnd(16)} ${g(r.median).padStart(15)}  ${range.padEnd(14)}  ${(ref ? `${(r.median / ref).toFixed(2)}×` : '-').padStart(15)}  ${f2(r.cpuPerGB).padStart(8)}  ${f2(r.hostPerGB).padStart(9)}  ${f2(r.userPerGB).padStart(4)}  ${ceiling.padStart(7)}  ${r.retransmits.join('/').padEnd(10)}  ${r.guest.padEnd(5)}  ${r.note}`,
      );
    }
  }
  const withGc = rows.filter((r) => r.gc.length);
  if (withGc.length) {
    // The data path allocates nothing per packet (performance.md G1: GC < 1 % of wall time): each nvo
    // process's collections during the measured iperf3 run, summed over the processes, median run.
    // heap: growth of V8's heap over the run (no collection in between: everything allocated). What
    // is left (2026-11-26, sampling heap profiler) is ~16 B per event-loop wake-up, outside any JS
    // frame (V8 API), not per packet; per 64 KB guest frame it is some 100 B over both hosts.
    console.log('\nnvo garbage collection during the measured run (all nvo processes, median run by GC ms)');
    for (const r of withGc) {
      const g = [...r.gc].sort((a, b) => a.ms - b.ms)[r.gc.length >> 1]!;
      const share = (100 * g.ms) / (g.runMs * g.processes);
      console.log(
        `${r.path.padEnd(16)} ${String(g.collections).padStart(4)} collections  ${g.ms.toFixed(1).padStart(7)} ms  ${share.toFixed(3)} % of each process's run time  heap ${g.heapUsed >= 0 ? '+' : ''}${(g.heapUsed / 1024).toFixed(0)} KiB (${(g.heapUsed / g.mb).toFixed(0)} B per MB carried)`,
      );
    }
  }
  if (udpRows.length) {
    const mp = (xs: number[]) => (median(xs) / 1e6).toFixed(3);
    const rng = (xs: number[]) =>
      xs.length ? `${(Math.min(...xs) / 1e6).toFixed(3)}..${(Math.max(...xs) / 1e6).toFixed(3)}` : '-';
    console.log(`\n64-B UDP frames (18-B payload), batched sender → sink, ${seconds} s, median of ${runs}`);
    console.log('path             Mpps g1→g2 (min..max)       Mpps g2→g1 (min..max)');
    for (const r of udpRows)
      console.log(
        `${r.path.padEnd(16)} ${mp(r.ab).padStart(6)} (${rng(r.ab)})`.padEnd(45) +
          `${mp(r.ba).padStart(6)} (${rng(r.ba)})`,
      );
  }
  console.log(
    `load after: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const by = (k: string) => rows.find((r) => r.path === k)?.median ?? 0;
  const ratio = (a: string, b: string) => (by(b) ? (by(a) / by(b)).toFixed(2) : '-');
  if (rows.length) {
    console.log(`\nnvo-vxlan-uso / ovs-vxlan = ${ratio('nvo-vxlan-uso', 'ovs-vxlan')} (goal ≥ 10)`);
    console.log(`nvo-stt / kernel-vxlan = ${ratio('nvo-stt', 'kernel-vxlan')} (goal ≥ 0.75, stretch ≥ 1)`);
    console.log(`nvo-stt / nvo-vxlan = ${ratio('nvo-stt', 'nvo-vxlan')} (goal ≥ 2)`);
    console.log(`nvo-vxlan-soe / nvo-vxlan = ${ratio('nvo-vxlan-soe', 'nvo-vxlan')} (goal ≥ 2.5)`);
    console.log(
      `socket underlay: nvo-sock-uso / ovs-vxlan = ${ratio('nvo-sock-uso', 'ovs-vxlan')}, nvo-sock-soe / nvo-vxlan = ${ratio('nvo-sock-soe', 'nvo-vxlan')}`,
    );
    const kh = median(rows.find((r) => r.path === 'kernel-vxlan')?.hostPerGB ?? []);
    const nv = rows.filter((r) => r.path.startsWith('nvo') && r.hostPerGB.length);
    if (kh > 0 && nv.length)
      console.log(
        `host CPU per GB / kernel-vxlan's (performance.md G3: ≤ 2, stretch ≤ 1.5): ${nv.map((r) => `${r.path} ${(median(r.hostPerGB) / kh).toFixed(2)}`).join(', ')}`,
      );
  }
  for (const r of udpRows.filter((x) => x.path.startsWith('nvo')))
    console.log(
      `${r.path} 64-B UDP = ${(median(r.ab) / 1e6).toFixed(3)} / ${(median(r.ba) / 1e6).toFixed(3)} Mpps per direction (goal ≥ 0.15)`,
    );
  if (args.includes('--json')) {
    const file = `bench/results/e2e-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(
      file,
      JSON.stringify(
        { machine: m, seconds, runs, warmup, ownMac, guestLink, wire, rows, udp: udpRows },
        null,
        2,
      ),
    );
    console.log(`wrote ${file}`);
  }
}

await main();
