// nvo over an IPv6 underlay on real interfaces, with NO static neighbours: every next hop is found by
// Neighbor Discovery. (1) nvo ↔ nvo: two `nvo run` processes in network namespaces, each owning its
// IPv6 underlay address (the kernel there has none), learn each other by NS/NA; guests ping both ways
// and run TCP. (2) nvo ↔ the Linux kernel's vxlan device over IPv6: the kernel resolves nvo's address
// by ND (its neighbour table must show nvo's MAC, learned from nvo's NA) and nvo resolves the kernel's;
// ping and TCP both ways; the kernel host pings nvo's own addresses (IPv6 and IPv4). (3) The NA nvo answers is byte for byte the kernel's, for a multicast NS, a
// unicast NS and a DAD NS (the kernel's reply captured on a veth in a namespace).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { buildSwitch } from '../../src/control/build-switch.ts';
import { validateConfig } from '../../src/control/config.ts';
import { request } from '../../src/control/control-client.ts';
import { startDaemon } from '../../src/control/daemon.ts';
import { Batch } from '../../src/packet/batch.ts';
import { Pool } from '../../src/packet/pool.ts';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import { iperf } from '../../testbed/iperf.ts';
import { ip, isRoot, nsRun, uniqueName } from '../../testbed/netns.ts';
import { startNvoHosts } from '../../testbed/nvo-hosts.ts';
import * as tb from '../../testbed/testbed.ts';
import { needScapy, PYTHON } from '../harness/tools.ts';
import { pingEventually } from './guest-traffic.ts';
import { interopSkip } from './skip.ts';

const run = promisify(execFile);
const skip = interopSkip('iperf3', 'ping');

/** Host i's IPv6 underlay address (a ULA, RFC 4193). */
const v6 = (h: tb.HostInfo) => `fd00:99::${h.index}`;

async function ping(ns: string, addr: string): Promise<boolean> {
  try {
    const r = await run('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.2', '-W', '3', addr]);
    return / 0% packet loss/.test(r.stdout);
  } catch {
    return false;
  }
}

interface Stats {
  counters: Record<string, number>;
}
interface Show {
  underlayMac: string;
  neighbours: { ip: string; mac: string; state: string; static: boolean }[];
}

describe('nvo ↔ nvo over an IPv6 underlay, neighbours found by ND', { skip }, () => {
  test('ping both ways and TCP; each learned the other by NS/NA', { timeout: 120_000 }, async () => {
    const name = uniqueName('nvo6');
    const t = tb.up({ name, vxlan: null });
    const started: Awaited<ReturnType<typeof startNvoHosts>>[] = [];
    try {
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      // One nvo per host, each with an IPv6 tunnel endpoint and the other host as its only VTEP.
      for (const [h, other] of [
        [h1, h2],
        [h2, h1],
      ] as const)
        started.push(
          await startNvoHosts(
            { ...t, hosts: [h] },
            { encap: 'vxlan', guestMtu: 1400, extraTunnel: { localIp: v6(h) }, vteps: [v6(other)] },
          ),
        );
      assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'ping guest 1 → guest 2');
      assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'ping guest 2 → guest 1');
      const r = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 1, port: 5461 });
      assert.ok(r.bitsPerSecond > 5e6, `TCP ${r.bitsPerSecond} bit/s`);
      for (const [i, other] of [
        [0, h2],
        [1, h1],
      ] as const) {
        const socket = started[i]!.sockets[0]!;
        const stats = (await request(socket, { cmd: 'stats' })) as Stats;
        const show = (await request(socket, { cmd: 'show' })) as Show;
        const peer = (await request(started[1 - i]!.sockets[0]!, { cmd: 'show' })) as Show;
        assert.ok(
          (stats.counters['tx-nd-ns'] ?? 0) >= 1,
          `host ${i + 1} sent NS: ${JSON.stringify(stats.counters)}`,
        );
        assert.ok((stats.counters['tx-nd-na'] ?? 0) >= 1, `host ${i + 1} answered NS`);
        const n = show.neighbours.find((x) => x.ip === v6(other));
        assert.ok(n, `host ${i + 1} knows ${v6(other)}: ${JSON.stringify(show.neighbours)}`);
        assert.equal(n.mac, peer.underlayMac, 'learned the peer nvo MAC');
        assert.equal(n.static, false);
      }
    } finally {
      for (const s of started) await s.stop();
      tb.down(name);
    }
  });
});

