// The local control channel of a running switch (as ovs-appctl's unix socket): one JSON object per
// line each way. `nvo flows|stats|show|trace` are its clients.
//
//   → {"cmd":"flows.add","flow":"priority=10,in_port=1,actions=output:2"}
//   ← {"ok":true,"result":…}  or  {"ok":false,"error":"…"}
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { clockMs } from '../datapath/clock.ts';
import { packetIns } from '../datapath/packet-in.ts';
import { KIND_NAMES } from '../datapath/port.ts';
import type { Switch } from '../datapath/switch.ts';
import { OFPP_ANY } from '../flow/actions.ts';
import { LEVEL_NAMES } from '../flow/cache.ts';
import { formatFlow } from '../flow/ofctl-format.ts';
import { parseFlow } from '../flow/ofctl-parse.ts';
import { fromHex } from '../wire/bytes.ts';
import { gcStats } from './gc-watch.ts';
import { subscribe } from './packet-in-feed.ts';

export type Request =
  | { cmd: 'flows.add'; flow: string }
  | { cmd: 'flows.mod'; flow: string; strict?: boolean }
  | { cmd: 'flows.del'; flow?: string; strict?: boolean }
  | { cmd: 'flows.dump' }
  | { cmd: 'stats' }
  | { cmd: 'show' }
  | { cmd: 'trace'; inPort: string | number; hex: string }
  /** Subscribe: packet-in records follow as JSON lines (packet-in-feed.ts); `nvo monitor`. */
  | { cmd: 'monitor'; invalidTtl?: boolean };

/** Per-switch I/O state for `nvo stats` (back ends, their counters, vanished devices): set by the daemon. */
export const ioStats = new WeakMap<Switch, () => unknown>();

/** Handles one request against the switch (also used directly by tests and the in-process demo). */
export function handle(sw: Switch, req: Request, now = clockMs()): unknown {
  const opts = { portByName: sw.portByName };
  const fmt = { portName: (n: number) => sw.port(n)?.name };
  switch (req.cmd) {
    case 'flows.add': {
      const r = sw.tables.apply('add', parseFlow(req.flow, opts), now);
      if (r.error) throw new Error(`${r.error.code}: ${r.error.message}`);
      return null;
    }
    case 'flows.mod': {
      const r = sw.tables.apply(
        req.strict ? 'modify_strict' : 'modify',
        parseFlow(req.flow, opts, 'modify'),
        now,
      );
      if (r.error) throw new Error(`${r.error.code}: ${r.error.message}`);
      return null;
    }
    case 'flows.del': {
      const spec = parseFlow(req.flow ?? '', opts, 'delete');
      // OpenFlow: a delete that names no table deletes from every table.
      if (!/(^|,)\s*table\s*=/.test(req.flow ?? '')) spec.table = 255;
      const r = sw.tables.apply(req.strict ? 'delete_strict' : 'delete', spec, now);
      if (r.error) throw new Error(`${r.error.code}: ${r.error.message}`);
      return { deleted: r.removed.length };
    }
    case 'flows.dump':
      return sw.tables.dump().map((e) => {
        const text = formatFlow(
          {
            table: e.table,
            priority: e.priority,
            match: e.match,
            cookie: 0n, // printed in front, as ovs-ofctl dump-flows does
            cookieMask: 0n,
            idleTimeout: e.idleTimeout,
            hardTimeout: e.hardTimeout,
            importance: e.importance,
            flags: e.flags,
            outPort: OFPP_ANY,
            outGroup: OFPP_ANY,
            actions: e.actions,
          },
          fmt,
        );
        const secs = ((now - e.created) / 1000).toFixed(3);
        return `cookie=0x${e.cookie.toString(16)}, duration=${secs}s, table=${e.table}, n_packets=${e.packets}, n_bytes=${e.bytes}, ${text.replace(/^table:\d+ /, '')}`;
      });
    case 'stats':
      return {
        counters: sw.counters.snapshot(),
        /** Garbage collections since start and the heap in use (gc-watch.ts). */
        process: { gc: gcStats() },
        cache: {
          emcHits: sw.cache.emcHits,
          emcBypass: sw.cache.emcBypass,
          emcSkipped: sw.cache.emcSkipped,
          megaflowHits: sw.cache.megaflowHits,
          upcalls: sw.cache.upcalls,
          megaflows: sw.cache.megaflowCount,
          flushes: sw.cache.flushes,
          invalidated: sw.cache.invalidated,
        },
        ports: [...sw.ports.values()].map((p) => ({
          no: p.no,
          name: p.name,
          rxPackets: p.rxPackets,
          rxBytes: p.rxBytes,
          txPackets: p.txPackets,
          txBytes: p.txBytes,
          txDrops: p.txDrops,
        })),
        io: ioStats.get(sw)?.(),
      };
    case 'show':
      return {
        name: sw.name,
        underlayMac: [...sw.underlayMac].map((x) => x.toString(16).padStart(2, '0')).join(':'),
        ports: [...sw.ports.values()].map((p) => ({
          no: p.no,
          name: p.name,
          kind: KIND_NAMES[p.kind],
          mtu: p.mtu,
          vni: p.vni,
          tunnel: p.tunnel
            ? { encap: p.tunnel.encap, remote: p.tunnel.remote ? 'fixed' : 'flow', dstPort: p.tunnel.dstPort }
            : undefined,
        })),
        neighbours: sw.neighbours.dump(),
        /** Packets waiting for ARP / ND, and the queue's bounds (neighbour-resolver.ts). */
        neighbourQueue: {
          waiting: sw.resolver.waiting,
          perHop: sw.resolver.perHop,
          total: sw.resolver.total,
        },
        packetIn: {
          subscribers: packetIns(sw).subscribers,
          queued: packetIns(sw).count,
          capacity: packetIns(sw).capacity,
        },
        macs: sw.macs.dump(),
        cacheLevels: LEVEL_NAMES,
      };
    case 'trace': {
      const port = sw.port(typeof req.inPort === 'number' ? req.inPort : Number(req.inPort) || req.inPort);
      if (!port) throw new Error(`no such port: ${req.inPort}`);
      return sw.traceFrame(port.no, fromHex(req.hex), now);
    }
    case 'monitor':
      throw new Error('monitor is a subscription: send it over the control socket');
    default:
      throw new Error(`unknown command ${(req as { cmd: string }).cmd}`);
  }
}

export function serveControl(sw: Switch, path: string): Server {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 1 << 20) {
        sock.end(`${JSON.stringify({ ok: false, error: 'request too long' })}\n`);
        return;
      }
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let reply: unknown;
        try {
          const req = JSON.parse(line) as Request;
          if (req.cmd === 'monitor') {
            subscribe(sw, sock, req.invalidTtl === true);
            reply = { ok: true, result: { subscribed: 'packet-in' } };
          } else reply = { ok: true, result: handle(sw, req) };
        } catch (e) {
          reply = { ok: false, error: (e as Error).message };
        }
        sock.write(`${JSON.stringify(reply, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
        nl = buf.indexOf('\n');
      }
    });
    sock.on('error', () => {});
  });
  server.listen(path);
  return server;
}
