// Config → Switch: ports, tunnels, addresses, routes, neighbours, VTEP lists and flows. The back ends
// are opened by the caller (`open`), so the same code builds a real host (TAP / AF_PACKET) and an
// in-memory one (tests, `nvo demo` without root).

import { KIND_GUEST, KIND_UNDERLAY, type PortSink } from '../datapath/port.ts';
import { Switch } from '../datapath/switch.ts';
import { parseFlow } from '../flow/ofctl-parse.ts';
import { parseIpv4 } from '../wire/bytes.ts';
import type { Config } from './config.ts';

export interface PortRequest {
  role: 'guest' | 'underlay';
  name: string;
  backend: 'tap' | 'af-packet';
  device: string;
  netns?: string;
  offload: boolean;
}

const ip4num = (s: string): number => {
  const b = new Uint8Array(4);
  parseIpv4(s, b, 0);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
};

export function buildSwitch(cfg: Config, open: (r: PortRequest) => PortSink & { mac?: Uint8Array }): Switch {
  const sw = new Switch({
    name: cfg.name,
    underlayMac: cfg.underlay.mac,
    poolSize: cfg.limits.poolSize,
    superPoolSize: cfg.limits.superPoolSize,
    emcEntries: cfg.limits.emcEntries,
    macAgingMs: cfg.limits.macAgingMs,
  });
  let underlayNo = 0;
  for (const u of cfg.underlay.ports) {
    const sink = open({
      role: 'underlay',
      name: u.name,
      backend: 'af-packet',
      device: u.device,
      netns: u.netns,
      offload: u.offload,
    });
    const port = sw.addPort(u.name, KIND_UNDERLAY, { sink, mtu: u.mtu, txOffload: u.offload, txUso: u.uso });
    underlayNo ||= port.no;
    if (!cfg.underlay.mac && sink.mac) sw.underlayMac.set(sink.mac);
  }
  for (const g of cfg.guests) {
    const sink = open({
      role: 'guest',
      name: g.name,
      backend: g.backend,
      device: g.device,
      netns: g.netns,
      offload: g.offload,
    });
    sw.addPort(g.name, KIND_GUEST, { no: g.no, sink, vni: g.vni, txOffload: g.offload });
  }
  for (const t of cfg.tunnels) {
    const { no, ...tc } = t;
    sw.addTunnel(
      { ...tc, key: typeof tc.key === 'string' && tc.key !== 'flow' ? BigInt(tc.key) : tc.key },
      { no },
    );
  }
  for (const a of cfg.underlay.addresses) {
    const [addr, len] = a.split('/');
    const n = ip4num(addr!);
    sw.localIps4.add(n);
    if (underlayNo) sw.neighbours.addRoute4(n, Number(len), 0, underlayNo);
  }
  for (const r of cfg.underlay.routes) {
    const [addr, len] = r.prefix.split('/');
    sw.neighbours.addRoute4(ip4num(addr!), Number(len), ip4num(r.via), underlayNo);
  }
  for (const nb of cfg.underlay.neighbours) {
    const mac = Uint8Array.from(nb.mac.split(':').map((x) => Number.parseInt(x, 16)));
    sw.neighbours.set4(ip4num(nb.ip), mac, underlayNo, 0, true);
  }
  for (const [vni, remotes] of Object.entries(cfg.vteps))
    for (const r of remotes) {
      const b = new Uint8Array(4);
      parseIpv4(r, b, 0);
      sw.addVtep(Number(vni), b);
    }
  for (const f of cfg.flows) sw.addFlow(parseFlow(f, { portByName: sw.portByName }));
  return sw;
}
