// `nvo demo` — the main job on the embedded default, with no config:
//   as root: a two-host network-namespace test bed; guest-to-guest TCP (iperf3) through nvo over each
//            encapsulation, and through the kernel's own vxlan as the reference; a table of Gbit/s,
//            ratio to kernel VXLAN, retransmits and nvo's drops; everything torn down.
//   otherwise: the same encapsulations between two in-process switches joined by a memory wire (what
//            the switch itself costs, no kernel in the path), and it says so.
import { cpus, release } from 'node:os';
import type { Command } from 'commander';
import { iperf, waitReachable } from '../../testbed/iperf.ts';
import { isRoot, uniqueName } from '../../testbed/netns.ts';
import { startNvoHosts } from '../../testbed/nvo-hosts.ts';
import * as tb from '../../testbed/testbed.ts';
import { request } from '../control/control-client.ts';
import { memoryPair, runUntilIdle } from '../io/memory-hosts.ts';
import { loadNative } from '../io/native.ts';
import { Batch } from '../packet/batch.ts';

/** Encapsulations nvo carries end to end between two nvo hosts. */
export const DEMO_ENCAPS = ['stt', 'vxlan', 'vxlan-soe', 'vxlan-gpe', 'geneve', 'gre', 'nvgre'] as const;

/** The UDP encapsulations whose underlay port is marked `uso` (the peer is nvo, which takes USO). */
const USO_ENCAPS: ReadonlySet<string> = new Set(['vxlan', 'vxlan-gpe', 'geneve']);

/** How each encapsulation moves a guest's 64 KB TSO frame across the 1500-byte underlay. */
const NOTES: Record<(typeof DEMO_ENCAPS)[number], string> = {
  stt: 'one TCP-like superframe; the kernel segments it (TSO via vnet_hdr)',
  vxlan: 'inner TSO in nvo, one UDP GSO superframe (USO) per burst',
  'vxlan-soe': 'one 64 KB datagram, outer IPv4 fragments, reassembled',
  'vxlan-gpe': 'inner TSO in nvo, one UDP GSO superframe (USO) per burst',
  geneve: 'inner TSO in nvo, one UDP GSO superframe (USO) per burst',
  gre: 'software tunnel GSO before the wire',
  nvgre: 'software tunnel GSO before the wire',
};

interface Row {
  path: string;
  gbps: number;
  retransmits: number | string;
  drops: number | string;
  note: string;
  /** Nonzero drop counters by name, summed over both hosts. */
  reasons?: Record<string, number>;
}

const say = (s: string) => process.stderr.write(`${s}\n`);

