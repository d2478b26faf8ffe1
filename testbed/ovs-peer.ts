// Open vSwitch's userspace datapath (datapath_type=netdev) as a tunnel peer in one test-bed host
// namespace: this kernel has no openvswitch, geneve or gretap module, so OVS userspace is the only
// independent Geneve and GRE implementation we can run (reference/ovs-userspace.md §1–§3, §6).
//
//   guest eth0 ── gv0 [br-int: gv0, tun0 (vxlan|geneve|gre, key, remote_ip, local_ip)]
//                                          │ tnl_push / tnl_pop
//                     [br-phy: ul0, LOCAL (tap "br-phy", holds the underlay address)] ul0 ═══ wire
//
// Why this layout (ovs-userspace.md §2): OVS routes `remote_ip` with its own table, cached from the
// kernel routes of its netns; the route's device must be an OVS bridge, whose address becomes the
// outer source. So the host's underlay address moves from ul0 to br-phy's LOCAL port: the kernel's
// connected route `P/24 dev br-phy` is then all OVS needs (no ovs/route/add, no static ARP). Received
// tunnel frames match a pop rule on br-phy's MAC + IP + UDP port (or GRE) and re-enter br-int via tun0.
//
// One ovsdb-server + ovs-vswitchd per instance, every file (db, sockets, pidfiles, logs) in a private
// directory; clients reach the instance through OVS_RUNDIR etc. and never the system's own OVS.
// Stopping asks ovs-vswitchd to `exit --cleanup` (which deletes its persistent taps), waits by PID,
// SIGKILLs after a deadline, and removes the directory.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, ip, nsRun } from './netns.ts';

export const OVS_VSWITCHD = '/usr/sbin/ovs-vswitchd';
export const OVSDB_SERVER = '/usr/sbin/ovsdb-server';
export const OVS_VSCTL = '/usr/bin/ovs-vsctl';
export const OVS_APPCTL = '/usr/bin/ovs-appctl';
export const OVSDB_TOOL = '/usr/bin/ovsdb-tool';

/** Why an OVS userspace peer cannot run here ('' when it can). */
export function ovsUnavailable(): string {
  for (const p of [OVS_VSWITCHD, OVSDB_SERVER, OVS_VSCTL, OVS_APPCTL, OVSDB_TOOL])
    if (!existsSync(p)) return `${p} missing (Debian openvswitch-switch / openvswitch-common)`;
  return '';
}

export type OvsTunnelType = 'vxlan' | 'geneve' | 'gre';

export interface OvsPeerSpec {
  /** The host namespace ovs-vswitchd runs in. */
  ns: string;
  /** Underlay veth in `ns` (becomes a "system" port of br-phy: AF_PACKET, no vnet header). */
  underlayIf: string;
  /** This host's underlay address; moved from `underlayIf` to br-phy. */
  underlayAddr: string;
  prefixLen: number;
  /** The guest's veth end in `ns` (a system port of br-int). */
  guestIf: string;
  tunnel: {
    type: OvsTunnelType;
    remoteIp: string;
    /** VNI (vxlan, geneve) or GRE key: OVS's `options:key`. */
    key: number;
    /** options:dst_port (default: 4789 vxlan, 6081 geneve). */
    dstPort?: number;
    /** options:csum (outer UDP checksum / GRE checksum on transmit). */
    csum?: boolean;
    /**
     * More `options:` (e.g. { in_key: 'flow', out_key: 10752 } for NVGRE, whose receive key varies
     * with the FlowID byte); an in_key/out_key here replaces `key`.
     */
    options?: Record<string, string | number | boolean>;
  };
  /** Prefill OVS's tunnel neighbour cache (`tnl/arp/set`) instead of letting it ARP. */
  peerMac?: string;
}

