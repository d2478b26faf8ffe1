// The network-namespace test bed: N "hosts" joined by an underlay wire, one "guest" per host, and
// optionally kernel VXLAN between the hosts as the independent peer / baseline (performance.md §1.2,
// §10; encapsulations.md §6).
//
//   guest NAME-g1            host NAME-h1                          host NAME-h2            guest NAME-g2
//   eth0 10.98.0.1/24 ── gv0 [br0 ── vx0 (VNI, 4789)] ul0 10.99.0.1 ═══ ul0 10.99.0.2 [vx0 ── br0] gv0 ── eth0 10.98.0.2/24
//                       (veth)                      (veth "wire", MTU 1500)                  (veth)
//
// With more than two hosts the wire is a bridge in NAME-wire with one veth per host. Without
// `vxlan` the hosts only have gv0 and ul0 (the switch under test attaches there later). Names are
// NAME-h<i>, NAME-g<i>, NAME-wire; `down(NAME)` deletes every namespace called NAME-*, which takes all
// their devices with them, so tear-down is idempotent and a failed `up` leaves nothing behind.
//
// Emulating a real wire (performance.md §10): veth carries 64 KB GSO frames unless segmentation is
// off on the sender, so `underlayOffloads` lets a run turn tso/gso off (kernel GSO plays the NIC's
// TSO) and keep gro on at the receiver.
import {
  BRIDGE,
  ip,
  netnsAdd,
  netnsDel,
  netnsExists,
  netnsList,
  netnsPath,
  setOffloads,
  vethPair,
} from './netns.ts';

export interface VxlanSpec {
  vni: number;
  /** UDP destination port (4789 IANA, 8472 Linux default). */
  port: number;
  /** Outer UDP checksum on transmit (iproute2 udpcsum / noudpcsum). */
  udpcsum: boolean;
}

export interface TestbedSpec {
  /** Namespace prefix: NAME-h1, NAME-g1, … */
  name: string;
  hosts: number;
  /** Underlay MTU (guest MTU is underlay - 50 when vxlan is on). */
  mtu: number;
  /** 10.99.0.0/24: host i gets .i */
  underlayPrefix: string;
  /** 10.98.0.0/24: guest i gets .i */
  overlayPrefix: string;
  /** Kernel VXLAN between the hosts (bridged to each guest); null: no tunnel, bare gv0/ul0. */
  vxlan: VxlanSpec | null;
  /** ethtool -K features for every host's ul0 (e.g. { tso: 'off', gro: 'on' }). */
  underlayOffloads: Record<string, 'on' | 'off'>;
  /** A guest namespace per host (false: none; attach the switch under test to gv0 yourself). */
  guests: boolean;
  /**
   * How a guest hangs off its host. 'veth' (default): guest eth0 ↔ host gv0. 'tap': the guest's eth0
   * is a persistent TAP (with vnet header) created in the guest namespace; the switch attaches to it
   * with TapPort({ name: 'eth0', netns: HostInfo.guestTapNetns }) — until then the guest is unplugged.
   * (Kernel VXLAN bridging needs 'veth'.)
   */
  guestLink: 'veth' | 'tap';
}

export interface HostInfo {
  index: number;
  ns: string;
  netns: string;
  underlayIf: string;
  underlayAddr: string;
  guestIf: string;
  guestNs: string | null;
  guestAddr: string;
  guestMac: string;
  /** guestLink 'tap': the netns file to open the guest's TAP in (null otherwise). */
  guestTapNetns: string | null;
}

export interface Testbed {
  spec: TestbedSpec;
  hosts: HostInfo[];
  wireNs: string | null;
}

export const DEFAULT_SPEC: TestbedSpec = {
  name: 'nvo-tb',
  hosts: 2,
  mtu: 1500,
  underlayPrefix: '10.99.0',
  overlayPrefix: '10.98.0',
  vxlan: null,
  underlayOffloads: {},
  guests: true,
  guestLink: 'veth',
};

