// Config validation for underlay mode socket: what it refuses, with the path of the field and why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from './config.ts';

function error(doc: unknown): string {
  try {
    validateConfig(doc);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail('accepted');
}

const vx = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  encap: 'vxlan',
  localIp: '10.0.0.1',
  ...extra,
});

describe('config: underlay mode socket', () => {
  it('defaults to raw, MTU 1500', () => {
    const c = validateConfig({});
    assert.equal(c.underlay.mode, 'raw');
    assert.equal(c.underlay.mtu, 1500);
  });

  it('accepts the UDP encapsulations', () => {
    const c = validateConfig({
      underlay: { mode: 'socket', mtu: 9000 },
      tunnels: [
        vx('a'),
        { name: 'b', encap: 'geneve', localIp: '10.0.0.1' },
        { name: 'c', encap: 'vxlan-gpe', localIp: '10.0.0.1' },
        vx('d', { encap: 'vxlan-soe', key: 7 }),
      ],
    });
    assert.equal(c.underlay.mode, 'socket');
    assert.equal(c.tunnels.length, 4);
  });

  it('refuses STT, GRE and NVGRE, saying why', () => {
    for (const [encap, why] of [
      ['stt', 'STT is a TCP-like header on raw IP'],
      ['gre', 'GRE is IP protocol 47'],
      ['nvgre', 'NVGRE is GRE'],
    ]) {
      const m = error({ underlay: { mode: 'socket' }, tunnels: [vx('ok'), vx('t', { encap })] });
      assert.match(m, new RegExp(`tunnels\\.1\\.encap: ${encap} cannot use underlay mode socket: ${why}`));
    }
  });

  it('refuses the raw underlay fields: the kernel owns the underlay', () => {
    const m = error({
      underlay: { mode: 'socket', ports: [{ name: 'u', device: 'eth0' }], addresses: ['10.0.0.1/24'] },
      tunnels: [vx('a')],
    });
    assert.match(m, /underlay\.ports: not used with mode: socket/);
    assert.match(m, /underlay\.addresses: not used with mode: socket/);
    assert.match(error({ underlay: { netns: 'x' } }), /underlay\.netns: only used with mode: socket/);
  });

  it('one socket reads one encapsulation: two on the same address and port are refused', () => {
    const m = error({
      underlay: { mode: 'socket' },
      tunnels: [vx('a'), { name: 'b', encap: 'geneve', localIp: '10.0.0.1', dstPort: 4789 }],
    });
    assert.match(m, /tunnels\.1\.dstPort: 10\.0\.0\.1 port 4789 already carries vxlan/);
    // VXLAN and VXLAN-SOE share a socket (the S bit tells them apart); other addresses are other sockets.
    validateConfig({
      underlay: { mode: 'socket' },
      tunnels: [
        vx('a', { key: 1 }),
        vx('b', { encap: 'vxlan-soe', key: 2 }),
        vx('c', { localIp: '10.0.0.2', encap: 'geneve', dstPort: 4789 }),
      ],
    });
  });
});

describe('config: guests over UDP (backend udp)', () => {
  it('takes address:port to bind and a peer', () => {
    const c = validateConfig({
      guests: [{ name: 'vm', backend: 'udp', device: '127.0.0.1:5000', peer: '[::1]:5001', vni: 42 }],
    });
    assert.equal(c.guests[0]!.peer, '[::1]:5001');
  });

  it('says what is missing or wrong', () => {
    assert.match(
      error({ guests: [{ name: 'vm', backend: 'udp', device: 'eth0' }] }),
      /guests\.0\.device: backend udp binds address:port/,
    );
    assert.match(
      error({ guests: [{ name: 'vm', backend: 'udp', device: '127.0.0.1:5000' }] }),
      /guests\.0\.peer: backend udp needs/,
    );
    assert.match(
      error({ guests: [{ name: 'vm', backend: 'tap', device: 'tap0', peer: '127.0.0.1:1' }] }),
      /guests\.0\.peer: only used with backend udp/,
    );
    assert.match(
      error({ guests: [{ name: 'vm', backend: 'udp', device: '127.0.0.1:5000', peer: 'x' }] }),
      /guests\.0\.peer: address:port/,
    );
  });
});
