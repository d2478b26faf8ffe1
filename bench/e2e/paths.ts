// End to end: one TCP flow (iperf3) guest → guest through each path, on the same machine in the same
// run, median of N runs (default 3), printed with ratios to kernel VXLAN, the machine, kernel, Node
// version and the underlay's offload flags. Needs root (network namespaces); nothing leaves them.
//
//   node bench/e2e/paths.ts [--seconds 3] [--runs 3] [--only veth,kernel-vxlan,...] [--json]
//
// Paths:
//   veth            the guests' namespaces joined by one veth: the optimum a tunnel can approach
//   kernel-vxlan    Linux vxlan devices bridged to the guests (the reference)
//   nvo-stt         nvo on both hosts, STT (one TCP-like superframe per 64 KB, cut by the kernel's TSO)
//   nvo-vxlan       nvo, VXLAN classic: software tunnel GSO, one packet per segment
//   nvo-vxlan-uso   nvo, VXLAN with inner TSO and one outer UDP GSO superframe per burst
//   nvo-vxlan-soe   nvo, VXLAN-SOE: one datagram per 64 KB, outer IPv4 fragments
//   ovs-vxlan       Open vSwitch userspace (datapath_type=netdev) on both hosts
// Issue goals (on this machine): nvo VXLAN with UDP GSO ≥ 10 × OVS userspace VXLAN; STT ≥ 0.75 ×
// kernel VXLAN; STT ≥ 2 × classic VXLAN; SOE ≥ 2.5 × classic VXLAN.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { iperf } from '../../testbed/iperf.ts';
import {
  getOffloads,
  ip,
  isRoot,
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

interface PathRun {
  path: string;
  note: string;
  run(seconds: number): Promise<number>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1]! : 0;
};

async function veth(seconds: number): Promise<number> {
  const a = uniqueName('nvoe');
  const b = `${a}b`;
  netnsAdd(a);
  netnsAdd(b);
  try {
    vethPair(a, 'eth0', b, 'eth0');
    ip(a, 'addr', 'add', '10.97.0.1/24', 'dev', 'eth0');
    ip(b, 'addr', 'add', '10.97.0.2/24', 'dev', 'eth0');
    ip(a, 'link', 'set', 'eth0', 'up');
    ip(b, 'link', 'set', 'eth0', 'up');
    return (await iperf(a, b, '10.97.0.2', { seconds })).bitsPerSecond;
  } finally {
    netnsDel(a);
    netnsDel(b);
  }
}

async function kernelVxlan(seconds: number): Promise<number> {
  const name = uniqueName('nvoe');
  const t = tb.up({ name, vxlan: { vni: 42, port: 4789, udpcsum: false } });
  try {
    const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
    return (await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds })).bitsPerSecond;
  } finally {
    tb.down(name);
  }
}

function nvo(encap: string, uso: boolean) {
  return async (seconds: number): Promise<number> => {
    const name = uniqueName('nvoe');
    const t = tb.up({ name, vxlan: null });
    let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
    try {
      hosts = await startNvoHosts(t, { encap, guestMtu: 1400, uso });
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      return (await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds })).bitsPerSecond;
    } finally {
      await hosts?.stop();
      tb.down(name);
    }
  };
}

async function ovsVxlan(seconds: number): Promise<number> {
  const name = uniqueName('nvoe');
  const t = tb.up({ name, vxlan: null });
  const peers: ReturnType<typeof startOvsPeer>[] = [];
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
    await warm(h1.guestNs!, h2.guestAddr);
    return (await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds })).bitsPerSecond;
  } finally {
    for (const p of peers) p.stop();
    tb.down(name);
  }
}

async function warm(ns: string, addr: string): Promise<void> {
  const run = promisify(execFile);
  for (let i = 0; i < 5; i++) {
    try {
      await run('ip', ['netns', 'exec', ns, 'ping', '-c', '2', '-i', '0.2', '-W', '1', addr]);
      return;
    } catch {
      // not yet
    }
  }
}

