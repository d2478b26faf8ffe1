// Throughput of the TAP back end under a JS forwarder: iperf3 (one TCP flow) between two namespaces
// whose only link is TAP ↔ Poller ↔ TAP in this process, with and without virtio_net_hdr. The C
// reference forwarders measured 19.3 (vnet + TUNSETOFFLOAD) and 2.7 Gbit/s (plain) on this machine
// class (performance.md §6.1); a veth between two namespaces is printed as the kernel's ceiling.
//   node bench/io/tap-forward.ts [--seconds S]        (root; addon built)
import { parseArgs } from 'node:util';
import type { IoBackend } from '../../src/io/io-backend.ts';
import { loadNative, nativeUnavailable } from '../../src/io/native.ts';
import { Poller } from '../../src/io/poller.ts';
import { TapPort } from '../../src/io/tap.ts';
import type { Batch } from '../../src/packet/batch.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { iperf } from '../../testbed/iperf.ts';
import {
  ip,
  netnsAdd,
  netnsDel,
  netnsPath,
  testbedUnavailable,
  uniqueName,
  vethPair,
} from '../../testbed/netns.ts';
import { machine } from '../lib/machine.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
const SECONDS = Number(values.seconds ?? 5);
const why = testbedUnavailable() || (loadNative() ? '' : nativeUnavailable());
if (why) {
  console.error(`bench io tap-forward: ${why}`);
  process.exit(2);
}

async function throughTaps(
  vnetHdr: boolean,
): Promise<{ gbps: number; retrans: number; supers: number; cpu: number }> {
  const tag = uniqueName('nvof');
  const A = `${tag}a`;
  const B = `${tag}b`;
  const pool = new Pool(512, SUPER_SLOT);
  const poller = new Poller();
  const ports: TapPort[] = [];
  try {
    netnsAdd(A);
    netnsAdd(B);
    const ta = new TapPort({ name: 'tap0', pool, netns: netnsPath(A), vnetHdr });
    const tb = new TapPort({ name: 'tap0', pool, netns: netnsPath(B), vnetHdr });
    ports.push(ta, tb);
    ip(A, 'addr', 'add', '10.66.0.1/24', 'dev', 'tap0');
    ip(B, 'addr', 'add', '10.66.0.2/24', 'dev', 'tap0');
    ip(A, 'link', 'set', 'tap0', 'up');
    ip(B, 'link', 'set', 'tap0', 'up');
    const forward = (to: IoBackend) => (_from: IoBackend, batch: Batch) => {
      to.txBurst(batch);
      for (let i = 0; i < batch.count; i++) pool.free(batch.packets[i]!);
      batch.clear();
    };
    poller.add(ta, forward(tb));
    poller.add(tb, forward(ta));
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const r = await iperf(A, B, '10.66.0.2', { seconds: SECONDS });
    const wall = Number(process.hrtime.bigint() - t0) / 1e3;
    const cpu = process.cpuUsage(cpu0);
    return {
      gbps: r.bitsPerSecond / 1e9,
      retrans: r.retransmits,
      supers: ta.counters.get('rx-superframes'),
      cpu: ((cpu.user + cpu.system) / wall) * 100,
    };
  } finally {
    poller.close();
    for (const p of ports) p.close();
    netnsDel(A);
    netnsDel(B);
  }
}

async function veth(): Promise<number> {
  const tag = uniqueName('nvof');
  const A = `${tag}a`;
  const B = `${tag}b`;
  try {
    netnsAdd(A);
    netnsAdd(B);
    vethPair(A, 'v0', B, 'v0');
    ip(A, 'addr', 'add', '10.67.0.1/24', 'dev', 'v0');
    ip(B, 'addr', 'add', '10.67.0.2/24', 'dev', 'v0');
    ip(A, 'link', 'set', 'v0', 'up');
    ip(B, 'link', 'set', 'v0', 'up');
    return (await iperf(A, B, '10.67.0.2', { seconds: SECONDS })).bitsPerSecond / 1e9;
  } finally {
    netnsDel(A);
    netnsDel(B);
  }
}

const m = machine();
console.log(
  `machine: ${m.cpu} × ${m.cores}, kernel ${m.kernel}, node ${m.node}; iperf3 TCP, ${SECONDS} s each`,
);
console.log(`veth (kernel only)             ${(await veth()).toFixed(2).padStart(6)} Gbit/s`);
for (const vnet of [true, false]) {
  const r = await throughTaps(vnet);
  console.log(
    `TAP-JS-TAP ${vnet ? 'vnet hdr + TSO ' : 'plain frames   '}    ${r.gbps.toFixed(2).padStart(6)} Gbit/s, ` +
      `${r.retrans} retransmits, ${r.supers} superframes in, forwarder CPU ${r.cpu.toFixed(0)} % of a core`,
  );
}
