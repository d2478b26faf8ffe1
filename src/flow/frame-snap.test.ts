// FrameSnap against extractKey, the definition of a packet's key: on random frames and single changes to
// them (a byte, the length, in_port, a tunnel field), matches() is true only when extractKey gives the
// snapshot packet's key again (and then the same header offsets), and true whenever it does for a frame
// ipv4Fast takes (the rules of that path written out here, not taken from the code).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ENCAP_GENEVE, ENCAP_VXLAN, Packet } from '../packet/packet.ts';
import { OK as OK_STATUS } from '../wire/status.ts';
import { extractKey } from './extract.ts';
import { FrameSnap } from './frame-snap.ts';
import * as K from './key.ts';

/** ipv4Fast's rules: untagged IPv4, IHL 5, not a fragment, a known protocol whose L4 header fits. */
function fastFrame(b: Uint8Array): boolean {
  if (b.length < 38 || b[12] !== 8 || b[13] !== 0 || b[14] !== 0x45) return false;
  if ((((b[20]! << 8) | b[21]!) & 0x3fff) !== 0) return false;
  const need = ({ 6: 20, 17: 8, 132: 8, 1: 4 } as Record<number, number>)[b[23]!];
  if (need === undefined) return false;
  const tot = (b[16]! << 8) | b[17]!;
  const l3end = tot >= 20 && 14 + tot < b.length ? 14 + tot : b.length;
  return l3end - 34 >= need;
}

test('FrameSnap.matches(p) holds exactly when extracting p would give the snapshot key again', () => {
  const base = fc.record({
    proto: fc.constantFrom(6, 17, 132, 1, 58),
    vihl: fc.constantFrom(0x45, 0x45, 0x45, 0x46),
    rest: fc.uint8Array({ minLength: 52, maxLength: 52 }),
    tot: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 70 })),
    len: fc.oneof(fc.constant(80), fc.integer({ min: 30, max: 80 })),
    tunnel: fc.constantFrom(0, 0, 4, 6),
    inner: fc.boolean(),
    // Bytes the key ignores (IP ID and checksum, DF and reserved bits, UDP length and checksum, TCP
    // sequence) vary between the packets of one flow: changes land there often.
    hot: fc.boolean(),
  });
  const change = fc.record({
    what: fc.constantFrom('none', 'none', 'byte', 'byte', 'byte', 'len', 'port', 'tunnel'),
    at: fc.integer({ min: 0, max: 79 }),
    value: fc.integer({ min: 0, max: 255 }),
  });
  const ignored = [18, 19, 20, 24, 25, 38, 39, 40, 41, 42, 43, 44, 45, 48, 49];
  let same = 0;
  let differ = 0;
  let notTaken = 0;
  fc.assert(
    fc.property(base, change, (f, c) => {
      const b = new Uint8Array(80);
      b.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0, f.vihl], 0);
      b.set(f.rest, 15);
      new DataView(b.buffer).setUint16(16, f.tot);
      b[20] = f.rest[5]! & 0xc0; // DF / reserved only: not a fragment
      b[21] = 0;
      b[23] = f.proto;
      // A tunnel change touches one of: the key, source, destination, encapsulation, flags, or the IP
      // version (IPv4 then from 0.0.0.0 to 0.0.0.0, the IPv4 words of an IPv6 tunnel's key).
      const tv = c.what === 'tunnel' ? 1 + (c.value % 6) : 0;
      const make = (bytes: Uint8Array, port: number, changed: boolean) => {
        // Decapsulated frames sit after 50 bytes of (unread) outer headers, as decap leaves them.
        const p = new Packet(new Uint8Array(2048), 0, 256);
        const at = f.inner ? p.start + 50 : p.start;
        p.buf.set(bytes, at);
        p.end = at + bytes.length;
        if (f.inner) p.innerL2 = at;
        p.inPort = port;
        if (f.tunnel) {
          p.tunEncap = changed && tv === 4 ? ENCAP_GENEVE : ENCAP_VXLAN;
          p.tunIpVersion = changed && tv === 6 ? 10 - f.tunnel : f.tunnel;
          p.tunIdLo = changed && tv === 1 ? 43 : 42;
          p.tunSrc.set([192, 0, 2, changed && tv === 2 ? 9 : 1]);
          p.tunDst.set([192, 0, 2, changed && tv === 3 ? 9 : 2]);
          p.tunFlags = changed && tv === 5 ? 1 : 0;
          if (p.tunIpVersion === 4 && changed && tv === 6) {
            p.tunSrc.fill(0);
            p.tunDst.fill(0);
          }
        }
        return p;
      };
      const first = b.subarray(0, f.len);
      const p1 = make(first, 7, false);
      const k = K.newKey();
      if (extractKey(p1, k) !== OK_STATUS) return;
      const snap = new FrameSnap();
      const took = snap.take(p1);
      assert.equal(took, fastFrame(first) && f.tunnel !== 6, 'take() refuses exactly what ipv4Fast would');
      assert.equal(snap.valid, took);
      if (!took) {
        notTaken++;
        return;
      }
      const b2 = b.slice(0, c.what === 'len' ? c.at : f.len);
      const at = f.hot ? ignored[c.at % ignored.length]! : c.at;
      if (c.what === 'byte' && at < b2.length) b2[at] = c.value;
      const p2 = make(b2, c.what === 'port' ? 8 : 7, true);
      const q = make(b2, c.what === 'port' ? 8 : 7, true);
      const k2 = K.newKey();
      const equal = extractKey(q, k2) === OK_STATUS && Array.from(k2).every((x, i) => x === k[i]);
      const fast = fastFrame(b2) && q.tunIpVersion !== 6;
      if (snap.matches(p2)) {
        assert.ok(equal, 'matches but extractKey differs');
        assert.deepEqual(
          [p2.l2, p2.l3, p2.l4, p2.innerL3, p2.innerL4],
          [q.l2, q.l3, q.l4, q.innerL3, q.innerL4],
        );
        same++;
      } else {
        assert.ok(!(equal && fast), 'extractKey equal on a fast-path frame but no match');
        differ++;
      }
    }),
    { numRuns: 6000 },
  );
  assert.ok(
    same > 1000 && differ > 500 && notTaken > 200,
    `${same} same, ${differ} differ, ${notTaken} not taken`,
  );
});
