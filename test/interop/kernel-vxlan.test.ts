// nvo's VXLAN against the Linux kernel's vxlan device, on real interfaces: two network-namespace hosts
// joined by a veth underlay. Host 1 runs nvo (AF_PACKET on the underlay and on the guest's veth; nvo
// owns the underlay address, the kernel there has none), host 2 runs a kernel vxlan device bridged to
// its guest. The guests ping each other and run TCP (iperf3) both ways: the kernel is the independent
// implementation that must accept what nvo sends (incl. software tunnel GSO of guest superframes) and
// send what nvo accepts. Ports 4789 and 8472, outer UDP checksum on and off. The second run gives nvo
// an underlay MAC of its own (underlay.mac): the kernel must resolve nvo's address to it by ARP, and
// host 1's IP stack must take in none of the tunnel traffic (Ip InReceives); the first, sharing the
// veth's MAC, is the control in which the host stack takes in every underlay frame (and drops it).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { validateConfig } from '../../src/control/config.ts';
import { startDaemon } from '../../src/control/daemon.ts';
import { iperf } from '../../testbed/iperf.ts';
import { ip, uniqueName } from '../../testbed/netns.ts';
import * as tb from '../../testbed/testbed.ts';
import { snmp } from '../io/helpers.ts';
import { interopSkip } from './skip.ts';

const run = promisify(execFile);
const skip = interopSkip('iperf3', 'ping');

async function ping(ns: string, addr: string): Promise<string> {
  const r = await run('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.2', '-W', '3', addr]);
  return r.stdout;
}

for (const { port, udpcsum, mac } of [
  { port: 4789, udpcsum: false, mac: undefined },
  { port: 8472, udpcsum: true, mac: '02:4e:56:4f:00:01' },
]) {
  const what = `port ${port}, udpcsum ${udpcsum ? 'on' : 'off'}, ${mac ? 'own MAC' : "the veth's MAC"}`;
  describe(`nvo VXLAN ↔ kernel vxlan (${what})`, { skip }, () => {
    test('ping and TCP both ways', { timeout: 120_000 }, async () => {
      const name = uniqueName('nvok');
      const t = tb.up({ name, vxlan: null });
      let daemon: ReturnType<typeof startDaemon> | undefined;
      try {
        const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
        tb.addKernelVxlan(t, h2, { vni: 42, port, udpcsum }, 1450);
        ip(h1.ns, 'addr', 'flush', 'dev', h1.underlayIf);
        ip(h1.guestNs!, 'link', 'set', 'eth0', 'mtu', '1450');
        daemon = startDaemon(
          validateConfig({
            name,
            control: { socket: `/run/nvo/${name}.sock` },
            underlay: {
              ports: [{ name: 'ul0', device: h1.underlayIf, netns: h1.ns }],
              addresses: [`${h1.underlayAddr}/24`],
              mac,
            },
            guests: [{ name: 'g1', backend: 'af-packet', device: h1.guestIf, netns: h1.ns, vni: 42 }],
            tunnels: [
              { name: 'vx0', encap: 'vxlan', localIp: h1.underlayAddr, dstPort: port, csum: udpcsum },
            ],
            vteps: { '42': [h2.underlayAddr] },
          }),
        );
        const in0 = snmp(h1.ns, 'Ip', 'InReceives');
        assert.match(await ping(h1.guestNs!, h2.guestAddr), / 0% packet loss/);
        assert.match(await ping(h2.guestNs!, h1.guestAddr), / 0% packet loss/);
        const up = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 2, port: 5301 });
        const down = await iperf(h2.guestNs!, h1.guestNs!, h1.guestAddr, { seconds: 2, port: 5302 });
        assert.ok(up.bitsPerSecond > 10e6, `nvo → kernel ${up.bitsPerSecond} bit/s`);
        assert.ok(down.bitsPerSecond > 10e6, `kernel → nvo ${down.bitsPerSecond} bit/s`);
        const c = daemon.sw.counters.snapshot();
        assert.ok((c['tunnel-gso-segments'] ?? 0) > 0, 'guest superframes were cut by software tunnel GSO');
        const rx = daemon.sw.port('ul0')!.rxPackets;
        assert.ok(daemon.sw.port('vx0')!.rxPackets > 100);
        const hostIn = snmp(h1.ns, 'Ip', 'InReceives') - in0;
        if (mac) {
          assert.match(ip(h2.ns, 'neigh', 'show', h1.underlayAddr), new RegExp(`lladdr ${mac} `));
          // A few stray frames (the guest's own broadcasts) at most, against thousands through nvo.
          assert.ok(hostIn < 20, `host 1's IP stack took in ${hostIn} of nvo's ${rx} underlay frames`);
        } else {
          assert.ok(hostIn >= rx * 0.9, `host 1's IP stack took in ${hostIn} of ${rx} underlay frames`);
        }
      } finally {
        daemon?.stop();
        tb.down(name);
      }
    });
  });
}
