// Shared pieces of the namespace interop tests that drive `nvo run` processes: ping between guests,
// `nvo stats` over a control socket, and a tcpdump capture of the underlay wire read back with tshark.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { TSHARK } from '../harness/tools.ts';

const run = promisify(execFile);
const NVO = new URL('../../bin/nvo', import.meta.url).pathname;

/** True when `count` pings from namespace `ns` to `addr` all come back. */
export async function ping(ns: string, addr: string, count = 3): Promise<boolean> {
  try {
    const r = await run('ip', [
      'netns',
      'exec',
      ns,
      'ping',
      '-c',
      String(count),
      '-i',
      '0.2',
      '-W',
      '2',
      addr,
    ]);
    return / 0% packet loss/.test(r.stdout);
  } catch {
    return false;
  }
}

/** Pings until one round succeeds (ARP, MAC learning and re-attachment take a moment). */
export async function pingEventually(ns: string, addr: string, tries = 5): Promise<boolean> {
  for (let i = 0; i < tries; i++) if (await ping(ns, addr, 2)) return true;
  return false;
}

export interface IoPortStats {
  name: string;
  kind: string;
  state: string;
  gone?: number;
  reattached?: number;
  counters: Record<string, number>;
}

export interface NvoStats {
  counters: Record<string, number>;
  ports: { name: string; rxPackets: number; txPackets: number; txDrops: number }[];
  io: { ports: IoPortStats[] };
}

/** `nvo stats --json` against a running switch. */
export async function nvoStats(socket: string): Promise<NvoStats> {
  const r = await run(NVO, ['stats', '--socket', socket, '--json']);
  return JSON.parse(r.stdout) as NvoStats;
}

export interface NvoShow {
  underlayMac: string;
  neighbours: { ip: string; mac: string; state: string }[];
}

/** `nvo show --json` against a running switch. */
export async function nvoShow(socket: string): Promise<NvoShow> {
  const r = await run(NVO, ['show', '--socket', socket, '--json']);
  return JSON.parse(r.stdout) as NvoShow;
}

export function ioPort(s: NvoStats, name: string): IoPortStats {
  const p = s.io.ports.find((x) => x.name === name || x.name.startsWith(name));
  if (!p) throw new Error(`no io port ${name} in ${JSON.stringify(s.io.ports.map((x) => x.name))}`);
  return p;
}

/** tcpdump on `dev` in `ns` (whole frames unless `snaplen`) until `stop()`; resolves once it listens. */
export async function capture(
  ns: string,
  dev: string,
  file: string,
  snaplen = 0,
  direction: 'in' | 'out' | 'inout' = 'inout',
): Promise<{ stop(): Promise<void> }> {
  const p: ChildProcess = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'tcpdump',
      '-i',
      dev,
      '-Q',
      direction,
      '-s',
      String(snaplen),
      '-U',
      '-w',
      file,
      'ip or ip6',
    ],
    {
      stdio: 'ignore',
    },
  );
  await new Promise((r) => setTimeout(r, 700));
  return {
    async stop() {
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill('SIGINT');
      await new Promise((r) => p.once('exit', r));
    },
  };
}

/** The frames of a capture as tshark's JSON layers (at most `max`). */
export async function tsharkLayers(
  file: string,
  max = 400,
  prefs: string[] = [],
): Promise<Record<string, unknown>[]> {
  const args = ['-r', file, '-T', 'json', '--no-duplicate-keys', '-n', '-c', String(max)];
  for (const p of prefs) args.push('-o', p);
  const { stdout } = await run(TSHARK, args, { maxBuffer: 256 << 20 });
  return (JSON.parse(stdout) as { _source: { layers: Record<string, unknown> } }[]).map(
    (f) => f._source.layers,
  );
}