export interface OvsPeer {
  spec: OvsPeerSpec;
  dir: string;
  /** ovs-vsctl against this instance (with --timeout so a dead ovs-vswitchd cannot hang a test). */
  vsctl(...args: string[]): string;
  /** ovs-appctl to this instance's ovs-vswitchd. */
  appctl(...args: string[]): string;
  /** Drop counters, datapath flows, neighbour cache and the log tail: what to print on failure. */
  diagnostics(): string;
  /** Idempotent; never throws. */
  stop(): void;
}

const STOP_WAIT_MS = 3000;

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 15_000): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      // stdout is a pipe: a daemon started with --detach closes its inherited stdio, so the call
      // returns when the parent has exited.
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      timeout: timeoutMs,
    });
  } catch (err) {
    const e = err as { stderr?: string | Buffer; message: string };
    throw new CommandError([cmd, ...args], e.stderr ? String(e.stderr) : e.message);
  }
}

function readPid(file: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 1 ? n : null;
  } catch {
    return null;
  }
}

/** Alive and not a zombie (a slow-reaping PID 1 keeps zombies visible to kill(0) for seconds). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself hold spaces or parentheses).
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function waitGone(pid: number, ms: number): boolean {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  return true;
}

/**
 * Starts ovsdb-server + ovs-vswitchd in `spec.ns`, builds br-phy / br-int and the tunnel port, and
 * moves the underlay address onto br-phy. On any failure stops what it started and rethrows.
 */
