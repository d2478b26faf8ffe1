// Config validation, the control channel (over a real unix socket) and `nvo trace` on a switch built
// from a config.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildSwitch } from '../../src/control/build-switch.ts';
import { ConfigError, validateConfig } from '../../src/control/config.ts';
import { request } from '../../src/control/control-client.ts';
import { serveControl } from '../../src/control/control-server.ts';
import { frameFromFlow } from '../../src/control/frame-from-flow.ts';
import { clockMs } from '../../src/datapath/clock.ts';
import { formatIpv6, hex, parseIpv6 } from '../../src/wire/bytes.ts';
import { addr as ipv6Addr } from '../../src/wire/ipv6.ts';
import { haveScapy, scapy } from '../harness/tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'nvo-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = {
  name: 'h1',
  underlay: {
    ports: [{ name: 'eth0', device: 'veth0' }],
    addresses: ['10.0.0.1/24'],
    neighbours: [{ ip: '10.0.0.2', mac: '02:00:00:00:00:02' }],
  },
  guests: [{ name: 'g1', backend: 'tap', device: 'tap0', vni: 42 }],
  tunnels: [{ name: 'vx0', encap: 'vxlan', localIp: '10.0.0.1' }],
  vteps: { '42': ['10.0.0.2'] },
};

const memOpen = () => ({ txBurst: (b: { count: number }, from = 0) => b.count - from });

describe('config', () => {
  test('a valid config builds a switch with the right ports', () => {
    const sw = buildSwitch(validateConfig(CONFIG), memOpen);
    assert.deepEqual(
      [...sw.ports.values()].map((p) => p.name),
      ['eth0', 'g1', 'vx0'],
    );
    assert.equal(sw.port('g1')!.vni, 42);
  });

  test('an IPv6 underlay: addresses, routes via a gateway, static neighbours and VTEPs', () => {
    const sw = buildSwitch(
      validateConfig({
        ...CONFIG,
        underlay: {
          ports: [{ name: 'eth0', device: 'veth0' }],
          addresses: ['fd00::1/64', '10.0.0.1/24'],
          routes: [{ prefix: 'fd01::/48', via: 'fd00::fe' }],
          neighbours: [{ ip: 'fd00::fe', mac: '02:00:00:00:00:fe' }],
        },
        tunnels: [{ name: 'vx6', encap: 'vxlan', localIp: 'fd00::1' }],
        vteps: { '42': ['fd01::7', '10.0.0.2'] },
      }),
      memOpen,
    );
    const out = new Uint8Array(16);
    const dst = new Uint8Array(16);
    parseIpv6('fd01::7', dst, 0);
    sw.neighbours.nextHop6(dst, 0, out);
    assert.equal(formatIpv6(out, 0), 'fd00::fe', 'fd01::/48 goes via the gateway');
    parseIpv6('fd00::9', dst, 0);
    sw.neighbours.nextHop6(dst, 0, out);
    assert.equal(formatIpv6(out, 0), 'fd00::9', 'fd00::/64 is on-link');
    assert.ok(sw.neighbours.isLocal6(ipv6Addr('fd00::1'), 0));
    assert.deepEqual(
      sw.neighbours.dump().map((n) => [n.ip, n.mac, n.state]),
      [['fd00::fe', '02:00:00:00:00:fe', 'PERMANENT']],
    );
    assert.deepEqual(
      sw.vteps.get(42)!.map((v) => v.length),
      [16, 4],
    );
    assert.throws(
      () => validateConfig({ ...CONFIG, underlay: { addresses: ['fd00::1/129', 'fd00::zz/64'] } }),
      /underlay\.addresses\.0.*underlay\.addresses\.1/,
    );
    assert.throws(
      () =>
        buildSwitch(
          validateConfig({
            ...CONFIG,
            underlay: { ...CONFIG.underlay, routes: [{ prefix: 'fd01::/48', via: '10.0.0.254' }] },
          }),
          memOpen,
        ),
      /different IP versions/,
    );
  });

  test('bad fields are reported with their path', () => {
    const bad = {
      ...CONFIG,
      tunnels: [{ name: 'x', encap: 'vxlan3', localIp: '10.0.0.1' }],
      guests: [{ name: 'g', backend: 'tap', device: 't', vni: -1 }],
    };
    assert.throws(
      () => validateConfig(bad),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /tunnels\.0\.encap/);
        assert.match(e.message, /guests\.0\.vni/);
        return true;
      },
    );
    assert.throws(() => validateConfig({ ...CONFIG, bogus: 1 }), /bogus/);
  });
});

