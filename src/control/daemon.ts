// `nvo run`: a switch on real ports. Opens the back ends (TAP / AF_PACKET through the native addon;
// in underlay mode socket, one UDP socket per tunnel address: native UDP_SEGMENT/UDP_GRO, or node:dgram
// when the addon is unavailable or `udp: 'dgram'` forces it), builds the switch from the config, polls
// every port (uv_poll: idle costs nothing), flushes output after each burst, ticks timers once a
// second, and serves the control socket. Stops on SIGINT/SIGTERM.
//
// A device that vanishes under a running switch (`ip link del`) is not fatal: its back end reports
// errors (AF_PACKET: ENETDOWN, then ENXIO on send; TAP: EBADFD), the once-a-second watchdog
// (port-watch.ts) closes it, counts `port-gone`, drops what the switch sends there (the port's tx
// drops), and re-opens it when a device of that name exists again (`port-reattached`). The other
// ports and the control socket go on serving.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { clockMs } from '../datapath/clock.ts';
import { SocketInput } from '../datapath/socket-underlay.ts';
import type { Switch } from '../datapath/switch.ts';
import { AfPacketPort } from '../io/af-packet.ts';
import type { IoBackend } from '../io/io-backend.ts';
import { isRoot, loadNative, nativeWhy } from '../io/native.ts';
import { Poller } from '../io/poller.ts';
import { TapPort } from '../io/tap.ts';
import { fallbackNotice, UdpDgramPort } from '../io/udp-dgram.ts';
import { UdpSocketPort } from '../io/udp-socket.ts';
import type { Batch } from '../packet/batch.ts';
import { Pool, SMALL_SLOT, SUPER_SLOT } from '../packet/pool.ts';
import { buildSwitch, type PortRequest } from './build-switch.ts';
import { type Config, defaultSocket } from './config.ts';
import { ioStats, serveControl } from './control-server.ts';
import { stopGcWatch, watchGc } from './gc-watch.ts';
import { PortWatch } from './port-watch.ts';

export interface Running {
  sw: Switch;
  backends: IoBackend[];
  server: Server;
  socket: string;
  /** Device back ends watched for vanishing (guest and raw underlay ports). */
  watch: PortWatch;
  stop(): void;
}

export interface DaemonOptions {
  /**
   * UDP sockets of underlay mode socket: 'native' (UDP_SEGMENT/UDP_GRO through the addon), 'dgram'
   * (node:dgram), or 'auto' (native when the addon loads). Default 'auto'.
   */
  udp?: 'auto' | 'native' | 'dgram';
  /** What forced udp 'dgram' (for the notice), e.g. 'forced by NVO_UDP=dgram'. */
  forcedBy?: string;
  /** Sockets opened beforehand (launchDaemon's node:dgram ports), by PortRequest name. */
  sockets?: Map<string, IoBackend>;
}

const macBytes = (s: string) => Uint8Array.from(s.split(':').map((x) => Number.parseInt(x, 16)));

function deviceMac(dev: string, netns?: string): Uint8Array | undefined {
  try {
    const text = netns
      ? execFileSync('ip', ['netns', 'exec', netns, 'cat', `/sys/class/net/${dev}/address`], {
          encoding: 'utf8',
        })
      : readFileSync(`/sys/class/net/${dev}/address`, 'utf8');
    return macBytes(text.trim());
  } catch {
    return undefined;
  }
}

/**
 * Checks what the config needs against what this process can do, opens node:dgram sockets when they
 * are to be used, and starts the switch. `notice` is the one line to print about a fallback ('' when
 * none). Errors say which port needs what.
 */
