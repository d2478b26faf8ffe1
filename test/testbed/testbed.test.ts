// The test bed library against the kernel: guests reach each other through kernel VXLAN (the
// baseline the benchmarks compare against), tear-down leaves nothing, and a failing `up` cleans up.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadNative, nativeUnavailable } from '../../src/io/native.ts';
import { TapPort } from '../../src/io/tap.ts';
import { Batch } from '../../src/packet/batch.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { iperf } from '../../testbed/iperf.ts';
import { getOffloads, have, netnsList, nsRun, testbedUnavailable, uniqueName } from '../../testbed/netns.ts';
import { down, status, up } from '../../testbed/testbed.ts';

const skip = testbedUnavailable() || false;
const skipNative = loadNative() ? false : nativeUnavailable();

describe('testbed', { skip }, () => {
  const name = uniqueName('nvotb');
  after(() => down(name));

  it('up --vxlan: guest 1 reaches guest 2 through kernel VXLAN over the underlay wire; down removes all', async (t) => {
    const tb = up({
      name,
      hosts: 2,
      vxlan: { vni: 42, port: 4789, udpcsum: true },
      underlayOffloads: { tso: 'off' },
    });
    const [h1, h2] = tb.hosts;
    assert.deepEqual(
      netnsList()
        .filter((n) => n.startsWith(`${name}-`))
        .sort(),
      [`${name}-g1`, `${name}-g2`, `${name}-h1`, `${name}-h2`],
    );
    const s = status(name);
    const g1 = s.find((x) => x.ns === h1!.guestNs)!.links.find((l) => l.name === 'eth0')!;
    assert.equal(g1.mtu, 1450, 'guest MTU = underlay 1500 - 50 bytes of VXLAN/UDP/IPv4/Ethernet');
    assert.deepEqual(
      g1.addrs.filter((a) => a.includes('.')),
      ['10.98.0.1/24'],
    );
    assert.equal(getOffloads(h1!.ns, 'ul0')['tcp-segmentation-offload'], 'off');
    // A datagram from guest 1 arrives in guest 2 (ARP and the frame both cross the kernel VTEPs).
    const out = nsRun(h2!.guestNs!, '/usr/bin/python3', [
      '-c',
      [
        'import socket, subprocess',
        's=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        "s.bind(('10.98.0.2', 7600)); s.settimeout(5)",
        `subprocess.run(['ip','netns','exec','${h1!.guestNs}','python3','-c',"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'over-vxlan', ('10.98.0.2', 7600))"], check=True)`,
        'd,a=s.recvfrom(100); print(d.decode(), a[0])',
      ].join('\n'),
    ]);
    assert.equal(out.trim(), 'over-vxlan 10.98.0.1');
    if (have('/usr/bin/iperf3')) {
      const r = await iperf(h1!.guestNs!, h2!.guestNs!, h2!.guestAddr, { seconds: 1 });
      t.diagnostic(
        `kernel VXLAN baseline (1 s, tso off at the wire): ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`,
      );
      assert.ok(r.bitsPerSecond > 1e6);
    }
    assert.equal(down(name).length, 4);
    assert.deepEqual(down(name), [], 'idempotent');
    assert.equal(netnsList().filter((n) => n.startsWith(`${name}-`)).length, 0);
  });

  it('a failing up (bad ethtool feature) leaves no namespace behind', () => {
    const bad = `${name}x`;
    assert.throws(
      () => up({ name: bad, hosts: 3, underlayOffloads: { 'no-such-feature': 'off' } }),
      /ethtool/,
    );
    assert.equal(netnsList().filter((n) => n.startsWith(`${bad}-`)).length, 0);
  });

  it('guestLink tap: the guest eth0 is a persistent vnet TAP that a TapPort attaches to', {
    skip: skipNative,
  }, async () => {
    const n = `${name}t`;
    try {
      const tb = up({ name: n, hosts: 2, guestLink: 'tap' });
      const h1 = tb.hosts[0]!;
      assert.equal(h1.guestTapNetns, `/run/netns/${n}-g1`);
      const pool = new Pool(16, SUPER_SLOT);
      const port = new TapPort({ name: 'eth0', pool, netns: h1.guestTapNetns! });
      try {
        // The guest's kernel sends; the frame must come out of the TAP (ARP for the unknown peer).
        nsRun(h1.guestNs!, '/usr/bin/python3', [
          '-c',
          "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('10.98.0.2', 9))",
        ]);
        const b = new Batch(16);
        let arp: Uint8Array | undefined;
        for (let i = 0; i < 200 && !arp; i++) {
          const k = port.rxBurst(b);
          for (let j = 0; j < k; j++) {
            const p = b.packets[j]!;
            if (p.buf[p.start + 12] === 0x08 && p.buf[p.start + 13] === 0x06) arp = p.bytes();
            pool.free(p);
          }
          b.clear();
          if (k === 0) await sleep(10);
        }
        assert.ok(arp, 'an ARP request from the guest');
        assert.deepEqual([...arp.subarray(38, 42)], [10, 98, 0, 2], 'asking for 10.98.0.2');
        assert.deepEqual([...arp.subarray(6, 12)], [2, 0, 0, 0x98, 0, 1], 'from the guest MAC');
      } finally {
        port.close();
      }
    } finally {
      down(n);
    }
  });
});