describe('control channel', () => {
  test('flows add / dump / del and stats over the unix socket', async () => {
    const sw = buildSwitch(validateConfig({ ...CONFIG, flows: [] }), memOpen);
    const path = join(dir, 'c.sock');
    const server = serveControl(sw, path);
    try {
      await request(path, {
        cmd: 'flows.add',
        flow: 'priority=100,in_port=g1,dl_dst=02:bb:00:00:00:02,actions=set_field:42->tun_id,set_field:10.0.0.2->tun_dst,output:vx0',
      });
      await request(path, { cmd: 'flows.add', flow: 'priority=0,actions=NORMAL' });
      const dump = (await request(path, { cmd: 'flows.dump' })) as string[];
      assert.equal(dump.length, 2);
      assert.match(
        dump[0]!,
        /priority=100,in_port=g1,dl_dst=02:bb:00:00:00:02 actions=set_field:0x2a->tun_id,set_field:10\.0\.0\.2->tun_dst,output:vx0/,
      );
      await assert.rejects(
        request(path, { cmd: 'flows.add', flow: 'priority=1,tp_dst=80,actions=drop' }),
        /prereq|tp_dst|match/i,
      );
      const del = (await request(path, { cmd: 'flows.del', flow: 'in_port=g1' })) as { deleted: number };
      assert.equal(del.deleted, 1);
      assert.equal(((await request(path, { cmd: 'flows.dump' })) as string[]).length, 1);
      const stats = (await request(path, { cmd: 'stats' })) as { ports: unknown[] };
      assert.equal(stats.ports.length, 3);
    } finally {
      server.close();
    }
  });

  test("config flows live on the daemon's clock: a hard timeout is counted from start, the dump's duration is ~0", async () => {
    // The daemon ticks and answers with clockMs(); config flows are added before the first tick (at 0).
    // With Date.now() as the clock they were 1.8e9 s old at once: expired by the first tick.
    const cfg = validateConfig({ ...CONFIG, flows: ['priority=5,hard_timeout=30,actions=drop'] });
    const sw = buildSwitch(cfg, memOpen);
    sw.tick(clockMs());
    const path = join(dir, 'clock.sock');
    const server = serveControl(sw, path);
    try {
      const dump = (await request(path, { cmd: 'flows.dump' })) as string[];
      assert.equal(dump.length, 1, 'not expired by the first tick');
      const secs = Number(/duration=([\d.]+)s/.exec(dump[0]!)![1]);
      assert.ok(secs < 60, dump[0]);
    } finally {
      server.close();
    }
  });

  test('trace shows the cache level, the matched table entry and the encapsulated output', async () => {
    const sw = buildSwitch(
      validateConfig({
        ...CONFIG,
        flows: [
          'priority=100,in_port=g1,tcp,actions=set_field:7->tun_id,set_field:10.0.0.2->tun_dst,output:vx0',
        ],
      }),
      memOpen,
    );
    const frame = frameFromFlow(
      'tcp,dl_src=02:aa:00:00:00:01,dl_dst=02:bb:00:00:00:02,nw_src=192.168.1.1,nw_dst=192.168.1.2,tp_dst=80',
    );
    const path = join(dir, 't.sock');
    const server = serveControl(sw, path);
    try {
      const lines = (await request(path, { cmd: 'trace', inPort: 'g1', hex: hex(frame) })) as string[];
      assert.deepEqual(lines.slice(1), [
        'cache: upcall',
        'table 0: matched priority=100 cookie=0x0',
        'actions: set_field,set_field,output',
        'output: vx0',
        `tx eth0: ${frame.length + 50} bytes`,
      ]);
      const again = (await request(path, { cmd: 'trace', inPort: 'g1', hex: hex(frame) })) as string[];
      assert.match(again[1]!, /cache: (megaflow|emc)/);
      const miss = (await request(path, {
        cmd: 'trace',
        inPort: 'g1',
        hex: hex(frameFromFlow('udp,nw_dst=1.2.3.4')),
      })) as string[];
      assert.ok(miss.includes('actions: drop'), miss.join('\n'));
      assert.ok(
        miss.some((l) => l.startsWith('drop: drop-no-actions')),
        miss.join('\n'),
      );
      assert.equal(sw.port('eth0')!.txPackets, 0, 'trace transmits nothing');
      // A next hop nvo has not resolved yet: the trace says the packet would wait, and changes nothing.
      const far = (await request(path, {
        cmd: 'trace',
        inPort: 'g1',
        hex: hex(
          frameFromFlow(
            'tcp,dl_src=02:aa:00:00:00:01,dl_dst=02:bb:00:00:00:02,nw_src=192.168.1.1,nw_dst=192.168.1.2,tp_dst=80',
          ),
        ),
      })) as string[];
      assert.ok(far.includes('output: vx0'), far.join('\n'));
      sw.neighbours.remove(sw.neighbours.lookup4(0x0a000002)!);
      const waits = (await request(path, { cmd: 'trace', inPort: 'g1', hex: hex(frame) })) as string[];
      assert.ok(waits.includes('next hop unresolved: the packet would wait for ARP/ND'), waits.join('\n'));
      assert.equal(sw.neighbours.size, 0, 'trace made no neighbour entry');
      assert.equal(sw.counters.get('tx-arp-request'), 0, 'trace sent no ARP');
    } finally {
      server.close();
    }
  });

  test('frameFromFlow builds what scapy builds', {
    skip: haveScapy() ? false : 'scapy is not installed',
  }, () => {
    const ours = frameFromFlow(
      'udp,dl_src=02:aa:00:00:00:01,dl_dst=02:bb:00:00:00:02,nw_src=192.168.1.1,nw_dst=192.168.1.2,tp_src=1000,tp_dst=53',
    );
    const theirs = scapy(
      "print(bytes(Ether(src='02:aa:00:00:00:01',dst='02:bb:00:00:00:02')/IP(src='192.168.1.1',dst='192.168.1.2',id=0,flags=0)/UDP(sport=1000,dport=53)/Raw(b'\\x00'*26)).hex())",
    ).trim();
    assert.equal(hex(ours), theirs);
  });
});