export function startOvsPeer(spec: OvsPeerSpec): OvsPeer {
  const dir = mkdtempSync(join(tmpdir(), 'nvo-ovs-'));
  const env = {
    ...process.env,
    OVS_RUNDIR: dir,
    OVS_LOGDIR: dir,
    OVS_DBDIR: dir,
    OVS_SYSCONFDIR: dir,
    OVS_PKGDATADIR: '/usr/share/openvswitch',
  };
  const db = join(dir, 'conf.db');
  const dbSock = `unix:${join(dir, 'db.sock')}`;
  const inNs = (cmd: string, args: string[]) => exec('ip', ['netns', 'exec', spec.ns, cmd, ...args], env);
  const vsctl = (...args: string[]) => exec(OVS_VSCTL, [`--db=${dbSock}`, '--timeout=10', ...args], env);
  const appctl = (...args: string[]) =>
    exec(OVS_APPCTL, ['-t', join(dir, 'ovs-vswitchd.ctl'), '--timeout=10', ...args], env);
  let stopped = false;

  const stopDaemon = (name: 'ovs-vswitchd' | 'ovsdb-server') => {
    const pid = readPid(join(dir, `${name}.pid`));
    if (pid === null || !alive(pid)) return;
    try {
      // --cleanup: ovs-vswitchd deletes the taps it created (br-phy, br-int, ovs-netdev).
      const args = name === 'ovs-vswitchd' ? ['exit', '--cleanup'] : ['exit'];
      exec(OVS_APPCTL, ['-t', join(dir, `${name}.ctl`), '--timeout=3', ...args], env, 5000);
    } catch {
      // fall through to the signal below
    }
    if (!waitGone(pid, STOP_WAIT_MS)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      waitGone(pid, STOP_WAIT_MS);
    }
  };

  const stop = () => {
    if (stopped) return;
    stopped = true;
    stopDaemon('ovs-vswitchd');
    stopDaemon('ovsdb-server');
    rmSync(dir, { recursive: true, force: true });
  };

  const diagnostics = () => {
    const parts: string[] = [];
    const tryRun = (label: string, f: () => string) => {
      try {
        parts.push(`--- ${label}\n${f().trim()}`);
      } catch (e) {
        parts.push(`--- ${label}: ${(e as Error).message}`);
      }
    };
    tryRun('coverage (drops)', () =>
      appctl('coverage/show')
        .split('\n')
        .filter((l) => /drop|error|fail/i.test(l))
        .join('\n'),
    );
    tryRun('dpctl/dump-flows', () => appctl('dpctl/dump-flows'));
    tryRun('tnl/neigh/show', () => appctl('tnl/neigh/show'));
    tryRun('ovs/route/show', () => appctl('ovs/route/show'));
    tryRun('ovs-vsctl show', () => vsctl('show'));
    tryRun('log tail', () =>
      readFileSync(join(dir, 'ovs-vswitchd.log'), 'utf8').split('\n').slice(-30).join('\n'),
    );
    return parts.join('\n');
  };

  try {
    exec(OVSDB_TOOL, ['create', db, '/usr/share/openvswitch/vswitch.ovsschema'], env);
    inNs(OVSDB_SERVER, [
      db,
      `--remote=p${dbSock}`,
      `--pidfile=${join(dir, 'ovsdb-server.pid')}`,
      `--unixctl=${join(dir, 'ovsdb-server.ctl')}`,
      '--detach',
      `--log-file=${join(dir, 'ovsdb-server.log')}`,
      '-vconsole:off',
    ]);
    vsctl('--no-wait', 'init');
    inNs(OVS_VSWITCHD, [
      dbSock,
      `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`,
      `--unixctl=${join(dir, 'ovs-vswitchd.ctl')}`,
      '--detach',
      `--log-file=${join(dir, 'ovs-vswitchd.log')}`,
      '-vconsole:off',
    ]);
    const t = spec.tunnel;
    const opts = [`options:remote_ip=${t.remoteIp}`, `options:local_ip=${spec.underlayAddr}`];
    const extra = t.options ?? {};
    if (!('in_key' in extra) && !('out_key' in extra)) opts.push(`options:key=${t.key}`);
    if (t.dstPort !== undefined) opts.push(`options:dst_port=${t.dstPort}`);
    if (t.csum !== undefined) opts.push(`options:csum=${t.csum}`);
    for (const [k, v] of Object.entries(extra)) opts.push(`options:${k}=${v}`);
    vsctl(
      '--',
      'add-br',
      'br-phy',
      '--',
      'set',
      'bridge',
      'br-phy',
      'datapath_type=netdev',
      '--',
      'add-port',
      'br-phy',
      spec.underlayIf,
      '--',
      'add-br',
      'br-int',
      '--',
      'set',
      'bridge',
      'br-int',
      'datapath_type=netdev',
      '--',
      'add-port',
      'br-int',
      spec.guestIf,
      '--',
      'add-port',
      'br-int',
      'tun0',
      '--',
      'set',
      'interface',
      'tun0',
      `type=${t.type}`,
      ...opts,
    );
    const err = vsctl('get', 'interface', 'tun0', 'error').trim();
    if (err !== '[]') throw new Error(`OVS refused tun0: ${err}`);
    ip(spec.ns, 'addr', 'flush', 'dev', spec.underlayIf);
    ip(spec.ns, 'addr', 'add', `${spec.underlayAddr}/${spec.prefixLen}`, 'dev', 'br-phy');
    ip(spec.ns, 'link', 'set', 'br-phy', 'up');
    if (spec.peerMac) appctl('tnl/arp/set', 'br-phy', t.remoteIp, spec.peerMac);
  } catch (e) {
    stop();
    throw e;
  }
  return { spec, dir, vsctl, appctl, diagnostics, stop };
}

/**
 * Receive-queue drops of every AF_PACKET socket in `ns` (`ss -0 -m`: skmem d = sk_drops), as
 * "dev(process) N". OVS system ports read with the default 208 KiB receive buffer (212992 =
 * net.core.rmem_default) and one poll thread, so a TCP burst overflows them (ovs-userspace.md §5):
 * this says on which side of a link the loss behind TCP retransmissions happened.
 */
export function packetSocketDrops(ns: string): string[] {
  const out: string[] = [];
  for (const line of nsRun(ns, '/usr/bin/ss', ['-0', '-a', '-m', '-p']).split('\n')) {
    const dev = line.match(/\*:(\S+)\s/);
    const proc = line.match(/users:\(\("([^"]+)"/);
    const drops = line.match(/skmem:\([^)]*\bd(\d+)\)/);
    if (dev && drops) out.push(`${dev[1]}(${proc?.[1] ?? '?'}) ${drops[1]}`);
  }
  return out;
}
