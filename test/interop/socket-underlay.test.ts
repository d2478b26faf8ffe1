// Underlay mode socket on real interfaces: the kernel keeps the underlay addresses, routes and ARP, and
// `nvo run` (inside each host namespace) carries VXLAN / Geneve / VXLAN-SOE payloads through UDP sockets.
//   - nvo ↔ nvo: guest ping both ways and iperf3 TCP both ways; the native sockets really used UDP GSO
//     on send and UDP GRO on receive (socket counters), and GRO'd reads were coalesced back into inner
//     superframes (fewer flow lookups than datagrams); then, with GSO off on the underlay veths so the
//     wire carries what a NIC would send, a tcpdump capture that tshark decodes as the encapsulation,
//     VNI 42, no malformed frame, every outer and inner IPv4/UDP/TCP checksum Good, every datagram
//     within the 1500-byte MTU (SOE: outer IPv4 fragments).
//   - nvo ↔ the Linux kernel's vxlan device (the independent peer): ping and TCP both ways.
//   - nvo ↔ nvo over an IPv6 underlay (Geneve, fd00::1 ↔ fd00::2): ping and TCP both ways.
//   - node:dgram forced (--udp dgram): ping and TCP, and the one-line notice saying so.
//   - the addon off (NVO_NATIVE=off) with TAP guests: a clear error, exit status 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { iperf } from '../../testbed/iperf.ts';
import { ip, setOffloads, uniqueName } from '../../testbed/netns.ts';
import { startNvoHosts } from '../../testbed/nvo-hosts.ts';
import * as tb from '../../testbed/testbed.ts';
import { fields, tsharkMalformed } from '../harness/tools.ts';
import { capture, ioPort, nvoStats, ping, pingEventually, tsharkLayers } from './guest-traffic.ts';
import { interopSkip } from './skip.ts';

const run = promisify(execFile);
const NVO = new URL('../../bin/nvo', import.meta.url).pathname;
const skip = interopSkip('iperf3', 'tcpdump', 'tshark');

const TSHARK_PROTO: Record<string, string> = { vxlan: 'vxlan', 'vxlan-soe': 'vxlan', geneve: 'geneve' };

async function tcpBothWays(h1: tb.HostInfo, h2: tb.HostInfo, port: number): Promise<void> {
  const a = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 2, port });
  assert.ok(a.bitsPerSecond > 20e6, `TCP guest 1 → 2: ${a.bitsPerSecond} bit/s`);
  const b = await iperf(h2.guestNs!, h1.guestNs!, h1.guestAddr, { seconds: 2, port: port + 1 });
  assert.ok(b.bitsPerSecond > 20e6, `TCP guest 2 → 1: ${b.bitsPerSecond} bit/s`);
}