describe('nvo VXLAN over IPv6 ↔ kernel vxlan over IPv6', { skip }, () => {
  test('the kernel resolves nvo by ND and nvo the kernel; ping and TCP both ways', {
    timeout: 120_000,
  }, async () => {
    const name = uniqueName('nvok6');
    const t = tb.up({ name, vxlan: null });
    let daemon: ReturnType<typeof startDaemon> | undefined;
    try {
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      // Host 2: the kernel, with an IPv6 underlay address and a vxlan device over it (its own ND).
      ip(h2.ns, '-6', 'addr', 'add', `${v6(h2)}/64`, 'dev', h2.underlayIf, 'nodad');
      const six = (h: tb.HostInfo) => ({ ...h, underlayAddr: v6(h) });
      const t6 = { ...t, hosts: [six(h1), six(h2)] };
      tb.addKernelVxlan(t6, t6.hosts[1]!, { vni: 42, port: 4789, udpcsum: true }, 1400);
      // Host 1: nvo owns the IPv6 underlay address (the kernel there has none).
      ip(h1.ns, 'addr', 'flush', 'dev', h1.underlayIf);
      ip(h1.guestNs!, 'link', 'set', 'eth0', 'mtu', '1400');
      daemon = startDaemon(
        validateConfig({
          name,
          control: { socket: `/run/nvo/${name}.sock` },
          underlay: {
            ports: [{ name: 'ul0', device: h1.underlayIf, netns: h1.ns }],
            addresses: [`${v6(h1)}/64`, `${h1.underlayAddr}/24`],
          },
          guests: [{ name: 'g1', backend: 'af-packet', device: h1.guestIf, netns: h1.ns, vni: 42 }],
          tunnels: [{ name: 'vx0', encap: 'vxlan', localIp: v6(h1) }],
          vteps: { '42': [v6(h2)] },
        }),
      );
      // The kernel may have learned nvo's MAC already from an NS nvo sent (flooding the guest's own
      // IPv6 chatter): forget it, and let the kernel side speak first, so the kernel must resolve
      // nvo's address by its own NS.
      await new Promise((r) => setTimeout(r, 300));
      ip(h2.ns, '-6', 'neigh', 'flush', 'dev', h2.underlayIf);
      assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'ping kernel guest → nvo guest');
      assert.ok(await ping(h1.guestNs!, h2.guestAddr), 'ping nvo guest → kernel guest');
      const up = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 2, port: 5463 });
      const down = await iperf(h2.guestNs!, h1.guestNs!, h1.guestAddr, { seconds: 2, port: 5464 });
      assert.ok(up.bitsPerSecond > 10e6, `nvo → kernel ${up.bitsPerSecond} bit/s`);
      assert.ok(down.bitsPerSecond > 10e6, `kernel → nvo ${down.bitsPerSecond} bit/s`);
      // The kernel's neighbour entry for nvo's address carries nvo's MAC: it came from nvo's NA.
      const mac = [...daemon.sw.underlayMac].map((x) => x.toString(16).padStart(2, '0')).join(':');
      const neigh = nsRun(h2.ns, 'ip', ['-6', 'neigh', 'show', 'dev', h2.underlayIf, 'to', v6(h1)]);
      assert.match(neigh, new RegExp(`lladdr ${mac}`), neigh);
      const e = daemon.sw.neighbours.dump().find((x) => x.ip === v6(h2));
      const kmac = nsRun(h2.ns, 'cat', [`/sys/class/net/${h2.underlayIf}/address`]).trim();
      assert.equal(e?.mac, kmac, 'nvo learned the kernel host MAC');
      assert.ok(daemon.sw.port('vx0')!.rxPackets > 100);
      // The kernel may have taken nvo's MAC from an NS of nvo's (RFC 4861 §7.2.3: an NS with a source
      // link-layer address makes a STALE entry) instead of asking: flush it once more and ping nvo's
      // address from the kernel host itself (nvo owns it and answers: echo-reply.ts), which it can
      // only reach after its own NS and nvo's NA.
      const na = daemon.sw.counters.get('tx-nd-na');
      ip(h2.ns, '-6', 'neigh', 'flush', 'dev', h2.underlayIf);
      assert.ok(await ping(h2.ns, v6(h1)), `ping ${v6(h1)} (nvo)`);
      const c = daemon.sw.counters.snapshot();
      assert.ok((c['tx-nd-na'] ?? 0) > na, `nvo answered the kernel's NS: ${JSON.stringify(c)}`);
      assert.match(
        nsRun(h2.ns, 'ip', ['-6', 'neigh', 'show', 'dev', h2.underlayIf, 'to', v6(h1)]),
        new RegExp(`lladdr ${mac}`),
      );
      assert.ok(await ping(h2.ns, h1.underlayAddr), `ping ${h1.underlayAddr} (nvo)`);
      const after = daemon.sw.counters.snapshot();
      assert.ok((after['tx-icmpv6-echo-reply'] ?? 0) >= 3 && (after['tx-icmp-echo-reply'] ?? 0) >= 3);
    } finally {
      daemon?.stop();
      tb.down(name);
    }
  });
});