describe('nvo trace / flows CLI', () => {
  const nvo = join(import.meta.dirname, '../../bin/nvo');
  test('nvo trace --config prints the path', () => {
    const file = join(dir, 'nvo.yaml');
    writeFileSync(file, JSON.stringify(CONFIG)); // JSON is YAML
    const out = execFileSync(
      nvo,
      [
        'trace',
        '--config',
        file,
        '--in-port',
        'g1',
        'arp,dl_src=02:aa:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=192.168.1.1,arp_tpa=192.168.1.2',
      ],
      { encoding: 'utf8' },
    );
    assert.match(out, /cache: upcall/);
    assert.match(out, /output: vx0/);
    // The ARP frame is padded to the 60-byte minimum; VXLAN over IPv4 adds 14 + 20 + 8 + 8 = 50 bytes.
    assert.match(out, /tx eth0: 110 bytes/);
  });

  test('a bad config is one line and exit 2', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: x\ntunnels:\n  - {name: t, encap: nope, localIp: 1.2.3.4}\n');
    const r = spawnSync(nvo, ['trace', '--config', file, '--in-port', '1', 'ip'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /tunnels\.0\.encap/);
  });

  test('nvo flows parse normalises like ovs-ofctl', () => {
    const out = execFileSync(
      nvo,
      [
        'flows',
        'parse',
        'priority=100,in_port=1,dl_dst=00:11:22:33:44:55,actions=set_field:42->tun_id,output:3',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(
      out.trim(),
      'priority=100,in_port=1,dl_dst=00:11:22:33:44:55 actions=set_field:0x2a->tun_id,output:3',
    );
  });
});