/**
 * `underlayOffloads` for a real wire (performance.md §10): nothing wider than the MTU crosses it. The
 * sender's kernel cuts superframes in software before the wire, as a NIC's TSO would (tso, UDP and
 * UDP-tunnel segmentation off); the receiver's kernel coalesces in NAPI GRO, as a NIC's GRO/LRO would
 * (gro on, and rx-udp-gro-forwarding so UDP datagrams no local socket owns are merged too). With veth
 * defaults 64 KB GSO frames cross the "wire" whole, which flatters every tunnel.
 */
export const REAL_WIRE: Readonly<Record<string, 'on' | 'off'>> = {
  tso: 'off',
  'tx-udp-segmentation': 'off',
  'tx-udp_tnl-segmentation': 'off',
  'tx-udp_tnl-csum-segmentation': 'off',
  gro: 'on',
  'rx-udp-gro-forwarding': 'on',
};

/** VXLAN over IPv4: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 = 50 bytes (RFC 7348 §5). */
export const VXLAN4_OVERHEAD = 50;

function hostInfo(spec: TestbedSpec, i: number): HostInfo {
  const ns = `${spec.name}-h${i}`;
  return {
    index: i,
    ns,
    netns: netnsPath(ns),
    underlayIf: 'ul0',
    underlayAddr: `${spec.underlayPrefix}.${i}`,
    guestIf: 'gv0',
    guestNs: spec.guests ? `${spec.name}-g${i}` : null,
    guestAddr: `${spec.overlayPrefix}.${i}`,
    // Locally administered (02:…), host index in the last byte: easy to read in captures.
    guestMac: `02:00:00:98:00:${i.toString(16).padStart(2, '0')}`,
    guestTapNetns: spec.guests && spec.guestLink === 'tap' ? netnsPath(`${spec.name}-g${i}`) : null,
  };
}

/** Describes a test bed without creating it (for down/status and for callers that know the spec). */
export function describe(partial: Partial<TestbedSpec> = {}): Testbed {
  const spec = { ...DEFAULT_SPEC, ...partial };
  const hosts: HostInfo[] = [];
  for (let i = 1; i <= spec.hosts; i++) hosts.push(hostInfo(spec, i));
  return { spec, hosts, wireNs: spec.hosts > 2 ? `${spec.name}-wire` : null };
}

/** Creates the test bed; on any failure removes what it made and rethrows. */
export function up(partial: Partial<TestbedSpec> = {}): Testbed {
  const tb = describe(partial);
  const { spec } = tb;
  if (spec.hosts < 2 || spec.hosts > 250) throw new Error(`hosts must be 2..250, got ${spec.hosts}`);
  if (spec.vxlan && spec.guests && spec.guestLink === 'tap')
    throw new Error('kernel VXLAN bridges the guest veth: use guestLink veth with vxlan');
  if (netnsList().some((n) => n.startsWith(`${spec.name}-`)))
    throw new Error(`a test bed named ${spec.name} exists already (nvo testbed down --name ${spec.name})`);
  try {
    build(tb);
  } catch (err) {
    down(spec.name);
    throw err;
  }
  return tb;
}

