// Watches device back ends (TAP, AF_PACKET) for the device vanishing under a running switch, and
// re-attaches when a device of that name is back. Run once a second from the daemon's timer.
//
//   gone      the back end reported an error that means "no device": AF_PACKET gets ENETDOWN on rx when
//             its device goes down or away, then ENXIO on every send (the socket is unbound); a TAP fd
//             whose device was deleted fails reads and writes with EBADFD (and stops being polled after
//             16 in a row, rx-poll-stopped). The port is then closed and its switch port keeps no sink:
//             what the switch sends there is counted in the port's tx drops (`nvo stats`), nothing throws.
//             Counted: switch counter `port-gone`, and per port in `nvo stats` → io.
//   re-attach every tick while gone, `ip link show dev NAME` (in the port's namespace, asynchronously so
//             the data path never waits) says whether the device exists; when it does, the back end is
//             opened again (a new AF_PACKET socket bound to the new ifindex, or the TAP re-opened by
//             name), polled, and the switch port's sink points at it: `port-reattached`. A failed open
//             counts `port-reattach-failed` and is retried on the next tick.
// A link set down and up again also reports ENETDOWN: the port is then re-opened at once, harmlessly.
//   MAC       an underlay port whose MAC is the device's (no underlay.mac configured) follows it: every
//             other tick, and right after a re-attach, the device's address is read asynchronously
//             (sysfs, or `ip -n NS -o link show` for a device in another namespace); when the one nvo uses has changed (a re-created veth or NIC comes back
//             with another; `ip link set … address` while up), the switch takes the new one and
//             announces its addresses (neighbour-probes.ts announceUnderlayMac), and twice more two
//             and four seconds later (RFC 5227 announces twice, 2 s apart; one more because a peer
//             whose device came back at the same moment re-attaches up to a tick later and misses
//             the first): counted underlay-mac-changed, tx-arp-announce / tx-nd-na-unsolicited.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { announceAddresses, announceUnderlayMac } from '../datapath/neighbour-probes.ts';
import type { Switch } from '../datapath/switch.ts';
import type { IoBackend } from '../io/io-backend.ts';
import type { BurstHandler, Poller } from '../io/poller.ts';
import type { PortRequest } from './build-switch.ts';

/** Back-end counters that mean the device is gone (see the header). */
const GONE = /^(rx-error-(enetdown|enodev|enxio|ebadfd)|tx-drop-(enodev|enxio|ebadfd)|rx-poll-stopped)$/;

interface Watched {
  name: string;
  req: PortRequest;
  be: IoBackend | null;
  handler: BurstHandler;
  reopen: () => IoBackend;
  /** Sum of the GONE counters when last looked at. */
  seen: number;
  gone: number;
  reattached: number;
  checking: boolean;
  lastError: string;
  /** Counters of back ends closed since start (kept so `nvo stats` still shows what happened). */
  closed: Record<string, number>;
  /** Following the device's MAC: the last one read (see the header); null: not followed. */
  mac: Uint8Array | null;
  readingMac: boolean;
  /** Announcements still to repeat after a MAC change, one every other tick. */
  announceLeft: number;
}

/** Repeats of the announcement after a MAC change (see the header). */
const ANNOUNCE_REPEATS = 2;

export class PortWatch {
  private readonly sw: Switch;
  private readonly poller: Poller;
  private readonly ports = new Map<string, Watched>();
  private closedAll = false;
  /** Test hook: how existence is checked (default: `ip [-n NS] link show dev NAME`). */
  exists: (dev: string, netns: string | undefined) => Promise<boolean> = linkExists;
  /** Test hook: how a device's MAC is read (default: sysfs, or `ip -n NS -o link show dev NAME`). */
  readMac: (dev: string, netns: string | undefined) => Promise<Uint8Array | null> = linkMac;
  private ticks = 0;

  constructor(sw: Switch, poller: Poller) {
    this.sw = sw;
    this.poller = poller;
  }

  /** `mac`: the device's MAC the switch took at start, to be followed (see the header); omit: not followed. */
  add(
    name: string,
    req: PortRequest,
    be: IoBackend,
    handler: BurstHandler,
    reopen: () => IoBackend,
    mac?: Uint8Array,
  ): void {
    this.ports.set(name, {
      name,
      req,
      be,
      handler,
      reopen,
      seen: goneCount(be),
      gone: 0,
      reattached: 0,
      checking: false,
      lastError: '',
      closed: {},
      mac: mac ? Uint8Array.from(mac) : null,
      readingMac: false,
      announceLeft: 0,
    });
  }

  /** The port's back end now (null while its device is gone). */
  backend(name: string): IoBackend | null {
    return this.ports.get(name)?.be ?? null;
  }