export async function launchDaemon(
  cfg: Config,
  o: DaemonOptions = {},
): Promise<{ running: Running; notice: string }> {
  const native = loadNative();
  const root = isRoot();
  const devices = [
    ...cfg.guests.filter((g) => g.backend !== 'udp').map((g) => `guest ${g.name} (${g.backend})`),
    ...cfg.underlay.ports.map((u) => `underlay port ${u.name} (af-packet)`),
  ];
  if (devices.length > 0 && (!native || !root)) {
    const why = !native
      ? `native I/O unavailable: ${nativeWhy()}`
      : 'this process is not root: no CAP_NET_ADMIN/CAP_NET_RAW';
    throw new Error(
      `${devices.join(', ')}: TAP and AF_PACKET need the native addon and root (${why}); nvo has no pure-Node back end for these (a guest can be backend udp)`,
    );
  }
  const udp = o.udp ?? 'auto';
  if (udp === 'native' && !native) throw new Error(`--udp native: native I/O unavailable: ${nativeWhy()}`);
  const dgram =
    cfg.underlay.mode === 'socket' &&
    cfg.tunnels.length > 0 &&
    (udp === 'dgram' || (udp === 'auto' && !native));
  if (dgram && cfg.underlay.netns)
    throw new Error(
      `underlay.netns ${cfg.underlay.netns}: node:dgram opens sockets only in nvo's own namespace; run nvo inside it (ip netns exec ${cfg.underlay.netns} nvo run …) without underlay.netns`,
    );
  const notice = dgram ? fallbackNotice(udp === 'dgram' ? (o.forcedBy ?? 'forced by --udp dgram') : '') : '';
  // node:dgram binds asynchronously: its sockets are opened here, before the (synchronous) build.
  const sockets = new Map<string, IoBackend>();
  let what = '';
  try {
    for (const g of cfg.guests)
      if (g.backend === 'udp') {
        what = `guest ${g.name}: ${g.device}`;
        const local = splitHostPort(g.device);
        sockets.set(
          g.name,
          await UdpDgramPort.open({
            ...local,
            pool: new Pool(1024, SMALL_SLOT),
            peer: splitHostPort(g.peer!),
          }),
        );
      }
    if (dgram)
      for (const r of socketRequests(cfg)) {
        what = `UDP socket ${r.device}`;
        const soe = cfg.tunnels.some((t) => t.encap === 'vxlan-soe');
        const pool = new Pool(2048, soe ? SUPER_SLOT : SMALL_SLOT);
        sockets.set(
          r.name,
          await UdpDgramPort.open({ address: r.socket!.address, port: r.socket!.port, pool }),
        );
      }
  } catch (e) {
    for (const b of sockets.values()) b.close();
    throw new Error(`${what}: ${(e as Error).message}`);
  }
  return { running: startDaemon(cfg, { ...o, sockets }), notice };
}

/** '10.0.0.1:5000' or '[fd00::1]:5000' (validated by the config schema). */
function splitHostPort(s: string): { address: string; port: number } {
  const at = s.lastIndexOf(':');
  return { address: s.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(at + 1)) };
}

/** The socket requests buildSwitch will make (to open node:dgram sockets before it runs). */
function socketRequests(cfg: Config): PortRequest[] {
  const out: PortRequest[] = [];
  buildSwitch({ ...cfg, guests: [], underlay: { ...cfg.underlay, ports: [] }, flows: [] }, (r) => {
    if (r.role === 'socket') out.push(r);
    return { txBurst: (b) => b.count };
  });
  return out;
}

