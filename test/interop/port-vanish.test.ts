// Devices vanishing under a running `nvo run` (`ip link del`), in namespaces: the guest's veth, the
// guest's TAP, and the underlay veth (raw underlay, AF_PACKET; and socket underlay, where the kernel
// owns it). nvo must stay up, keep its control socket, count the loss by name (`nvo stats`: switch
// counter port-gone, the io port's state 'gone' and its rx error), and carry traffic again once a device
// of the same name is back (port-reattached; socket mode needs no re-attach: the socket outlives the
// device and the kernel routes again when the address returns). Without underlay.mac nvo uses the
// device's MAC, and follows it when the device comes back with another or is given one while up.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ip, uniqueName, vethPair } from '../../testbed/netns.ts';
import { startNvoHosts } from '../../testbed/nvo-hosts.ts';
import * as tb from '../../testbed/testbed.ts';
import { ioPort, type NvoStats, nvoShow, nvoStats, ping, pingEventually } from './guest-traffic.ts';
import { interopSkip } from './skip.ts';

const skip = interopSkip();

/** Polls `nvo stats` until `ok` holds (the watchdog runs once a second). */
async function statsUntil(socket: string, ok: (s: NvoStats) => boolean, ms = 15_000): Promise<NvoStats> {
  const until = Date.now() + ms;
  let s = await nvoStats(socket);
  while (!ok(s) && Date.now() < until) {
    await sleep(250);
    s = await nvoStats(socket);
  }
  return s;
}

function guestBack(h: tb.HostInfo, link: 'veth' | 'tap'): void {
  if (link === 'tap') {
    ip(h.guestNs!, 'tuntap', 'add', 'dev', 'eth0', 'mode', 'tap', 'vnet_hdr');
    ip(h.guestNs!, 'link', 'set', 'eth0', 'mtu', '1400');
  } else {
    vethPair(h.guestNs!, 'eth0', h.ns, 'gv0', 1400);
    ip(h.ns, 'link', 'set', 'gv0', 'up');
  }
  ip(h.guestNs!, 'link', 'set', 'eth0', 'address', h.guestMac);
  ip(h.guestNs!, 'addr', 'add', `${h.guestAddr}/24`, 'dev', 'eth0');
  ip(h.guestNs!, 'link', 'set', 'eth0', 'up');
}

for (const link of ['veth', 'tap'] as const) {
  describe(`interfaces vanish under nvo (raw underlay, ${link} guests)`, { skip }, () => {
    test('guest device, then underlay veth: counted, no crash, re-attached', {
      timeout: 120_000,
    }, async () => {
      const name = uniqueName('nvov');
      const t = tb.up({ name, vxlan: null, guestLink: link });
      let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
      try {
        const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
        hosts = await startNvoHosts(t, { encap: 'vxlan', guestMtu: 1400 });
        const sock = hosts.sockets[0]!;
        assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'before');

        if (link === 'tap') ip(h1.guestNs!, 'link', 'del', 'eth0');
        else ip(h1.ns, 'link', 'del', 'gv0');
        // Traffic towards the vanished guest: counted as that port's tx drops.
        await ping(h2.guestNs!, h1.guestAddr, 2);
        let s = await statsUntil(sock, (x) => ioPort(x, 'g1').state === 'gone');
        assert.equal(hosts.procs[0]!.exitCode, null, 'nvo still running');
        assert.equal(ioPort(s, 'g1').state, 'gone');
        assert.ok(s.counters['port-gone']! >= 1);
        const err = link === 'tap' ? 'rx-error-ebadfd' : 'rx-error-enetdown';
        assert.ok((ioPort(s, 'g1').counters[err] ?? 0) >= 1, JSON.stringify(ioPort(s, 'g1').counters));
        assert.equal(ioPort(s, 'ul0').state, 'up', 'the other port is untouched');

        guestBack(h1, link);
        s = await statsUntil(sock, (x) => ioPort(x, 'g1').state === 'up');
        assert.equal(ioPort(s, 'g1').state, 'up');
        assert.ok(s.counters['port-reattached']! >= 1);
        assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'traffic again after the guest is back');

        // The underlay wire goes (both ends: it is one veth pair) and comes back.
        ip(h1.ns, 'link', 'del', h1.underlayIf);
        s = await statsUntil(sock, (x) => ioPort(x, 'ul0').state === 'gone');
        assert.equal(ioPort(s, 'ul0').state, 'gone');
        vethPair(h1.ns, h1.underlayIf, h2.ns, h2.underlayIf, 1500);
        ip(h1.ns, 'link', 'set', h1.underlayIf, 'up');
        ip(h2.ns, 'link', 'set', h2.underlayIf, 'up');
        s = await statsUntil(sock, (x) => ioPort(x, 'ul0').state === 'up');
        assert.equal(ioPort(s, 'ul0').state, 'up');
        assert.ok(
          await pingEventually(h1.guestNs!, h2.guestAddr),
          'traffic again after the underlay is back',
        );
        assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'both ways');
        for (const p of hosts.procs) assert.equal(p.exitCode, null);
      } finally {
        await hosts?.stop();
        tb.down(name);
      }
    });
  });
}