function build(tb: Testbed): void {
  const { spec, hosts } = tb;
  for (const h of hosts) {
    netnsAdd(h.ns);
    if (h.guestNs) netnsAdd(h.guestNs);
  }
  // The underlay wire.
  if (tb.wireNs) {
    netnsAdd(tb.wireNs);
    ip(tb.wireNs, 'link', 'add', 'br0', 'type', 'bridge');
    ip(tb.wireNs, 'link', 'set', 'br0', 'up');
    for (const h of hosts) {
      const port = `p${h.index}`;
      vethPair(h.ns, h.underlayIf, tb.wireNs, port, spec.mtu);
      ip(tb.wireNs, 'link', 'set', port, 'master', 'br0');
      ip(tb.wireNs, 'link', 'set', port, 'up');
    }
  } else {
    vethPair(hosts[0]!.ns, hosts[0]!.underlayIf, hosts[1]!.ns, hosts[1]!.underlayIf, spec.mtu);
  }
  const guestMtu = spec.vxlan ? spec.mtu - VXLAN4_OVERHEAD : spec.mtu;
  for (const h of hosts) {
    ip(h.ns, 'addr', 'add', `${h.underlayAddr}/24`, 'dev', h.underlayIf);
    ip(h.ns, 'link', 'set', h.underlayIf, 'up');
    setOffloads(h.ns, h.underlayIf, spec.underlayOffloads);
    if (h.guestNs && spec.guestLink === 'tap') {
      // Persistent, so it outlives this process; it goes away with the guest namespace.
      ip(h.guestNs, 'tuntap', 'add', 'dev', 'eth0', 'mode', 'tap', 'vnet_hdr');
      ip(h.guestNs, 'link', 'set', 'eth0', 'mtu', String(guestMtu));
      ip(h.guestNs, 'link', 'set', 'eth0', 'address', h.guestMac);
      ip(h.guestNs, 'addr', 'add', `${h.guestAddr}/24`, 'dev', 'eth0');
      ip(h.guestNs, 'link', 'set', 'eth0', 'up');
    } else if (h.guestNs) {
      vethPair(h.guestNs, 'eth0', h.ns, h.guestIf, guestMtu);
      ip(h.guestNs, 'link', 'set', 'eth0', 'address', h.guestMac);
      ip(h.guestNs, 'addr', 'add', `${h.guestAddr}/24`, 'dev', 'eth0');
      ip(h.guestNs, 'link', 'set', 'eth0', 'up');
      ip(h.ns, 'link', 'set', h.guestIf, 'up');
    }
    if (spec.vxlan) addKernelVxlan(tb, h, spec.vxlan, guestMtu);
  }
}

/**
 * Kernel VXLAN in a host namespace, bridged to the guest veth: the reference VTEP. The default
 * (all-zeros MAC) FDB entry lists every other host, so unknown and broadcast frames go to all of them
 * (head-end replication, encapsulations.md §6.2) and learning fills in the rest.
 */
export function addKernelVxlan(tb: Testbed, h: HostInfo, vx: VxlanSpec, mtu: number, dev = 'vx0'): void {
  ip(
    h.ns,
    'link',
    'add',
    dev,
    'type',
    'vxlan',
    'id',
    String(vx.vni),
    'dstport',
    String(vx.port),
    'local',
    h.underlayAddr,
    'dev',
    h.underlayIf,
    vx.udpcsum ? 'udpcsum' : 'noudpcsum',
  );
  ip(h.ns, 'link', 'set', dev, 'mtu', String(mtu));
  for (const o of tb.hosts) {
    if (o === h) continue;
    run(h.ns, ['fdb', 'append', '00:00:00:00:00:00', 'dev', dev, 'dst', o.underlayAddr]);
  }
  if (h.guestNs) {
    ip(h.ns, 'link', 'add', 'br0', 'type', 'bridge');
    ip(h.ns, 'link', 'set', h.guestIf, 'master', 'br0');
    ip(h.ns, 'link', 'set', dev, 'master', 'br0');
    ip(h.ns, 'link', 'set', 'br0', 'up');
  }
  ip(h.ns, 'link', 'set', dev, 'up');
}

function run(ns: string, args: string[]): void {
  ip(null, 'netns', 'exec', ns, BRIDGE, ...args);
}

/** Removes every namespace named NAME-* (idempotent; returns what it removed). */
export function down(name: string): string[] {
  const mine = netnsList().filter((n) => n.startsWith(`${name}-`));
  for (const n of mine) netnsDel(n);
  const left = mine.filter(netnsExists);
  if (left.length > 0) throw new Error(`could not delete namespaces: ${left.join(', ')}`);
  return mine;
}

export interface NsStatus {
  ns: string;
  links: { name: string; state: string; mtu: number; addrs: string[] }[];
}

/** The namespaces of test bed NAME (or of every nvo test bed when name is '') with links and addresses. */
export function status(name: string): NsStatus[] {
  const all = netnsList().filter((n) => (name ? n.startsWith(`${name}-`) : /^nvo/.test(n)));
  return all.sort().map((ns) => {
    const j = JSON.parse(ip(ns, '-j', 'addr', 'show')) as {
      ifname: string;
      operstate: string;
      mtu: number;
      addr_info?: { local: string; prefixlen: number }[];
    }[];
    return {
      ns,
      links: j.map((l) => ({
        name: l.ifname,
        state: l.operstate,
        mtu: l.mtu,
        addrs: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
      })),
    };
  });
}