export function startDaemon(cfg: Config, o: DaemonOptions = {}): Running {
  const backends: IoBackend[] = [];
  const byName = new Map<string, IoBackend>();
  const requests = new Map<string, PortRequest>();
  const keep = <B extends IoBackend>(r: PortRequest, be: B): B => {
    backends.push(be);
    requests.set(r.name, r);
    byName.set(r.name, be);
    return be;
  };
  // underlay.mac other than the device's: the raw underlay ports accept frames to it (af-packet.ts mac).
  const own = cfg.underlay.mac ? macBytes(cfg.underlay.mac) : undefined;
  const ownMacFor = (dev: Uint8Array | undefined) =>
    own && !dev?.every((x, i) => x === own[i]) ? own : undefined;
  const open = (r: PortRequest): IoBackend & { mac?: Uint8Array } => {
    if (r.role === 'guest' && r.backend === 'udp') {
      const be = o.sockets?.get(r.name);
      if (!be)
        throw new Error(
          `guest ${r.name}: backend udp is opened by launchDaemon (node:dgram binds asynchronously)`,
        );
      return keep(r, be);
    }
    if (r.role === 'socket') {
      const be =
        o.sockets?.get(r.name) ??
        new UdpSocketPort({
          address: r.socket!.address,
          port: r.socket!.port,
          // UDP_GRO reads are up to 64 KB: superframe slots.
          pool: new Pool(256, SUPER_SLOT),
          netns: r.netns ? `/run/netns/${r.netns}` : undefined,
        });
      return keep(r, be);
    }
    const mac = r.role === 'underlay' ? deviceMac(r.device, r.netns) : undefined;
    const be = keep(r, openDevice(r, ownMacFor(mac)));
    return Object.assign(be, { mac });
  };
  let sw: Switch;
  try {
    sw = buildSwitch(cfg, open);
  } catch (e) {
    for (const b of backends) b.close();
    if (o.sockets) for (const b of o.sockets.values()) b.close();
    throw e;
  }
  const poller = new Poller();
  const handlerFor = (name: string): ((p: IoBackend, b: Batch) => void) => {
    const r = requests.get(name)!;
    if (r.role === 'socket') {
      const input = new SocketInput(
        sw,
        r.socket!.tunnels.map((t) => sw.port(t)!),
      );
      return (_p, batch) => {
        input.receive(batch, clockMs());
        sw.flush();
      };
    }
    const port = sw.port(name)!;
    return (_p, batch) => {
      sw.receive(port.no, batch, clockMs());
      sw.flush();
    };
  };
  const handlers = new Map<string, (p: IoBackend, b: Batch) => void>();
  for (const [name, be] of byName) {
    const h = handlerFor(name);
    handlers.set(name, h);
    poller.add(be, h);
  }
  const watch = new PortWatch(sw, poller);
  for (const [name, be] of byName) {
    const r = requests.get(name)!;
    // The switch uses the underlay device's own MAC (no underlay.mac): follow it when it changes.
    const follow = r.role === 'underlay' && !own ? (be as { mac?: Uint8Array }).mac : undefined;
    if (r.role !== 'socket' && r.backend !== 'udp')
      watch.add(
        name,
        r,
        be,
        handlers.get(name)!,
        () => openDevice(r, r.role === 'underlay' ? ownMacFor(deviceMac(r.device, r.netns)) : undefined),
        follow,
      );
  }
  const timer = setInterval(() => {
    sw.tick(clockMs());
    watch.tick();
  }, 1000);
  const socket = defaultSocket(cfg);
  watchGc();
  const server = serveControl(sw, socket);
  ioStats.set(sw, () => ({
    ports: [...byName].map(
      ([name]) => watch.describe(name) ?? { name, ...describeBackend(byName.get(name)!) },
    ),
  }));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    stopGcWatch();
    poller.close();
    server.close();
    rmSync(socket, { force: true });
    watch.close();
    for (const b of backends) b.close();
  };
  return { sw, backends, server, socket, watch, stop };
}

function describeBackend(be: IoBackend): Record<string, unknown> {
  return { backend: be.name, kind: be.kind, state: 'up', counters: be.counters.snapshot() };
}

/**
 * A guest or raw-underlay device back end (TAP or AF_PACKET with vnet_hdr); `mac`: nvo's own. Raw
 * underlay ports read IPv4 datagrams reassembled by the kernel (defrag: VXLAN-SOE's fragments) and,
 * with `uso`, send runs of small same-flow datagrams as one UDP GSO superframe (packUdp).
 */
function openDevice(r: PortRequest, mac?: Uint8Array): IoBackend {
  // Superframe slots: with vnet_hdr the kernel hands us 64 KB TSO/GRO frames.
  const pool = new Pool(r.offload ? 512 : 2048, r.offload ? SUPER_SLOT : 2048);
  const netns = r.netns ? `/run/netns/${r.netns}` : undefined;
  return r.backend === 'tap'
    ? new TapPort({ name: r.device, pool, netns, vnetHdr: true, offloads: r.offload ? undefined : 0 })
    : new AfPacketPort({
        ifname: r.device,
        pool,
        netns,
        vnetHdr: true,
        mac,
        packUdp: r.uso === true,
        defrag: r.role === 'underlay',
      });
}
