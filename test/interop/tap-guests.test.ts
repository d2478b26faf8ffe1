// TAP guests (the test bed's guestLink 'tap': the guest's eth0 is a persistent TAP with a vnet header,
// nvo opens it in the guest namespace) between two nvo hosts, over the raw underlay and the socket
// underlay: ping both ways, iperf3 TCP both ways, and the guests' TSO superframes crossing whole — the
// TAP back ends count superframes read from the guest (the guest kernel's TSO) and written to it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { iperf } from '../../testbed/iperf.ts';
import { uniqueName } from '../../testbed/netns.ts';
import { startNvoHosts } from '../../testbed/nvo-hosts.ts';
import * as tb from '../../testbed/testbed.ts';
import { ioPort, nvoStats, ping, pingEventually } from './guest-traffic.ts';
import { interopSkip } from './skip.ts';

const skip = interopSkip('iperf3');

for (const underlay of ['raw', 'socket'] as const) {
  describe(`TAP guests, nvo VXLAN ↔ nvo, ${underlay} underlay`, { skip }, () => {
    test('ping and TCP both ways; guest superframes cross whole', { timeout: 120_000 }, async () => {
      const name = uniqueName('nvot');
      const t = tb.up({ name, vxlan: null, guestLink: 'tap' });
      let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
      try {
        const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
        hosts = await startNvoHosts(t, { encap: 'vxlan', guestMtu: 1400, underlay });
        assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'ping guest 1 → guest 2');
        assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'ping guest 2 → guest 1');
        const a = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 2, port: 5441 });
        assert.ok(a.bitsPerSecond > 20e6, `TCP 1 → 2: ${a.bitsPerSecond} bit/s`);
        const b = await iperf(h2.guestNs!, h1.guestNs!, h1.guestAddr, { seconds: 2, port: 5442 });
        assert.ok(b.bitsPerSecond > 20e6, `TCP 2 → 1: ${b.bitsPerSecond} bit/s`);
        for (const socket of hosts.sockets) {
          const g = ioPort(await nvoStats(socket), 'g1');
          assert.equal(g.kind, 'tap');
          // The guest kernel's TSO frames arrive as vnet_hdr superframes, and nvo writes coalesced
          // superframes back (GRO on the far side), each one write of up to 64 KB.
          assert.ok((g.counters['rx-superframes'] ?? 0) > 10, `rx superframes ${JSON.stringify(g.counters)}`);
          assert.ok((g.counters['tx-superframes'] ?? 0) > 10, `tx superframes ${JSON.stringify(g.counters)}`);
          assert.ok(
            g.counters['rx-bytes']! / g.counters['rx-packets']! > 3000,
            'average read well above the MTU',
          );
        }
      } finally {
        await hosts?.stop();
        tb.down(name);
      }
    });
  });
}