describe("nvo follows its underlay device's MAC (raw underlay, no underlay.mac)", { skip }, () => {
  test('re-created with another MAC, then given one while up: taken, announced, traffic both ways', {
    timeout: 120_000,
  }, async () => {
    const name = uniqueName('nvom');
    const t = tb.up({ name, vxlan: null });
    let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
    try {
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      hosts = await startNvoHosts(t, { encap: 'vxlan', guestMtu: 1400, ownMac: false });
      const [s1, s2] = hosts.sockets as [string, string];
      assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'before');
      const showUntil = async (sock: string, ok: (mac: string, peerMac: string) => boolean) => {
        const until = Date.now() + 15_000;
        for (;;) {
          const s = await nvoShow(sock);
          const peer = s.neighbours.find((n) => n.ip === (sock === s1 ? h2 : h1).underlayAddr)?.mac ?? '';
          if (ok(s.underlayMac, peer) || Date.now() > until) return { mac: s.underlayMac, peer };
          await sleep(200);
        }
      };

      // The wire goes and comes back as a new veth pair: both ends get addresses of their own.
      ip(h1.ns, 'link', 'del', h1.underlayIf);
      await statsUntil(s1, (x) => ioPort(x, 'ul0').state === 'gone');
      vethPair(h1.ns, h1.underlayIf, h2.ns, h2.underlayIf, 1500);
      ip(h1.ns, 'link', 'set', h1.underlayIf, 'address', '02:00:5e:00:01:01');
      ip(h2.ns, 'link', 'set', h2.underlayIf, 'address', '02:00:5e:00:01:02');
      ip(h1.ns, 'link', 'set', h1.underlayIf, 'up');
      ip(h2.ns, 'link', 'set', h2.underlayIf, 'up');
      let v = await showUntil(s1, (m) => m === '02:00:5e:00:01:01');
      assert.equal(v.mac, '02:00:5e:00:01:01', "host 1 took its device's new MAC");
      v = await showUntil(s2, (m) => m === '02:00:5e:00:01:02');
      assert.equal(v.mac, '02:00:5e:00:01:02', 'host 2 too');
      // Each host announces its new MAC at once and again 2 and 4 s later: the first may go out
      // before the other host's device and socket are back (then only a repeat reaches it).
      assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr, 10), 'traffic again');
      assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'both ways');

      // Given another address while up (no ENETDOWN, no re-attach): host 2's entry for host 1 follows
      // from the announcement, well before it would go stale (30 s) and be probed.
      const changedAt = Date.now();
      ip(h1.ns, 'link', 'set', 'dev', h1.underlayIf, 'address', '02:00:5e:00:01:03');
      v = await showUntil(s2, (_m, peer) => peer === '02:00:5e:00:01:03');
      assert.equal(v.peer, '02:00:5e:00:01:03', "host 2's neighbour entry has host 1's new MAC");
      assert.ok(Date.now() - changedAt < 10_000, `took ${Date.now() - changedAt} ms`);
      assert.ok(await ping(h2.guestNs!, h1.guestAddr, 2), 'traffic at once, both ways');
      assert.ok(await ping(h1.guestNs!, h2.guestAddr, 2));
      const st = await nvoStats(s1);
      assert.ok(st.counters['underlay-mac-changed']! >= 2, JSON.stringify(st.counters));
      // Three announcements per change (the repeats of the second may still be due).
      assert.ok(st.counters['tx-arp-announce']! >= 4, JSON.stringify(st.counters));
      for (const p of hosts.procs) assert.equal(p.exitCode, null);
    } finally {
      await hosts?.stop();
      tb.down(name);
    }
  });
});

describe('the underlay vanishes under nvo (socket underlay)', { skip }, () => {
  test('send errors counted, no crash; traffic again when the device and address are back', {
    timeout: 120_000,
  }, async () => {
    const name = uniqueName('nvow');
    const t = tb.up({ name, vxlan: null });
    let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
    try {
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      hosts = await startNvoHosts(t, { encap: 'vxlan', guestMtu: 1400, underlay: 'socket', udp: 'native' });
      assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'before');
      ip(h1.ns, 'link', 'del', h1.underlayIf);
      assert.equal(await ping(h1.guestNs!, h2.guestAddr, 2), false, 'no wire, no traffic');
      const s = await nvoStats(hosts.sockets[0]!);
      assert.equal(hosts.procs[0]!.exitCode, null, 'nvo still running');
      const u = ioPort(s, 'udp:');
      // No route to the peer any more: the kernel refuses each send, counted under its errno.
      const refused = Object.entries(u.counters).filter(([k]) => k.startsWith('tx-drop-'));
      assert.ok(refused.length > 0, JSON.stringify(u.counters));
      vethPair(h1.ns, h1.underlayIf, h2.ns, h2.underlayIf, 1500);
      for (const h of [h1, h2]) {
        ip(h.ns, 'addr', 'add', `${h.underlayAddr}/24`, 'dev', h.underlayIf);
        ip(h.ns, 'link', 'set', h.underlayIf, 'up');
      }
      assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr, 8), 'traffic again');
      for (const p of hosts.procs) assert.equal(p.exitCode, null);
    } finally {
      await hosts?.stop();
      tb.down(name);
    }
  });
});