function table(rows: Row[], baseline: number): string {
  const head = ['path', 'Gbit/s', 'vs kernel VXLAN', 'retransmits', 'nvo drops', 'note'];
  const body = rows.map((r) => [
    r.path,
    r.gbps ? r.gbps.toFixed(2) : '-',
    r.gbps && baseline ? `${(r.gbps / baseline).toFixed(2)}×` : '-',
    String(r.retransmits),
    String(r.drops),
    r.note,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(w[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

async function rootDemo(seconds: number): Promise<void> {
  const rows: Row[] = [];
  const steps = DEMO_ENCAPS.length + 1;
  let step = 0;
  // The reference: the kernel's vxlan device on the same test bed shape.
  {
    say(`[${++step}/${steps}] kernel vxlan (reference) ...`);
    const name = uniqueName('nvodemo');
    const t = tb.up({ name, vxlan: { vni: 42, port: 4789, udpcsum: false } });
    try {
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      await waitReachable(h1.guestNs!, h2.guestAddr);
      const r = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds });
      rows.push({
        path: 'kernel vxlan',
        gbps: r.bitsPerSecond / 1e9,
        retransmits: r.retransmits,
        drops: '-',
        note: 'Linux vxlan device, bridged',
      });
    } catch (e) {
      rows.push({
        path: 'kernel vxlan',
        gbps: 0,
        retransmits: '-',
        drops: '-',
        note: `failed: ${(e as Error).message}`,
      });
    } finally {
      tb.down(name);
    }
  }
  for (const encap of DEMO_ENCAPS) {
    say(`[${++step}/${steps}] nvo ${encap} ...`);
    const name = uniqueName('nvodemo');
    const t = tb.up({ name, vxlan: null });
    let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
    try {
      hosts = await startNvoHosts(t, { encap, guestMtu: 1400, uso: USO_ENCAPS.has(encap) });
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      // Both nvo processes up and the path resolved (tunnel ARP, MAC learning) before measuring: on a
      // loaded machine an iperf3 client started at once saw its guest's ARP give up (No route to host).
      await waitReachable(h1.guestNs!, h2.guestAddr);
      const r = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds });
      let drops = 0;
      const reasons: Record<string, number> = {};
      for (const s of hosts.sockets) {
        const st = (await request(s, { cmd: 'stats' })) as { counters: Record<string, number> };
        // Packets wait while a next hop resolves (no drop); those that waited for the other host's nvo
        // while it was still starting time out (drop-neighbour-timeout): not the path's drops.
        for (const [k, v] of Object.entries(st.counters))
          if (k.startsWith('drop-') && k !== 'drop-neighbour-timeout' && v > 0) {
            drops += v;
            reasons[k] = (reasons[k] ?? 0) + v;
          }
      }
      rows.push({
        path: `nvo ${encap}`,
        gbps: r.bitsPerSecond / 1e9,
        retransmits: r.retransmits,
        drops,
        note: NOTES[encap],
        reasons,
      });
    } catch (e) {
      rows.push({
        path: `nvo ${encap}`,
        gbps: 0,
        retransmits: '-',
        drops: '-',
        note: `failed: ${(e as Error).message.split('\n')[0]}`,
      });
    } finally {
      await hosts?.stop();
      tb.down(name);
    }
  }
  const baseline = rows[0]!.gbps;
  process.stdout.write(`${table(rows, baseline)}\n`);
  const why = rows.filter((r) => r.reasons && Object.keys(r.reasons).length > 0);
  if (why.length > 0) {
    process.stdout.write('\nnvo drops by reason (both hosts):\n');
    for (const r of why)
      process.stdout.write(
        `  ${r.path}: ${Object.entries(r.reasons!)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}\n`,
      );
  }
  process.stdout.write(
    `\nOne TCP flow (iperf3, ${seconds} s) guest 1 → guest 2 across a veth underlay, MTU 1500.\n`,
  );
}

function memoryDemo(frames: number): void {
  const rows: Row[] = [];
  // A full-size guest TCP frame for a 1450-byte guest MTU (1500 underlay − 50 VXLAN overhead), as a
  // guest without TSO sends: 14 + 1450 bytes.
  const frame = new Uint8Array(1464);
  frame.set([2, 0xbb, 0, 0, 0, 2, 2, 0xaa, 0, 0, 0, 1, 8, 0], 0);
  frame.set([0x45, 0, 0x05, 0xaa, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 168, 1, 1, 192, 168, 1, 2], 14);
  frame.set([0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff], 34);
  for (const encap of DEMO_ENCAPS) {
    const [a, b] = memoryPair({ encap, vni: 42 });
    // Learn both MACs first (one ARP-like broadcast each way is enough for NORMAL).
    const batch = new Batch(64);
    const sendBurst = (n: number) => {
      batch.count = 0;
      for (let i = 0; i < n; i++) {
        const p = a.guest.pool.allocCopy(frame)!;
        batch.push(p);
      }
      a.guest.txBurst(batch);
      for (let i = 0; i < batch.count; i++) a.guest.pool.free(batch.packets[i]!);
    };
    const drain = () => {
      batch.count = 0;
      b.guest.drain(batch);
      const n = batch.count;
      for (let i = 0; i < n; i++) b.guest.pool.free(batch.packets[i]!);
      return n;
    };
    sendBurst(1);
    runUntilIdle([a, b], 0);
    drain();
    let got = 0;
    const t0 = process.hrtime.bigint();
    for (let sent = 0; sent < frames; sent += 64) {
      sendBurst(64);
      runUntilIdle([a, b], 0);
      got += drain();
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const drops = Object.entries({ ...a.sw.counters.snapshot(), ...b.sw.counters.snapshot() })
      .filter(([k]) => k.startsWith('drop-'))
      .reduce((s, [, v]) => s + v, 0);
    rows.push({
      path: `nvo ${encap}`,
      gbps: (got * frame.length * 8) / secs / 1e9,
      retransmits: '-',
      drops,
      note: `${(got / secs / 1e6).toFixed(2)} Mpps encap+decap, ${got}/${frames} frames delivered`,
    });
  }
  process.stdout.write(`${table(rows, 0)}\n`);
  process.stdout.write(
    `\nIn-process: two switches on one core joined by a memory wire, ${frames} ${frame.length}-byte frames per encapsulation.\n`,
  );
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('two hosts, tunnels of each encapsulation, traffic between guests, a summary table')
    .option('--seconds <n>', 'iperf3 seconds per path (root mode)', '3')
    .option('--in-process', 'use in-process hosts even as root')
    .action(async (o: { seconds: string; inProcess?: boolean }) => {
      say(
        `nvo demo on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), kernel ${release()}, node ${process.versions.node}`,
      );
      const native = loadNative();
      if (!o.inProcess && isRoot() && native) {
        await rootDemo(Number(o.seconds));
        return;
      }
      say(
        o.inProcess
          ? 'in-process hosts (--in-process)'
          : `not running on real interfaces: ${isRoot() ? 'the native I/O addon did not build' : 'needs root for network namespaces'}; using in-process hosts instead`,
      );
      memoryDemo(100_000);
    });
}
