// Runs nvo on the hosts of a test bed: each host's underlay address moves from the kernel to nvo (so
// the kernel neither answers ARP for it nor sends port-unreachable / RST for tunnel traffic), and one
// `nvo run` process per host attaches to the underlay veth and to the guest's veth (AF_PACKET with
// vnet_hdr), with a tunnel port of the chosen encapsulation to every other host.
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
  /** UDP tunnels send guest superframes as UDP GSO superframes (default true: the peers are nvo). */
  uso?: boolean;
  /** Remote VTEPs (default: every other host of the test bed). */
  vteps?: string[];
}

export interface NvoHosts {
  procs: ChildProcess[];
  sockets: string[];
  dir: string;
  stop(): Promise<void>;
}

export function hostConfig(tb: Testbed, h: HostInfo, o: NvoHostsOptions, socket: string): object {
  const vni = o.vni ?? 42;
  return {
    name: h.ns,
    control: { socket },
    underlay: {
      ports: [{ name: 'ul0', device: h.underlayIf, netns: h.ns }],
      addresses: [`${h.underlayAddr}/24`],
    },
    guests: [{ name: 'g1', backend: 'af-packet', device: h.guestIf, netns: h.ns, vni }],
    tunnels: [{ name: 'tun0', encap: o.encap, localIp: h.underlayAddr, ...o.extraTunnel }],
    vteps: { [vni]: o.vteps ?? tb.hosts.filter((x) => x !== h).map((x) => x.underlayAddr) },
  };
}

/** Starts nvo on every host of `tb`; resolves when every control socket is up. */
export async function startNvoHosts(tb: Testbed, o: NvoHostsOptions): Promise<NvoHosts> {
  const dir = mkdtempSync(join(tmpdir(), 'nvo-hosts-'));
  const procs: ChildProcess[] = [];
  const sockets: string[] = [];
  // A process killed by a signal keeps exitCode null (signalCode says why): both mean "gone".
  const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
  const stop = async () => {
    for (const p of procs) if (alive(p)) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (alive(p) ? new Promise((r) => p.once('exit', r)) : null)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const h of tb.hosts) {
      ip(h.ns, 'addr', 'flush', 'dev', h.underlayIf);
      if (h.guestNs && o.guestMtu) ip(h.guestNs, 'link', 'set', 'eth0', 'mtu', String(o.guestMtu));
      const socket = join(dir, `${h.ns}.sock`);
      const file = join(dir, `${h.ns}.yaml`);
      writeFileSync(file, JSON.stringify(hostConfig(tb, h, o, socket)));
      const p = spawn(NVO, ['run', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
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
  return { procs, sockets, dir, stop };
}
