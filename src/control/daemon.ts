// `nvo run`: a switch on real ports. Opens the back ends (TAP / AF_PACKET through the native addon),
// builds the switch from the config, polls every port (uv_poll: idle costs nothing), flushes output
// after each burst, ticks timers once a second, and serves the control socket. Stops on SIGINT/SIGTERM.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import type { Switch } from '../datapath/switch.ts';
import { AfPacketPort } from '../io/af-packet.ts';
import type { IoBackend } from '../io/io-backend.ts';
import { Poller } from '../io/poller.ts';
import { TapPort } from '../io/tap.ts';
import type { Batch } from '../packet/batch.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { buildSwitch, type PortRequest } from './build-switch.ts';
import { type Config, defaultSocket } from './config.ts';
import { serveControl } from './control-server.ts';

export interface Running {
  sw: Switch;
  backends: IoBackend[];
  server: Server;
  socket: string;
  stop(): void;
}

function deviceMac(dev: string, netns?: string): Uint8Array | undefined {
  try {
    const text = netns
      ? execFileSync('ip', ['netns', 'exec', netns, 'cat', `/sys/class/net/${dev}/address`], {
          encoding: 'utf8',
        })
      : readFileSync(`/sys/class/net/${dev}/address`, 'utf8');
    return Uint8Array.from(
      text
        .trim()
        .split(':')
        .map((x) => Number.parseInt(x, 16)),
    );
  } catch {
    return undefined;
  }
}

export function startDaemon(cfg: Config): Running {
  const backends: IoBackend[] = [];
  const byName = new Map<string, IoBackend>();
  const open = (r: PortRequest) => {
    // Superframe slots: with vnet_hdr the kernel hands us 64 KB TSO/GRO frames.
    const pool = new Pool(r.offload ? 512 : 2048, r.offload ? SUPER_SLOT : 2048);
    const netns = r.netns ? `/run/netns/${r.netns}` : undefined;
    const be: IoBackend =
      r.backend === 'tap'
        ? new TapPort({ name: r.device, pool, netns, vnetHdr: true, offloads: r.offload ? undefined : 0 })
        : new AfPacketPort({ ifname: r.device, pool, netns, vnetHdr: true });
    backends.push(be);
    byName.set(r.name, be);
    return Object.assign(be, { mac: r.role === 'underlay' ? deviceMac(r.device, r.netns) : undefined });
  };
  let sw: Switch;
  try {
    sw = buildSwitch(cfg, open);
  } catch (e) {
    for (const b of backends) b.close();
    throw e;
  }
  const poller = new Poller();
  for (const [name, be] of byName) {
    const port = sw.port(name)!;
    poller.add(be, (_p: IoBackend, batch: Batch) => {
      sw.receive(port.no, batch, Date.now());
      sw.flush();
    });
  }
  const timer = setInterval(() => sw.tick(Date.now()), 1000);
  const socket = defaultSocket(cfg);
  const server = serveControl(sw, socket);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    poller.close();
    server.close();
    rmSync(socket, { force: true });
    for (const b of backends) b.close();
  };
  return { sw, backends, server, socket, stop };
}