  tick(): void {
    const macTick = (this.ticks++ & 1) === 0;
    for (const w of this.ports.values()) {
      if (w.be !== null) {
        w.be.refreshCounters?.();
        const n = goneCount(w.be);
        if (n > w.seen) this.detach(w);
        else w.seen = n;
      }
      if (w.be === null && !w.checking) this.tryAttach(w);
      else if (w.be !== null && macTick) this.followMac(w);
    }
  }

  /** Reads the device's MAC; when it moved from the one the switch uses, the switch takes it. */
  private followMac(w: Watched): void {
    if (w.mac === null || w.readingMac) return;
    if (w.announceLeft > 0) {
      w.announceLeft--;
      if (sameMac(w.mac, this.sw.underlayMac)) {
        announceAddresses(this.sw);
        this.sw.flush();
      }
    }
    w.readingMac = true;
    this.readMac(w.req.device, w.req.netns).then(
      (m) => {
        w.readingMac = false;
        const old = w.mac!;
        if (m === null || this.closedAll || sameMac(m, old)) return;
        w.mac = m;
        // Only the MAC the switch is using (with several underlay devices it took one of theirs).
        if (sameMac(old, this.sw.underlayMac) && announceUnderlayMac(this.sw, m)) {
          this.sw.flush();
          w.announceLeft = ANNOUNCE_REPEATS;
        }
      },
      () => {
        w.readingMac = false;
      },
    );
  }

  private detach(w: Watched): void {
    const be = w.be!;
    this.poller.remove(be);
    for (const [k, v] of Object.entries(be.counters.snapshot())) w.closed[k] = (w.closed[k] ?? 0) + v;
    be.close();
    w.be = null;
    w.gone++;
    const port = this.sw.port(w.name);
    if (port) port.sink = null;
    this.sw.counters.add('port-gone');
  }

  private tryAttach(w: Watched): void {
    w.checking = true;
    this.exists(w.req.device, w.req.netns).then(
      (yes) => {
        w.checking = false;
        if (!yes || this.closedAll || w.be !== null) return;
        let be: IoBackend;
        try {
          be = w.reopen();
        } catch (e) {
          w.lastError = (e as Error).message;
          this.sw.counters.add('port-reattach-failed');
          return;
        }
        w.be = be;
        w.seen = goneCount(be);
        w.reattached++;
        const port = this.sw.port(w.name);
        if (port) port.sink = be;
        this.poller.add(be, w.handler);
        this.sw.counters.add('port-reattached');
        this.followMac(w);
      },
      () => {
        w.checking = false;
      },
    );
  }

  /** For `nvo stats`: state, back end and its counters (plus those of closed predecessors). */
  describe(name: string): Record<string, unknown> | undefined {
    const w = this.ports.get(name);
    if (!w) return undefined;
    const counters: Record<string, number> = { ...w.closed };
    if (w.be)
      for (const [k, v] of Object.entries(w.be.counters.snapshot())) counters[k] = (counters[k] ?? 0) + v;
    return {
      name,
      device: w.req.device,
      kind: w.req.backend,
      state: w.be ? 'up' : 'gone',
      gone: w.gone,
      reattached: w.reattached,
      lastError: w.lastError || undefined,
      counters,
    };
  }

  /** Stops re-attaching and closes the back ends it holds (closing twice is harmless). */
  close(): void {
    this.closedAll = true;
    for (const w of this.ports.values()) w.be?.close();
  }
}

function goneCount(be: IoBackend): number {
  let n = 0;
  for (const [k, v] of Object.entries(be.counters.snapshot())) if (GONE.test(k)) n += v;
  return n;
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The device's Ethernet address (`link/ether xx:…`), null when it has none or is not there. */
// A device in nvo's own namespace is read from sysfs (a file read every other second); one in another
// namespace through `ip -n`, a process every other second.
export async function linkMac(dev: string, netns: string | undefined): Promise<Uint8Array | null> {
  const text = netns
    ? await new Promise<string>((res) =>
        execFile('ip', ['-n', netns, '-o', 'link', 'show', 'dev', dev], (err, out) => res(err ? '' : out)),
      )
    : await readFile(`/sys/class/net/${dev}/address`, 'utf8').catch(() => '');
  const m = /(?:^|link\/ether )([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(text);
  return m ? Uint8Array.from(m[1]!.split(':'), (x) => Number.parseInt(x, 16)) : null;
}

function linkExists(dev: string, netns: string | undefined): Promise<boolean> {
  const args = netns ? ['-n', netns, 'link', 'show', 'dev', dev] : ['link', 'show', 'dev', dev];
  return new Promise((res) => execFile('ip', args, (err) => res(err === null)));
}
