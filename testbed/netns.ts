// Thin wrappers over iproute2 / ethtool for the network-namespace test bed. Synchronous on purpose:
// set-up and tear-down are control-plane steps and tests want them ordered. Every command that fails
// throws with the command line and its stderr, so a broken `up` says exactly which step broke.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

export const IP = '/usr/sbin/ip';
export const ETHTOOL = '/usr/sbin/ethtool';
export const BRIDGE = '/usr/sbin/bridge';

export class CommandError extends Error {
  readonly stderr: string;
  constructor(cmd: string[], stderr: string) {
    super(`${cmd.join(' ')}: ${stderr.trim() || 'failed'}`);
    this.stderr = stderr;
  }
}

/** Runs a command, returns stdout; throws CommandError with stderr on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 20_000,
      input: opts.input,
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string | Buffer; message: string };
    throw new CommandError([cmd, ...args], e.stderr ? String(e.stderr) : e.message);
  }
}

/** `ip …` in the root namespace, or `ip -n NS …` inside one. */
export function ip(ns: string | null, ...args: string[]): string {
  return run(IP, ns ? ['-n', ns, ...args] : args);
}

/** Runs any program inside a namespace (`ip netns exec`). */
export function nsRun(ns: string, cmd: string, args: string[], opts: { timeoutMs?: number } = {}): string {
  return run(IP, ['netns', 'exec', ns, cmd, ...args], opts);
}

/** Like nsRun, without blocking the event loop (for peers of a switch running in this process). */
export function nsRunAsync(ns: string, cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((res, rej) => {
    const c = spawn(IP, ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res(out);
      else
        rej(
          new CommandError([IP, 'netns', 'exec', ns, cmd, ...args], err || out || `exit ${code ?? signal}`),
        );
    });
  });
}

/** Starts a long-running program inside a namespace (iperf3 server, ping…); the caller kills it. */
export function nsSpawn(ns: string, cmd: string, args: string[]): ChildProcess {
  return spawn(IP, ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function netnsPath(ns: string): string {
  return `/run/netns/${ns}`;
}

export function netnsExists(ns: string): boolean {
  return existsSync(netnsPath(ns));
}

export function netnsList(): string[] {
  return run(IP, ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.length > 0);
}

export function netnsAdd(ns: string): void {
  ip(null, 'netns', 'add', ns);
  ip(ns, 'link', 'set', 'lo', 'up');
}

/** Deletes a namespace if it exists (idempotent); its devices (veth ends, bridges, vxlan) go with it. */
export function netnsDel(ns: string): void {
  if (!netnsExists(ns)) return;
  try {
    ip(null, 'netns', 'del', ns);
  } catch (err) {
    if (netnsExists(ns)) throw err;
  }
}

/** A veth pair whose ends are created directly inside their namespaces (no name clash in the root). */
export function vethPair(nsA: string, nameA: string, nsB: string, nameB: string, mtu = 1500): void {
  ip(
    null,
    'link',
    'add',
    nameA,
    'netns',
    nsA,
    'mtu',
    String(mtu),
    'type',
    'veth',
    'peer',
    'name',
    nameB,
    'netns',
    nsB,
    'mtu',
    String(mtu),
  );
}

/** `ethtool -K dev feature on|off …` inside a namespace. */
export function setOffloads(ns: string, dev: string, features: Record<string, 'on' | 'off'>): void {
  const args = Object.entries(features).flat();
  if (args.length > 0) nsRun(ns, ETHTOOL, ['-K', dev, ...args]);
}

/** Offload features as ethtool -k prints them ("tcp-segmentation-offload: on" → {…: 'on'}). */
export function getOffloads(ns: string, dev: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of nsRun(ns, ETHTOOL, ['-k', dev]).split('\n')) {
    const m = line.match(/^\s*([a-z0-9_-]+):\s+(on|off)/);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * What kind of device `dev` is, as the kernel reports it (`ip -d -j link`): 'veth', 'bridge', …, and
 * for a tun device its mode, 'tap' or 'tun'; '' when the device has no link info (loopback).
 */
export function linkKind(ns: string, dev: string): string {
  const [l] = JSON.parse(ip(ns, '-d', '-j', 'link', 'show', 'dev', dev)) as {
    linkinfo?: { info_kind?: string; info_data?: { type?: string } };
  }[];
  const kind = l?.linkinfo?.info_kind ?? '';
  return kind === 'tun' ? (l?.linkinfo?.info_data?.type ?? kind) : kind;
}

/**
 * A name unique to this process and run: prefix + pid (base 36) + 4 random hex digits, e.g.
 * "nvot1k3a9f0". Short, because namespace names end up in interface names in some tools' output.
 */
export function uniqueName(prefix = 'nvot'): string {
  return `${prefix}${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Why namespace tests cannot run here ('' when they can). */
export function testbedUnavailable(): string {
  if (!isRoot()) return 'needs root (network namespaces, veth, TAP)';
  if (!existsSync(IP)) return `${IP} missing (iproute2)`;
  return '';
}

export function have(cmd: string): boolean {
  return existsSync(cmd);
}
