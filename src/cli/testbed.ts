// nvo testbed up|down|status|iperf — network-namespace hosts, guests and an underlay wire on this
// machine (testbed/testbed.ts). Needs root.
//
//   nvo testbed up --vxlan                      two hosts, kernel VXLAN VNI 42 on 4789 between them
//   nvo testbed up --hosts 3 --mtu 9000 --offload tso=off,gso=off
//   nvo testbed iperf --seconds 5               iperf3 guest 1 → guest 2 (the kernel-VXLAN baseline)
//   nvo testbed status [--json]
//   nvo testbed down                            idempotent; --name picks another bed
import type { Command } from 'commander';
import { iperf } from '../../testbed/iperf.ts';
import { testbedUnavailable } from '../../testbed/netns.ts';
import { DEFAULT_SPEC, describe, down, status, up } from '../../testbed/testbed.ts';
import { CliError } from './cli-error.ts';

function int(name: string, lo: number, hi: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi)
      throw new CliError(`--${name} must be an integer ${lo}..${hi}, got '${v}'`);
    return n;
  };
}

function offloads(v: string): Record<string, 'on' | 'off'> {
  const out: Record<string, 'on' | 'off'> = {};
  for (const kv of v.split(',').filter(Boolean)) {
    const [k, s] = kv.split('=');
    if (!k || (s !== 'on' && s !== 'off'))
      throw new CliError(`--offload wants feature=on|off[,…], got '${kv}'`);
    out[k] = s;
  }
  return out;
}

function badLink(v: string): never {
  throw new CliError(`--guest-link must be veth or tap, got '${v}'`);
}

function needRoot(): void {
  const why = testbedUnavailable();
  if (why) throw new CliError(`testbed: ${why}`);
}

export function register(program: Command): void {
  const tb = program
    .command('testbed')
    .description('network-namespace test bed: hosts, guests, underlay wire');

  tb.command('up')
    .description('create hosts (netns) joined by a veth wire, a guest per host, optional kernel VXLAN')
    .option('--name <name>', 'namespace prefix', DEFAULT_SPEC.name)
    .option('--hosts <n>', 'number of hosts', int('hosts', 2, 250), 2)
    .option('--mtu <bytes>', 'underlay MTU', int('mtu', 576, 65535), 1500)
    .option('--vxlan', 'kernel VXLAN between the hosts, bridged to the guests (the baseline)')
    .option('--vni <n>', 'VXLAN network identifier', int('vni', 0, 0xffffff), 42)
    .option('--port <n>', 'VXLAN UDP port (4789, or 8472 for the Linux default)', int('port', 1, 65535), 4789)
    .option('--no-udpcsum', 'outer UDP checksum off on transmit')
    .option(
      '--offload <list>',
      'ethtool -K features on every underlay veth, e.g. tso=off,gro=on',
      offloads,
      {},
    )
    .option('--no-guests', 'no guest namespaces (attach the switch under test to gv0 yourself)')
    .option(
      '--guest-link <kind>',
      "veth (guest eth0 ↔ host gv0) or tap (persistent TAP as the guest's eth0)",
      'veth',
    )
    .action((o) => {
      needRoot();
      const bed = up({
        name: o.name,
        hosts: o.hosts,
        mtu: o.mtu,
        vxlan: o.vxlan ? { vni: o.vni, port: o.port, udpcsum: o.udpcsum } : null,
        underlayOffloads: o.offload,
        guests: o.guests,
        guestLink: o.guestLink === 'tap' ? 'tap' : o.guestLink === 'veth' ? 'veth' : badLink(o.guestLink),
      });
      for (const h of bed.hosts)
        process.stdout.write(
          `${h.ns}: ${h.underlayIf} ${h.underlayAddr}` +
            (h.guestNs
              ? `   ${h.guestNs}: eth0 ${h.guestAddr} (${h.guestMac}) ${h.guestTapNetns ? '(tap, unplugged)' : `via ${h.guestIf}`}`
              : '') +
            '\n',
        );
    });

  tb.command('down')
    .description('delete every namespace of the test bed (idempotent)')
    .option('--name <name>', 'namespace prefix', DEFAULT_SPEC.name)
    .action((o) => {
      needRoot();
      const gone = down(o.name);
      process.stdout.write(gone.length ? `deleted ${gone.join(' ')}\n` : `nothing named ${o.name}-*\n`);
    });

  tb.command('status')
    .description('namespaces, links and addresses of the test bed (all nvo* beds with --name "")')
    .option('--name <name>', 'namespace prefix', DEFAULT_SPEC.name)
    .option('--json', 'machine-readable output')
    .action((o) => {
      needRoot();
      const s = status(o.name);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      if (s.length === 0) process.stdout.write(`no test bed named ${o.name}\n`);
      for (const ns of s) {
        process.stdout.write(`${ns.ns}\n`);
        for (const l of ns.links)
          process.stdout.write(
            `  ${l.name.padEnd(10)} ${l.state.padEnd(8)} mtu ${String(l.mtu).padEnd(6)} ${l.addrs.join(' ')}\n`,
          );
      }
    });

  tb.command('iperf')
    .description('iperf3 (TCP) from guest 1 to guest 2 of a running test bed')
    .option('--name <name>', 'namespace prefix', DEFAULT_SPEC.name)
    .option('--seconds <n>', 'duration', int('seconds', 1, 600), 5)
    .option('--streams <n>', 'parallel streams', int('streams', 1, 128), 1)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      needRoot();
      const bed = describe({ name: o.name });
      const [a, b] = bed.hosts;
      if (!a?.guestNs || !b?.guestNs || status(o.name).length === 0)
        throw new CliError(`no test bed named ${o.name} with guests (nvo testbed up --vxlan)`);
      const r = await iperf(a.guestNs, b.guestNs, b.guestAddr, { seconds: o.seconds, streams: o.streams });
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else
        process.stdout.write(
          `${a.guestAddr} -> ${b.guestAddr}: ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s, ` +
            `${r.retransmits} retransmits, sender cpu ${r.senderCpu.toFixed(0)} %, receiver cpu ${r.receiverCpu.toFixed(0)} %\n`,
        );
    });
}
