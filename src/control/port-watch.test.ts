// linkMac, how PortWatch reads an underlay device's address: sysfs in nvo's own namespace (read-only
// here: the loopback's all-zero address), `ip -n` for a device in another one (a veth with a chosen
// address in a namespace this test makes and removes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ip, isRoot, netnsAdd, netnsDel, uniqueName } from '../../testbed/netns.ts';
import { linkMac } from './port-watch.ts';

const hex = (m: Uint8Array | null) =>
  m ? Array.from(m, (x) => x.toString(16).padStart(2, '0')).join(':') : null;

test('own namespace: read from sysfs', async () => {
  assert.equal(hex(await linkMac('lo', undefined)), '00:00:00:00:00:00');
  assert.equal(await linkMac('nvo-no-such-device', undefined), null);
});

test('another namespace: through ip -n, and null once the device is gone', {
  skip: !isRoot() && 'needs root',
}, async () => {
  const ns = uniqueName('nvopw');
  netnsAdd(ns);
  try {
    ip(ns, 'link', 'add', 'u0', 'address', '02:00:5e:00:02:01', 'type', 'veth', 'peer', 'name', 'u1');
    assert.equal(hex(await linkMac('u0', ns)), '02:00:5e:00:02:01');
    ip(ns, 'link', 'set', 'dev', 'u0', 'address', '02:00:5e:00:02:02');
    assert.equal(hex(await linkMac('u0', ns)), '02:00:5e:00:02:02');
    ip(ns, 'link', 'del', 'u0');
    assert.equal(await linkMac('u0', ns), null);
  } finally {
    netnsDel(ns);
  }
});