describe('nvo answers Neighbor Solicitations exactly as the Linux kernel does', {
  skip: !isRoot() ? 'needs root (network namespaces)' : needScapy(),
}, () => {
  test('multicast NS (S, O, TLL), unicast NS (S only), DAD NS (to ff02::1, O, TLL)', {
    timeout: 60_000,
  }, async () => {
    const name = uniqueName('nvond');
    const [a, b] = [`${name}-a`, `${name}-b`];
    const A = '02:00:00:00:00:01';
    const B = '02:00:00:00:00:02';
    const ns = [
      `Ether(src='${B}',dst='33:33:ff:00:00:01')/IPv6(src='fd00::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')/ICMPv6NDOptSrcLLAddr(lladdr='${B}')`,
      `Ether(src='${B}',dst='${A}')/IPv6(src='fd00::2',dst='fd00::1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')/ICMPv6NDOptSrcLLAddr(lladdr='${B}')`,
      `Ether(src='${B}',dst='33:33:ff:00:00:01')/IPv6(src='::',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')`,
    ];
    let kernel: string[];
    try {
      ip(null, 'netns', 'add', a);
      ip(null, 'netns', 'add', b);
      ip(null, 'link', 'add', 'a0', 'netns', a, 'type', 'veth', 'peer', 'name', 'b0', 'netns', b);
      ip(a, 'link', 'set', 'a0', 'address', A);
      ip(b, 'link', 'set', 'b0', 'address', B);
      ip(a, 'link', 'set', 'a0', 'up');
      ip(b, 'link', 'set', 'b0', 'up');
      ip(a, '-6', 'addr', 'add', 'fd00::1/64', 'dev', 'a0', 'nodad');
      // The kernel's answer to each NS, sniffed on the other end of the veth.
      const script = [
        'from scapy.all import *',
        'conf.verb = 0',
        'import time',
        `for pkt in [${ns.join(', ')}]:`,
        "    t = AsyncSniffer(iface='b0', lfilter=lambda p: ICMPv6ND_NA in p, count=1, timeout=3)",
        '    t.start(); time.sleep(0.3)',
        "    sendp(pkt, iface='b0')",
        '    t.join()',
        "    print(bytes(t.results[0]).hex() if t.results else 'none')",
      ].join('\n');
      const r = await run('ip', ['netns', 'exec', b, PYTHON, '-c', script]);
      kernel = r.stdout.trim().split('\n');
    } finally {
      for (const n of [a, b]) ip(null, 'netns', 'del', n);
    }
    // nvo with the same MAC and address answers the same frames.
    const sent: string[] = [];
    const sw = buildSwitch(
      validateConfig({
        underlay: { mac: A, ports: [{ name: 'ul0', device: 'x' }], addresses: ['fd00::1/64'] },
        flows: [],
      }),
      () => ({
        txBurst: (bt: Batch, from = 0) => {
          for (let i = from; i < bt.count; i++) sent.push(hex(bt.packets[i]!.bytes()));
          return bt.count - from;
        },
      }),
    );
    const pool = new Pool(8);
    const frames = (
      await run(PYTHON, ['-c', `from scapy.all import *\nfor p in [${ns.join(', ')}]: print(bytes(p).hex())`])
    ).stdout
      .trim()
      .split('\n');
    for (const f of frames) {
      const p = pool.alloc()!;
      const bytes = fromHex(f);
      p.buf.set(bytes, p.start);
      p.end = p.start + bytes.length;
      const bt = new Batch(1);
      bt.push(p);
      sw.receive(sw.port('ul0')!.no, bt, 0);
      sw.flush();
    }
    assert.equal(kernel.length, 3);
    assert.ok(!kernel.includes('none'), `the kernel answered every NS: ${kernel.join(' ')}`);
    assert.deepEqual(sent, kernel);
  });
});
