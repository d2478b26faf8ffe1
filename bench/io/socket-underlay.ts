// The socket underlay against the raw one: one iperf3 TCP flow guest → guest and back between two
// `nvo run` hosts (test-bed namespaces, veth guests, 1500-byte veth wire), per underlay:
//   raw            nvo owns the underlay: AF_PACKET + vnet_hdr on ul0, software tunnel GSO
//   raw+uso        the same with the underlay port's uso on (one UDP GSO superframe per burst)
//   socket         underlay mode socket, native UDP_SEGMENT / UDP_GRO
//   socket-dgram   underlay mode socket over node:dgram (no GSO/GRO: the fallback)
//   node bench/io/socket-underlay.ts [--encap vxlan] [--seconds 3] [--runs 3] [--json FILE]   (root; addon)
// Medians of `runs`, all cases in the same run (ratios are what to compare on a shared machine).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadNative, nativeUnavailable } from '../../src/io/native.ts';
import { iperf } from '../../testbed/iperf.ts';
import { testbedUnavailable, uniqueName } from '../../testbed/netns.ts';
import { type NvoHostsOptions, startNvoHosts } from '../../testbed/nvo-hosts.ts';
import * as tb from '../../testbed/testbed.ts';
import { machine } from '../lib/machine.ts';

const { values } = parseArgs({
  options: {
    encap: { type: 'string' },
    seconds: { type: 'string' },
    runs: { type: 'string' },
    json: { type: 'string' },
  },
});
const ENCAP = values.encap ?? 'vxlan';
const SECONDS = Number(values.seconds ?? 3);
const RUNS = Number(values.runs ?? 3);
const why = testbedUnavailable() || (loadNative() ? '' : nativeUnavailable());
if (why) {
  process.stderr.write(`skipped: ${why}\n`);
  process.exit(0);
}

const CASES: [string, Partial<NvoHostsOptions>][] = [
  ['raw', { underlay: 'raw' }],
  ['raw+uso', { underlay: 'raw', uso: true }],
  ['socket', { underlay: 'socket', udp: 'native' }],
  ['socket-dgram', { underlay: 'socket', udp: 'dgram' }],
];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: { path: string; forward: number; back: number; retransmits: number }[] = [];
const load0 = loadavg()[0]!;
for (const [path, o] of CASES) {
  const name = uniqueName('nvob');
  const t = tb.up({ name, vxlan: null });
  let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
  try {
    const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
    hosts = await startNvoHosts(t, { encap: ENCAP, guestMtu: 1400, ...o });
    const fwd: number[] = [];
    const back: number[] = [];
    let retransmits = 0;
    for (let i = 0; i < RUNS; i++) {
      const a = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: SECONDS, port: 5460 + 2 * i });
      const b = await iperf(h2.guestNs!, h1.guestNs!, h1.guestAddr, { seconds: SECONDS, port: 5461 + 2 * i });
      fwd.push(a.bitsPerSecond / 1e9);
      back.push(b.bitsPerSecond / 1e9);
      retransmits += a.retransmits + b.retransmits;
    }
    rows.push({ path, forward: median(fwd), back: median(back), retransmits });
    process.stderr.write(`${path}: ${median(fwd).toFixed(2)} / ${median(back).toFixed(2)} Gbit/s\n`);
  } finally {
    await hosts?.stop();
    tb.down(name);
  }
}
const base = rows[0]!;
process.stdout.write(
  `${ENCAP}, ${RUNS} × ${SECONDS} s, load ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}\n`,
);
process.stdout.write(
  '| path | Gbit/s 1→2 | Gbit/s 2→1 | vs raw (1→2) | retransmits |\n| --- | --- | --- | --- | --- |\n',
);
for (const r of rows)
  process.stdout.write(
    `| ${r.path} | ${r.forward.toFixed(2)} | ${r.back.toFixed(2)} | ${(r.forward / base.forward).toFixed(2)}× | ${r.retransmits} |\n`,
  );
if (values.json)
  writeFileSync(values.json, JSON.stringify({ machine: machine(), encap: ENCAP, rows }, null, 2));
