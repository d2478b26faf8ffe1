// Runs nvo on the hosts of a test bed: each host's underlay address moves from the kernel to nvo (so
// the kernel neither answers ARP for it nor sends port-unreachable / RST for tunnel traffic), and one
// `nvo run` process per host attaches to the underlay veth and to the guest's veth (AF_PACKET with
// vnet_hdr), with a tunnel port of the chosen encapsulation to every other host.
// `underlay: 'socket'`: the kernel keeps the underlay address and nvo runs inside the host namespace
// (`ip netns exec`) with UDP sockets instead (config underlay.mode socket; `udp` picks native or
// node:dgram). A test bed made with guestLink 'tap' gets TAP guests (the guest's eth0 is the TAP).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ip } from './netns.ts';
import type { HostInfo, Testbed } from './testbed.ts';

const NVO = join(import.meta.dirname, '..', 'bin', 'nvo');

export interface NvoHostsOptions {
  encap: string;
  vni?: number;
  /** Guest MTU (leaves room for the encapsulation; software GSO lowers TCP's MSS anyway). */
  guestMtu?: number;
  extraTunnel?: Record<string, unknown>;
  /** UDP tunnels send guest superframes as UDP GSO superframes (underlay port `uso`; default false). */
  uso?: boolean;
  /** Remote VTEPs (default: every other host of the test bed). */
  vteps?: string[];
  /** Underlay mode (default raw: nvo owns the underlay address, AF_PACKET on ul0). */
  underlay?: 'raw' | 'socket';
  /** Socket mode: `nvo run --udp` (default auto). */
  udp?: 'auto' | 'native' | 'dgram';
  /** Extra environment for the nvo processes (e.g. NVO_NATIVE=off). */
  env?: Record<string, string>;
  /**
   * Raw underlay: nvo gets a MAC of its own on ul0 (underlay.mac, ownMac(i) for host i) instead of
   * sharing the veth's (default true). The host's IP stack then drops nvo's frames as another host's
   * at once; sharing the MAC made it route and drop each one (about 6 % of the CPU at 64-B rates).
   */
  ownMac?: boolean;
}

/** Host i's own underlay MAC: locally administered (02:…), "NVO" (4e:56:4f), unique within a bed. */
export const ownMac = (i: number): string =>
  `02:4e:56:4f:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

export interface NvoHosts {
  procs: ChildProcess[];
  /** What each nvo printed on stderr so far. */
  stderr: string[];
  sockets: string[];
  dir: string;
  stop(): Promise<void>;
}

export function hostConfig(tb: Testbed, h: HostInfo, o: NvoHostsOptions, socket: string): object {
  const vni = o.vni ?? 42;
  const guest = h.guestTapNetns
    ? { name: 'g1', backend: 'tap', device: 'eth0', netns: h.guestNs!, vni }
    : { name: 'g1', backend: 'af-packet', device: h.guestIf, netns: h.ns, vni };
  return {
    name: h.ns,
    control: { socket },
    underlay:
      o.underlay === 'socket'
        ? { mode: 'socket', mtu: tb.spec.mtu }
        : {
            ports: [{ name: 'ul0', device: h.underlayIf, netns: h.ns, uso: o.uso ?? false }],
            addresses: [`${h.underlayAddr}/24`],
            ...(o.ownMac !== false ? { mac: ownMac(tb.hosts.indexOf(h) + 1) } : {}),
          },
    guests: [guest],
    tunnels: [{ name: 'tun0', encap: o.encap, localIp: h.underlayAddr, ...o.extraTunnel }],
    vteps: { [vni]: o.vteps ?? tb.hosts.filter((x) => x !== h).map((x) => x.underlayAddr) },
  };
}

/** Starts nvo on every host of `tb`; resolves when every control socket is up. */
export async function startNvoHosts(tb: Testbed, o: NvoHostsOptions): Promise<NvoHosts> {
  const dir = mkdtempSync(join(tmpdir(), 'nvo-hosts-'));
  const procs: ChildProcess[] = [];
  const sockets: string[] = [];
  const stderr: string[] = [];
  // A process killed by a signal keeps exitCode null (signalCode says why): both mean "gone".
  const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
  const stop = async () => {
    for (const p of procs) if (alive(p)) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (alive(p) ? new Promise((r) => p.once('exit', r)) : null)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const h of tb.hosts) {
      if (o.underlay !== 'socket') ip(h.ns, 'addr', 'flush', 'dev', h.underlayIf);
      if (h.guestNs && o.guestMtu) ip(h.guestNs, 'link', 'set', 'eth0', 'mtu', String(o.guestMtu));
      const socket = join(dir, `${h.ns}.sock`);
      const file = join(dir, `${h.ns}.yaml`);
      writeFileSync(file, JSON.stringify(hostConfig(tb, h, o, socket)));
      const args = ['run', '--config', file];
      if (o.udp) args.push('--udp', o.udp);
      const p =
        o.underlay === 'socket'
          ? spawn('ip', ['netns', 'exec', h.ns, NVO, ...args], {
              stdio: ['ignore', 'ignore', 'pipe'],
              env: { ...process.env, ...o.env },
            })
          : spawn(NVO, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...o.env } });
      let err = '';
      const k = stderr.length;
      stderr.push('');
      p.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        stderr[k] = err;
      });
      procs.push(p);
      sockets.push(socket);
      for (let i = 0; i < 200 && !existsSync(socket); i++) {
        if (!alive(p)) throw new Error(`nvo on ${h.ns} exited: ${err.trim()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      if (!existsSync(socket)) throw new Error(`nvo on ${h.ns} did not start: ${err.trim()}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { procs, stderr, sockets, dir, stop };
}
