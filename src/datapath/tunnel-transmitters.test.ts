// The per-destination transmitters: one per (tunnel, remote, VNI), found again without a string key for
// a stream to one remote, and all made anew when a neighbour changes (their Ethernet header is baked in).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KIND_UNDERLAY } from './port.ts';
import { Switch } from './switch.ts';

const A = new Uint8Array([10, 0, 0, 2]);
const B = new Uint8Array([10, 0, 0, 3]);
const MAC = new Uint8Array([2, 0, 0, 0, 0, 2]);

function setup() {
  const sw = new Switch({ underlayMac: '02:00:00:00:00:01' });
  sw.addPort('eth0', KIND_UNDERLAY, { no: 100 });
  const stt = sw.addTunnel({ name: 'stt0', encap: 'stt', localIp: '10.0.0.1', key: 'flow' }).tunnel!;
  const soe = sw.addTunnel({ name: 'soe0', encap: 'vxlan-soe', localIp: '10.0.0.1', key: 'flow' }).tunnel!;
  return { sw, stt, soe };
}

test('STT: the same segmenter per remote, another for another remote, the remembered one never crosses', () => {
  const { sw, stt } = setup();
  const tx = sw.transmitters;
  const a = tx.stt(stt, A, MAC);
  assert.equal(tx.stt(stt, A.slice(), MAC), a);
  const b = tx.stt(stt, B, MAC);
  assert.notEqual(b, a);
  assert.equal(tx.stt(stt, A, MAC), a);
  assert.equal(tx.stt(stt, B, MAC), b);
  // The caller's address buffer changing afterwards must not change what was remembered.
  const r = A.slice();
  tx.stt(stt, r, MAC);
  r.set(B);
  assert.equal(tx.stt(stt, r, MAC), b);
});

test('SOE: keyed by VNI too', () => {
  const { sw, soe } = setup();
  const tx = sw.transmitters;
  const v1 = tx.soe(soe, A, 1, MAC);
  assert.equal(tx.soe(soe, A, 1, MAC), v1);
  const v2 = tx.soe(soe, A, 2, MAC);
  assert.notEqual(v2, v1);
  assert.equal(tx.soe(soe, A, 1, MAC), v1);
});

test('a neighbour change drops every transmitter, the remembered one included', () => {
  const { sw, stt, soe } = setup();
  const tx = sw.transmitters;
  const a = tx.stt(stt, A, MAC);
  const s = tx.soe(soe, A, 1, MAC);
  sw.neighbours.set4(0x0a000002, new Uint8Array([2, 0, 0, 0, 0, 9]), 100, 0, true);
  assert.notEqual(tx.stt(stt, A, MAC), a);
  assert.notEqual(tx.soe(soe, A, 1, MAC), s);
});
