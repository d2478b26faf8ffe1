// nvo against Open vSwitch's userspace datapath (datapath_type=netdev) over VXLAN, Geneve and GRE on
// real interfaces. This kernel has no geneve/gretap module, so OVS is the independent implementation
// for Geneve and GRE (reference/ovs-userspace.md). Two test-bed hosts joined by a veth underlay: host 1
// runs nvo in-process (AF_PACKET on ul0 and gv0, nvo owns the underlay address), host 2 runs its own
// ovsdb-server + ovs-vswitchd (testbed/ovs-peer.ts). The guests ping each other and run TCP (iperf3)
// both ways; key/VNI 42 on both sides.
//
// Offloads (ovs-userspace.md §1, §6): OVS "system" ports read with AF_PACKET into MTU-sized buffers
// without a vnet header, so nothing may hand them CHECKSUM_PARTIAL or GSO frames. Guest 2 gets
// `tx off` (its veth peer is an OVS port). Host 1's ul0 keeps its offloads on purpose: OVS reads
// nvo's frames exactly as nvo wrote them, so every outer and inner checksum nvo leaves unfinished, or
// any frame above the MTU, is lost and shows up as ping loss / a TCP stall. Guest 1 keeps its
// offloads, so nvo receives TSO superframes and must cut them (software tunnel GSO).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { validateConfig } from '../../src/control/config.ts';
import { startDaemon } from '../../src/control/daemon.ts';
import { iperf } from '../../testbed/iperf.ts';
import { ip, isRoot, setOffloads, uniqueName } from '../../testbed/netns.ts';
import {
  type OvsPeer,
  type OvsTunnelType,
  ovsUnavailable,
  packetSocketDrops,
  startOvsPeer,
} from '../../testbed/ovs-peer.ts';
import * as tb from '../../testbed/testbed.ts';
import { interopSkip } from './skip.ts';

const run = promisify(execFile);
const skip = (isRoot() && ovsUnavailable()) || interopSkip('iperf3', 'ping');

const VNI = 42;
// Inner MTU: 1500 - 50 (VXLAN/Geneve without options over IPv4); GRE with key needs 42 (14+20+8).
// OVS userspace neither fragments nor sends "fragmentation needed" (ovs-userspace.md §6).
const GUEST_MTU = 1450;

async function ping(ns: string, addr: string, count = 3): Promise<string> {
  const r = await run('ip', ['netns', 'exec', ns, 'ping', '-c', String(count), '-i', '0.2', '-W', '2', addr]);
  return r.stdout;
}

/** OVS drops the first tunnel packet to an unresolved next hop while it ARPs (§6): wait for a reply. */
async function firstContact(ns: string, addr: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    try {
      await run('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', addr]);
      return;
    } catch {
      // retry
    }
  }
  throw new Error(`no reply from ${addr} in ${ns} after 10 tries`);
}

// NVGRE (RFC 7637) is OVS's GRE port on the wire: K bit, protocol 0x6558, key = VSID << 8 | FlowID.
// nvo puts per-flow entropy in the FlowID byte, so OVS must accept any key (in_key=flow: tun_id then
// carries the FlowID and NORMAL ignores it) and send VSID 42 with FlowID 0 (out_key = 42 << 8 = 10752).
// Geneve runs with the outer UDP checksum on both ways (OVS verifies non-zero checksums on pop).
const cases: {
  encap: string;
  type: OvsTunnelType;
  port: number;
  nvo?: Record<string, unknown>;
  ovs?: { csum?: boolean; options?: Record<string, string | number> };
}[] = [
  { encap: 'vxlan', type: 'vxlan', port: 5311 },
  { encap: 'geneve', type: 'geneve', port: 5313, nvo: { csum: true }, ovs: { csum: true } },
  { encap: 'gre', type: 'gre', port: 5315 },
  { encap: 'nvgre', type: 'gre', port: 5317, ovs: { options: { in_key: 'flow', out_key: VNI << 8 } } },
];

for (const { type, encap, port, nvo, ovs: ovsOpts } of cases) {
  describe(`nvo ${encap} ↔ OVS userspace ${type}${ovsOpts ? ` ${JSON.stringify(ovsOpts)}` : ''}`, {
    skip,
  }, () => {
    test('ping and TCP both ways', { timeout: 60_000 }, async () => {
      const name = uniqueName('nvoo');
      let daemon: ReturnType<typeof startDaemon> | undefined;
      let ovs: OvsPeer | undefined;
      try {
        const t = tb.up({ name, vxlan: null });
        const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
        for (const h of [h1, h2]) ip(h.guestNs!, 'link', 'set', 'eth0', 'mtu', String(GUEST_MTU));
        setOffloads(h2.guestNs!, 'eth0', { tx: 'off' });
        ovs = startOvsPeer({
          ns: h2.ns,
          underlayIf: h2.underlayIf,
          underlayAddr: h2.underlayAddr,
          prefixLen: 24,
          guestIf: h2.guestIf,
          tunnel: { type, remoteIp: h1.underlayAddr, key: VNI, ...ovsOpts },
        });
        ip(h1.ns, 'addr', 'flush', 'dev', h1.underlayIf);
        daemon = startDaemon(
          validateConfig({
            name,
            control: { socket: `/run/nvo/${name}.sock` },
            underlay: {
              ports: [{ name: 'ul0', device: h1.underlayIf, netns: h1.ns }],
              addresses: [`${h1.underlayAddr}/24`],
            },
            guests: [{ name: 'g1', backend: 'af-packet', device: h1.guestIf, netns: h1.ns, vni: VNI }],
            tunnels: [{ name: 'tun0', encap, localIp: h1.underlayAddr, ...nvo }],
            vteps: { [VNI]: [h2.underlayAddr] },
          }),
        );
        try {
          await firstContact(h1.guestNs!, h2.guestAddr);
          assert.match(await ping(h1.guestNs!, h2.guestAddr), / 0% packet loss/);
          assert.match(await ping(h2.guestNs!, h1.guestAddr), / 0% packet loss/);
          const up = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 2, port });
          const down = await iperf(h2.guestNs!, h1.guestNs!, h1.guestAddr, { seconds: 2, port: port + 1 });
          console.log(
            `${encap}: nvo → OVS ${(up.bitsPerSecond / 1e6).toFixed(0)} Mbit/s (${up.retransmits} retr), ` +
              `OVS → nvo ${(down.bitsPerSecond / 1e6).toFixed(0)} Mbit/s (${down.retransmits} retr); ` +
              `AF_PACKET drops: nvo host ${packetSocketDrops(h1.ns).join(', ')}; ` +
              `OVS host ${packetSocketDrops(h2.ns).join(', ')}`,
          );
          assert.ok(up.bitsPerSecond > 10e6, `nvo → OVS ${up.bitsPerSecond} bit/s`);
          assert.ok(down.bitsPerSecond > 10e6, `OVS → nvo ${down.bitsPerSecond} bit/s`);
          assert.ok(daemon.sw.port('tun0')!.rxPackets > 100, 'nvo decapsulated what OVS sent');
          const c = daemon.sw.counters.snapshot();
          assert.ok((c['tunnel-gso-segments'] ?? 0) > 0, 'guest superframes were cut by software tunnel GSO');
        } catch (e) {
          console.log(`nvo counters: ${JSON.stringify(daemon.sw.counters.snapshot())}`);
          console.log(ovs.diagnostics());
          throw e;
        }
      } finally {
        daemon?.stop();
        ovs?.stop();
        tb.down(name);
      }
    });
  });
}
