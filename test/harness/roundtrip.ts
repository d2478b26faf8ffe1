// One round-trip harness for every codec (dns-packet's testEncoder, gopacket's isomorphic tests):
// emit → parse gives the same Repr; headerLen equals the bytes written; parse → emit gives identical
// bytes; all of it at offset 0 and at a non-zero offset inside a 0xa5-filled buffer, with every byte
// outside the header left untouched (an unwritten byte inside it shows up as 0xa5 and fails the compare).
import assert from 'node:assert/strict';
import type { Codec } from '../../src/wire/codec.ts';
import { OK, statusName } from '../../src/wire/status.ts';

const JUNK = 0xa5;

export function roundTrip<R>(codec: Codec<R>, repr: R, opts: { trailing?: Uint8Array } = {}): Uint8Array {
  const len = codec.headerLen(repr);
  const trailing = opts.trailing ?? new Uint8Array(0);
  let first: Uint8Array | undefined;
  for (const at of [0, 37]) {
    const buf = new Uint8Array(at + len + trailing.length + 19).fill(JUNK);
    codec.emit(repr, buf, at);
    for (let i = 0; i < at; i++) assert.equal(buf[i], JUNK, `${codec.name}: emit wrote before its offset`);
    for (let i = at + len; i < buf.length; i++)
      assert.equal(buf[i], JUNK, `${codec.name}: emit wrote past headerLen (${len})`);
    buf.set(trailing, at + len);
    const bytes = buf.slice(at, at + len);
    if (first) assert.deepEqual(bytes, first, `${codec.name}: bytes depend on the offset`);
    else first = bytes;

    const out = codec.newRepr();
    const st = codec.parse(buf, at, at + len + trailing.length, out);
    assert.equal(st, OK, `${codec.name}: parse of emitted bytes failed: ${statusName(st)}`);
    assert.deepEqual(out, repr, `${codec.name}: emit → parse changed the value`);
    assert.equal(codec.headerLen(out), len);

    const again = new Uint8Array(buf.length).fill(JUNK);
    codec.emit(out, again, at);
    assert.deepEqual(again.subarray(at, at + len), bytes, `${codec.name}: parse → emit changed the bytes`);
    assert.equal(typeof codec.format(buf, at, at + len + trailing.length), 'string');
  }
  return first!;
}