const PATHS: PathRun[] = [
  { path: 'veth', note: 'no tunnel: the optimum', run: veth },
  { path: 'kernel-vxlan', note: 'Linux vxlan, bridged', run: kernelVxlan },
  { path: 'nvo-stt', note: 'STT, kernel TSO of one TCP-like superframe', run: nvo('stt', false) },
  { path: 'nvo-vxlan', note: 'classic: software tunnel GSO', run: nvo('vxlan', false) },
  { path: 'nvo-vxlan-uso', note: 'inner TSO + outer UDP GSO superframe', run: nvo('vxlan', true) },
  { path: 'nvo-vxlan-soe', note: 'one datagram, outer IPv4 fragments', run: nvo('vxlan-soe', false) },
  { path: 'ovs-vxlan', note: 'OVS userspace (netdev), both hosts', run: ovsVxlan },
];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1]! : d;
  };
  if (!isRoot()) {
    console.error('bench/e2e: needs root (network namespaces)');
    process.exit(2);
  }
  const seconds = Number(opt('--seconds', '3'));
  const runs = Number(opt('--runs', '3'));
  const only = opt('--only', '').split(',').filter(Boolean);
  const m = machine();
  console.log(describeMachine(m));
  // The underlay's offload flags as the test bed leaves them (ethtool -k of a fresh veth).
  {
    const name = uniqueName('nvoe');
    const t = tb.up({ name, vxlan: null });
    const f = getOffloads(t.hosts[0]!.ns, t.hosts[0]!.underlayIf);
    tb.down(name);
    const keys = [
      'tx-checksumming',
      'tcp-segmentation-offload',
      'generic-segmentation-offload',
      'generic-receive-offload',
      'tx-udp-segmentation',
    ];
    console.log(`underlay veth offloads: ${keys.map((k) => `${k}=${f[k] ?? '?'}`).join(' ')}`);
  }
  console.log(`one TCP flow, iperf3 ${seconds} s, median of ${runs}\n`);
  const rows: { path: string; note: string; runs: number[]; median: number }[] = [];
  for (const p of PATHS) {
    if (only.length && !only.includes(p.path)) continue;
    if (p.path.startsWith('ovs') && ovsUnavailable()) {
      console.error(`${p.path}: skipped: ${ovsUnavailable()}`);
      continue;
    }
    const xs: number[] = [];
    for (let i = 0; i < runs; i++) {
      try {
        xs.push(await p.run(seconds));
      } catch (e) {
        console.error(`${p.path}: run ${i + 1} failed: ${(e as Error).message.split('\n')[0]}`);
      }
      process.stderr.write('.');
    }
    rows.push({ path: p.path, note: p.note, runs: xs, median: median(xs) });
    process.stderr.write(` ${p.path}\n`);
  }
  const ref = rows.find((r) => r.path === 'kernel-vxlan')?.median ?? 0;
  console.log('path             Gbit/s (median)  min..max        vs kernel VXLAN  note');
  for (const r of rows) {
    const g = (x: number) => (x / 1e9).toFixed(2);
    const range = r.runs.length ? `${g(Math.min(...r.runs))}..${g(Math.max(...r.runs))}` : '-';
    console.log(
      `${r.path.padEnd(16)} ${g(r.median).padStart(15)}  ${range.padEnd(14)}  ${(ref ? `${(r.median / ref).toFixed(2)}×` : '-').padStart(15)}  ${r.note}`,
    );
  }
  const by = (k: string) => rows.find((r) => r.path === k)?.median ?? 0;
  const ratio = (a: string, b: string) => (by(b) ? (by(a) / by(b)).toFixed(2) : '-');
  console.log(`\nnvo-vxlan-uso / ovs-vxlan = ${ratio('nvo-vxlan-uso', 'ovs-vxlan')} (goal ≥ 10)`);
  console.log(`nvo-stt / kernel-vxlan = ${ratio('nvo-stt', 'kernel-vxlan')} (goal ≥ 0.75, stretch ≥ 1)`);
  console.log(`nvo-stt / nvo-vxlan = ${ratio('nvo-stt', 'nvo-vxlan')} (goal ≥ 2)`);
  console.log(`nvo-vxlan-soe / nvo-vxlan = ${ratio('nvo-vxlan-soe', 'nvo-vxlan')} (goal ≥ 2.5)`);
  if (args.includes('--json')) {
    const file = `bench/results/e2e-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, JSON.stringify({ machine: m, seconds, runs, rows }, null, 2));
    console.log(`wrote ${file}`);
  }
}

await main();