for (const encap of (process.env.NVO_SOCKET_ENCAPS ?? 'vxlan,geneve,vxlan-soe').split(',')) {
  describe(`socket underlay: nvo ${encap} ↔ nvo`, { skip }, () => {
    test('ping and TCP both ways with UDP GSO/GRO; the wire decodes cleanly', {
      timeout: 150_000,
    }, async () => {
      const name = uniqueName('nvos');
      const t = tb.up({ name, vxlan: null });
      const dir = mkdtempSync(join(tmpdir(), 'nvo-sock-'));
      let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
      try {
        const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
        hosts = await startNvoHosts(t, { encap, guestMtu: 1400, underlay: 'socket', udp: 'native' });
        assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'ping guest 1 → guest 2');
        assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'ping guest 2 → guest 1');
        await tcpBothWays(h1, h2, 5411);
        const s1 = await nvoStats(hosts.sockets[0]!);
        const s2 = await nvoStats(hosts.sockets[1]!);
        for (const s of [s1, s2]) {
          const u = ioPort(s, 'udp:');
          assert.equal(u.kind, 'udp');
          if (encap === 'vxlan-soe') {
            // SOE: one datagram per guest superframe, fragmented and reassembled by the kernels.
            assert.ok(s.counters['normal-forward']! > 0);
          } else {
            // UDP_SEGMENT sends of packed tunnel packets, and UDP_GRO reads split again.
            assert.ok(
              (u.counters['tx-superframes'] ?? 0) > 0,
              `UDP GSO sends: ${JSON.stringify(u.counters)}`,
            );
            assert.ok(
              (s.counters['socket-rx-gro-reads'] ?? 0) > 0,
              `GRO reads: ${JSON.stringify(s.counters)}`,
            );
            // Inner TCP coalesced again: far fewer flow lookups than datagrams received.
            const lookups = (s.counters['normal-forward'] ?? 0) + (s.counters['normal-flood'] ?? 0);
            assert.ok(lookups * 2 < s.counters['socket-rx-datagrams']!, `${lookups} lookups`);
          }
          assert.equal(
            Object.keys(s.counters).filter((k) => k.startsWith('drop-socket')).length,
            0,
            JSON.stringify(s.counters),
          );
        }
        // The wire as a NIC would put it: no GSO and no checksum offload on the underlay veths, so
        // each datagram is a frame and every checksum on the wire is complete (tshark checks them all).
        for (const h of t.hosts)
          setOffloads(h.ns, h.underlayIf, { gso: 'off', 'tx-udp-segmentation': 'off', tx: 'off' });
        const pcap = join(dir, 'wire.pcap');
        const dump = await capture(h2.ns, h2.underlayIf, pcap);
        try {
          await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 1, port: 5413 });
        } finally {
          await dump.stop();
        }
        const frames = await tsharkLayers(pcap, 400, [
          'ip.check_checksum:TRUE',
          'udp.check_checksum:TRUE',
          'tcp.check_checksum:TRUE',
        ]);
        const proto = TSHARK_PROTO[encap]!;
        const tunnel = frames.filter((l) => proto in l);
        assert.ok(tunnel.length > 10, `${tunnel.length} ${proto} frames of ${frames.length}`);
        let fragments = 0;
        for (const l of frames) {
          const cut = Number(fields(l, 'frame.len')[0]) > Number(fields(l, 'frame.cap_len')[0]);
          if (!cut) assert.equal(tsharkMalformed(l), undefined, JSON.stringify(l).slice(0, 300));
          assert.ok(Number(fields(l, 'ip.len')[0] ?? 0) <= 1500, 'within the underlay MTU');
          if (fields(l, 'ip.flags.mf')[0] === '1' || fields(l, 'ip.flags.mf')[0] === 'True') fragments++;
        }
        for (const l of tunnel) {
          assert.equal(Number(fields(l, `${proto}.vni`)[0]), 42);
          // Outer IPv4 and UDP (the kernel's), inner IPv4 and TCP (nvo's segmentation): all Good (1).
          const sums = [...fields(l, 'ip.checksum.status'), ...fields(l, 'udp.checksum.status')];
          sums.push(...fields(l, 'tcp.checksum.status'));
          assert.ok(sums.length >= 2 && sums.every((x) => x === '1'), `checksums ${sums}`);
        }
        if (encap === 'vxlan-soe') assert.ok(fragments > 0, 'SOE datagrams leave as outer IPv4 fragments');
      } finally {
        await hosts?.stop();
        tb.down(name);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('socket underlay: nvo VXLAN ↔ the Linux kernel vxlan device', { skip }, () => {
  for (const udpcsum of [false, true])
    test(`ping and TCP both ways (kernel ${udpcsum ? 'udpcsum' : 'noudpcsum'})`, {
      timeout: 120_000,
    }, async () => {
      const name = uniqueName('nvok');
      const t = tb.up({ name, vxlan: null });
      let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
      try {
        const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
        // Host 2: the kernel's VXLAN (VNI 42, port 4789, outer checksum off — Linux's default — or on)
        // bridged to its guest; host 1: nvo in socket mode.
        tb.addKernelVxlan(t, h2, { vni: 42, port: 4789, udpcsum }, 1450);
        // The kernel side's veth must finish checksums and segment, as a NIC would: a veth passes the
        // kernel's CHECKSUM_PARTIAL inner TCP checksum on unfinished, and a UDP socket (unlike AF_PACKET's
        // vnet_hdr) cannot tell nvo so. Kernel VTEPs behind real NICs need nothing.
        setOffloads(h2.ns, h2.underlayIf, { tx: 'off', tso: 'off', gso: 'off' });
        ip(h2.guestNs!, 'link', 'set', 'eth0', 'mtu', '1450');
        hosts = await startNvoHosts(
          { ...t, hosts: [h1] },
          {
            encap: 'vxlan',
            guestMtu: 1400,
            underlay: 'socket',
            udp: 'native',
            vteps: [h2.underlayAddr],
          },
        );
        assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'ping nvo guest → kernel guest');
        assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'ping kernel guest → nvo guest');
        await tcpBothWays(h1, h2, udpcsum ? 5423 : 5421);
      } finally {
        await hosts?.stop();
        tb.down(name);
      }
    });
});

