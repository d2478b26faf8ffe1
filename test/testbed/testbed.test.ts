// The test bed library against the kernel: guests reach each other through kernel VXLAN (the
// baseline the benchmarks compare against), tear-down leaves nothing, and a failing `up` cleans up.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { iperf } from '../../testbed/iperf.ts';
import { getOffloads, have, netnsList, nsRun, testbedUnavailable, uniqueName } from '../../testbed/netns.ts';
import { down, status, up } from '../../testbed/testbed.ts';

const skip = testbedUnavailable() || false;

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
});
