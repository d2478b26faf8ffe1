// Two in-process hosts, each a Switch with one guest port and one tunnel port, joined by an in-memory
// underlay wire. Used by the tunnel conformance suite and by `nvo demo` when it can't use namespaces.
//
//   guest A ── g1 [switch A: 10.0.0.1] ══ underlay (memory) ══ [switch B: 10.0.0.2] g1 ── guest B
//
// Flows: table 0 "actions=NORMAL"; guests sit in VNI `vni`; each side floods to the other VTEP.
// It lives in io/, not datapath/, because it joins datapath Switches with an io back end (memory-link.ts)
// and layers import downward only (test/layers.test.ts).
import { KIND_GUEST, KIND_UNDERLAY } from '../datapath/port.ts';
import { Switch } from '../datapath/switch.ts';
import { parseFlow } from '../flow/ofctl-parse.ts';
import { Batch } from '../packet/batch.ts';
import type { TunnelConfig } from '../tunnel/tunnel-port.ts';
import { parseIpv4 } from '../wire/bytes.ts';
import { type MemoryEnd, memoryLink } from './memory-link.ts';

export interface Host {
  sw: Switch;
  /** The guest's side of its port: send with guest.txBurst, read arrivals with guest.drain. */
  guest: MemoryEnd;
  /** The switch's side of the guest port (its rx queue is what the guest sent). */
  guestPort: MemoryEnd;
  underlay: MemoryEnd;
  ip: string;
}

export interface PairOptions {
  encap: string;
  vni?: number;
  mtu?: number;
  /** Extra tunnel settings (csum, dstPort, key…). */
  tunnel?: Partial<TunnelConfig>;
  /** Seed the neighbour tables instead of resolving by ARP. */
  staticNeighbours?: boolean;
}

const ip4 = (s: string) => {
  const b = new Uint8Array(4);
  parseIpv4(s, b, 0);
  return b;
};

export function memoryPair(opts: PairOptions): [Host, Host] {
  const vni = opts.vni ?? 42;
  const [ua, ub] = memoryLink({ keepSent: 64 });
  const hosts: Host[] = [];
  const ips = ['10.0.0.1', '10.0.0.2'];
  const macs = ['02:00:00:00:01:01', '02:00:00:00:01:02'];
  for (let i = 0; i < 2; i++) {
    const sw = new Switch({ name: `host${i + 1}`, underlayMac: macs[i] });
    const [guest, guestPort] = memoryLink();
    sw.addPort('g1', KIND_GUEST, { no: 1, vni, sink: guestPort });
    const underlay = i === 0 ? ua : ub;
    sw.addPort('eth0', KIND_UNDERLAY, { no: 100, mtu: opts.mtu ?? 1500, sink: underlay });
    sw.addTunnel(
      { name: 'tun0', encap: opts.encap, localIp: ips[i]!, key: 'flow', ...opts.tunnel },
      { no: 10 },
    );
    sw.neighbours.addRoute4(0x0a000000, 24, 0, 100);
    sw.addVtep(vni, ip4(ips[1 - i]!));
    sw.addFlow(parseFlow('priority=0,actions=NORMAL', { portByName: sw.portByName }));
    hosts.push({ sw, guest, guestPort, underlay, ip: ips[i]! });
  }
  if (opts.staticNeighbours ?? true) {
    const mac = (s: string) => Uint8Array.from(s.split(':').map((x) => Number.parseInt(x, 16)));
    hosts[0]!.sw.neighbours.set4(0x0a000002, mac(macs[1]!), 100, 0, true);
    hosts[1]!.sw.neighbours.set4(0x0a000001, mac(macs[0]!), 100, 0, true);
  }
  return [hosts[0]!, hosts[1]!];
}

const scratch = new Batch(512);

/** Runs both switches until nothing moves: guest ports and underlay rx → receive → flush. */
export function runUntilIdle(hosts: Host[], now: number, maxRounds = 100): void {
  for (let round = 0; round < maxRounds; round++) {
    let moved = 0;
    for (const h of hosts) {
      for (const [end, portNo] of [
        [h.guestPort, 1],
        [h.underlay, 100],
      ] as const) {
        scratch.count = 0;
        const n = end.drain(scratch);
        if (n > 0) {
          moved += n;
          h.sw.receive(portNo, scratch, now);
        }
      }
      h.sw.flush();
    }
    if (moved === 0) return;
  }
}