describe('socket underlay over IPv6: nvo Geneve ↔ nvo', { skip }, () => {
  test('ping and TCP both ways between fd00::1 and fd00::2', { timeout: 120_000 }, async () => {
    const name = uniqueName('nvo6');
    const t = tb.up({ name, vxlan: null });
    const started: Awaited<ReturnType<typeof startNvoHosts>>[] = [];
    try {
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      const v6 = ['fd00::1', 'fd00::2'];
      for (const [i, h] of [h1, h2].entries()) {
        ip(h.ns, 'addr', 'add', `${v6[i]}/64`, 'dev', h.underlayIf, 'nodad');
        started.push(
          await startNvoHosts(
            { ...t, hosts: [h] },
            {
              encap: 'geneve',
              guestMtu: 1400,
              underlay: 'socket',
              udp: 'native',
              extraTunnel: { localIp: v6[i] },
              vteps: [v6[1 - i]!],
            },
          ),
        );
      }
      assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'ping guest 1 → guest 2');
      assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'ping guest 2 → guest 1');
      await tcpBothWays(h1, h2, 5451);
      assert.equal(ioPort(await nvoStats(started[0]!.sockets[0]!), 'udp:').name, 'udp:[fd00::1]:6081');
    } finally {
      for (const s of started) await s.stop();
      tb.down(name);
    }
  });
});

describe('socket underlay over node:dgram (--udp dgram)', { skip }, () => {
  test('ping and TCP both ways, and one line saying why', { timeout: 120_000 }, async () => {
    const name = uniqueName('nvod');
    const t = tb.up({ name, vxlan: null });
    let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
    try {
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      hosts = await startNvoHosts(t, { encap: 'vxlan', guestMtu: 1400, underlay: 'socket', udp: 'dgram' });
      assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'ping guest 1 → guest 2');
      assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'ping guest 2 → guest 1');
      await tcpBothWays(h1, h2, 5431);
      for (const [i, err] of hosts.stderr.entries()) {
        const notes = err.split('\n').filter((l) => /node:dgram/.test(l));
        assert.deepEqual(
          notes,
          ['nvo: native UDP I/O off (forced by --udp dgram): using node:dgram UDP, no GSO/GRO'],
          `host ${i + 1} stderr: ${err}`,
        );
        assert.equal(ioPort(await nvoStats(hosts.sockets[i]!), 'udp:').kind, 'udp-dgram');
      }
    } finally {
      await hosts?.stop();
      tb.down(name);
    }
  });
});

describe('nvo run without the addon', () => {
  test('socket-mode tunnels fall back to node:dgram; TAP guests are a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvo-nonative-'));
    try {
      const file = join(dir, 'nvo.yaml');
      writeFileSync(
        file,
        JSON.stringify({
          underlay: { mode: 'socket' },
          guests: [{ name: 'g1', backend: 'tap', device: 'nvotapx0' }],
          tunnels: [{ name: 'vx0', encap: 'vxlan', localIp: '127.0.0.1', dstPort: 24789 }],
          control: { socket: join(dir, 'c.sock') },
        }),
      );
      const r = await run(NVO, ['run', '--config', file], {
        env: { ...process.env, NVO_NATIVE: 'off' },
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr.trim(),
        'nvo: guest g1 (tap): TAP and AF_PACKET need the native addon and root (native I/O unavailable: disabled by NVO_NATIVE=off); nvo has no pure-Node back end for these (a guest can be backend udp)',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
