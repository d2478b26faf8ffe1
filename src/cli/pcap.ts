// `nvo pcap decap|encap`: capture files in, capture files out (pcap or pcapng, by content on input and
// by file name on output). A corrupt or truncated input is one line on stderr naming the file and the
// byte offset of the bad record, and exit status 2.
//
//   nvo pcap decap test/vectors/encaps.pcap /tmp/inner.pcap --json
//   nvo pcap encap --encap vxlan --vni 42 --local 192.0.2.1 --remote 192.0.2.2 in.pcap out.pcap
import type { Command } from 'commander';
import { CaptureError } from '../io/capture-source.ts';
import { CliError } from './cli-error.ts';
import { formatSummary, runDecap } from './pcap-decap.ts';
import { type EncapArgs, encapConfig, runEncap } from './pcap-encap.ts';

async function asCliErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CaptureError) throw new CliError(e.message);
    const err = e as NodeJS.ErrnoException;
    if (err.code && err.path) throw new CliError(`${err.path}: ${err.message.replace(/^[A-Z]+: /, '')}`);
    throw e;
  }
}

export function register(program: Command): void {
  const pcap = program.command('pcap').description('encapsulate / decapsulate the frames of a capture file');
  pcap
    .command('decap')
    .description(
      'write the inner frame of every tunnel packet (VXLAN, VXLAN-SOE, VXLAN-GPE, Geneve, GRE, NVGRE, STT) to OUT',
    )
    .argument('<in>', 'input capture (pcap or pcapng)')
    .argument('<out>', 'output capture (pcapng if the name ends in .pcapng, else pcap)')
    .option('--json', 'print {in, out, byEncap, drops} as JSON')
    .option('--verify-csum', 'drop frames whose outer UDP/TCP/GRE checksum is wrong (default: accept)')
    .action(async (inPath: string, outPath: string, o: { json?: boolean; verifyCsum?: boolean }) => {
      const s = await asCliErrors(() => runDecap(inPath, outPath, { verifyChecksums: !!o.verifyCsum }));
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : formatSummary(s));
    });
  pcap
    .command('encap')
    .description('wrap every frame of IN in outer Ethernet/IP/tunnel headers and write OUT')
    .requiredOption('--encap <e>', 'stt | vxlan | vxlan-gpe | vxlan-soe | geneve | gre | nvgre')
    .requiredOption(
      '--vni <n>',
      'VNI (24 bits), GRE key (32), NVGRE VSID (24) or STT context (64); decimal or 0x…',
    )
    .requiredOption('--local <addr>', 'outer source address (IPv4 or IPv6: selects the outer family)')
    .requiredOption('--remote <addr>', 'outer destination address')
    .option('--mtu <m>', 'largest outer IP packet; bigger frames are dropped as too-big')
    .option('--src-mac <mac>', 'outer source MAC (default 02:00:00:00:00:01)')
    .option('--dst-mac <mac>', 'outer destination MAC (default 02:00:00:00:00:02)')
    .option('--dst-port <p>', "UDP/TCP destination port (default: the encapsulation's IANA port)")
    .option(
      '--mss <n>',
      'vxlan-soe: overlay MSS put in the header when the inner payload exceeds it (default 1448)',
    )
    .option('--json', 'print {in, out, byEncap, drops} as JSON')
    .argument('<in>', 'input capture (pcap or pcapng; Ethernet, or raw IP for vxlan-gpe/geneve/gre)')
    .argument('<out>', 'output capture (pcapng if the name ends in .pcapng, else pcap)')
    .action(async (inPath: string, outPath: string, o: EncapArgs & { json?: boolean }) => {
      const cfg = encapConfig(o);
      const s = await asCliErrors(() => runEncap(inPath, outPath, cfg));
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : formatSummary(s));
    });
}
