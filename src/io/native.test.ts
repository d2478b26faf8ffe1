// The addon loader and the addon's defences against bad descriptors (JS hands it offsets and lengths;
// it must never read or write outside the slab). Needs the addon, not root: a UDP socket on loopback.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  D_ERR,
  D_FAMILY,
  D_LEN,
  D_OFF,
  D_PORT,
  DESC_WORDS,
  isRoot,
  KIND_UDP,
  loadNative,
  nativeUnavailable,
} from './native.ts';

const native = loadNative();

describe('native loader', () => {
  it('explains in one line why the addon is off (NVO_NO_NATIVE)', () => {
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        "import('./src/io/native.ts').then(m => console.log(m.loadNative() === null, m.nativeUnavailable()))",
      ],
      { env: { ...process.env, NVO_NO_NATIVE: '1' }, encoding: 'utf8' },
    ).trim();
    assert.match(out, /^true nvo: native I\/O unavailable: disabled by NVO_NO_NATIVE; .+$/);
    assert.equal(out.split('\n').length, 1);
  });

  // As root (CI) the addon must be there: the TAP/AF_PACKET/UDP-GSO suites skip without it, so this is
  // the one test that says so loudly instead of letting them vanish. NVO_NO_NATIVE=1 opts out.
  it('is built and loads when running as root', {
    skip: !isRoot() ? 'not root' : process.env['NVO_NO_NATIVE'] ? 'NVO_NO_NATIVE set' : false,
  }, () => {
    assert.ok(
      loadNative(),
      `${nativeUnavailable()} (build it with 'npm run install'; needs gcc, make, python3)`,
    );
  });

  it('loads the N-API addon built against another Node version', {
    skip: native ? false : nativeUnavailable(),
  }, () => {
    assert.equal(nativeUnavailable(), '');
    assert.equal(native!.DESC_WORDS, DESC_WORDS);
  });
});

describe('addon descriptor checks', { skip: native ? false : nativeUnavailable() }, () => {
  it('rejects frames outside the slab per frame (EFAULT) and keeps sending the good ones', () => {
    const n = native!;
    const rx = n.udpOpen(4, Uint8Array.of(127, 0, 0, 1), 0, false, null, 0);
    const tx = n.udpOpen(4, Uint8Array.of(127, 0, 0, 1), 0, false, null, 0);
    try {
      const slab = new Uint8Array(4096).fill(0x5a);
      const d = new Int32Array(4 * DESC_WORDS);
      const frames: [number, number][] = [
        [0, 100], // good
        [4000, 200], // runs past the end
        [-8, 10], // negative offset
        [100, 50], // good
      ];
      frames.forEach(([off, len], i) => {
        d[i * DESC_WORDS + D_OFF] = off;
        d[i * DESC_WORDS + D_LEN] = len;
        d[i * DESC_WORDS + D_FAMILY] = 4;
        d[i * DESC_WORDS + D_PORT] = rx.port;
        new Uint8Array(d.buffer).set([127, 0, 0, 1], (i * DESC_WORDS + 8) * 4);
      });
      assert.equal(n.txBurst(tx.fd, KIND_UDP, 0, slab, d, 4), 4);
      assert.deepEqual(
        [0, 1, 2, 3].map((i) => d[i * DESC_WORDS + D_ERR]),
        [0, 14, 14, 0],
      );
      // Receiving: two datagrams of 100 and 50 bytes; a descriptor outside the slab fails the call.
      const r = new Int32Array(4 * DESC_WORDS);
      r[D_OFF] = 5000;
      r[D_LEN] = 10;
      assert.equal(n.rxBurst(rx.fd, KIND_UDP, 0, slab, r, 1), -14);
      for (let i = 0; i < 4; i++) {
        r[i * DESC_WORDS + D_OFF] = i * 1024;
        r[i * DESC_WORDS + D_LEN] = 1024;
      }
      const got = n.rxBurst(rx.fd, KIND_UDP, 0, slab, r, 4);
      assert.equal(got, 2);
      assert.deepEqual([r[D_LEN], r[DESC_WORDS + D_LEN]], [100, 50]);
      // A descriptor table shorter than n words is a programmer error: a TypeError, not a wild read.
      assert.throws(() => n.rxBurst(rx.fd, KIND_UDP, 0, slab, new Int32Array(3), 1), TypeError);
    } finally {
      n.close(rx.fd);
      n.close(tx.fd);
    }
  });
});
