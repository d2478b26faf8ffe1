import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guestTcp, load } from '../../test/offload-frag/build.ts';
import { Batch } from '../packet/batch.ts';
import { GSO_TCPV4, GSO_UDP_L4, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { setU16, setU32, u16, u32 } from '../wire/bytes.ts';
import { fold } from '../wire/checksum.ts';
import { pseudoFor } from './csum-complete.ts';
import { Segmenter } from './gso.ts';
import { coalesceUso } from './uso-coalesce.ts';

const big = new Pool(8, SUPER_SLOT);
const small = new Pool(256);
const gso = new Segmenter({ pool: small });
const OUTER = 14 + 20 + 8;

/** The guest's superframe (partial checksum seeded, as a virtio guest hands it over). */
function guestSuperframe(payload: number, mss: number): { p: Packet; want: Uint8Array } {
  const p = load(big, guestTcp(payload, payload));
  p.l4 = p.l3 + 20;
  setU16(p.buf, p.l4 + 16, fold(pseudoFor(p.buf, p.l3, 6, p.end - p.l4)));
  p.flags = SUPERFRAME | NEEDS_CSUM;
  p.csumStart = p.l4;
  p.csumOffset = 16;
  p.gsoType = GSO_TCPV4;
  p.gsoSize = mss;
  return { p, want: p.buf.slice(p.start, p.end) };
}

/**
 * What nvo's USO transmit puts on a veth: the guest superframe cut by TSO (segment-core, checked
 * against the kernel elsewhere), each segment behind a VXLAN header (VNI 42), all of them one UDP GSO
 * superframe to port 4789 with gso_size = one chunk.
 */
function usoSuperframe(payload: number, mss: number): { q: Packet; want: Uint8Array; chunk: number } {
  const { p, want } = guestSuperframe(payload, mss);
  const segs = new Batch(256);
  assert.ok(gso.segment(p, segs) > 1);
  big.free(p);
  const q = big.alloc()!;
  const b = q.buf;
  let at = q.start + OUTER;
  const chunk = 8 + (segs.packets[0]!.end - segs.packets[0]!.start);
  for (let i = 0; i < segs.count; i++) {
    const s = segs.packets[i]!;
    b.set([0x08, 0, 0, 0, 0, 0, 42, 0], at);
    b.set(s.buf.subarray(s.start, s.end), at + 8);
    at += 8 + s.end - s.start;
    small.free(s);
  }
  const o = q.start;
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], o);
  b.set([0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 10, 99, 0, 1, 10, 99, 0, 2], o + 14);
  setU16(b, o + 16, at - o - 14);
  setU16(b, o + 34, 50000);
  setU16(b, o + 36, 4789);
  setU16(b, o + 38, at - o - 34);
  q.end = at;
  q.flags = SUPERFRAME | NEEDS_CSUM;
  q.gsoType = GSO_UDP_L4;
  q.gsoSize = chunk;
  return { q, want, chunk };
}

describe('coalesceUso', () => {
  it('turns a USO superframe of VXLAN segments back into the guest superframe behind one VXLAN header', () => {
    const { q, want } = usoSuperframe(20000, 1000);
    assert.equal(coalesceUso(q), true);
    const b = q.buf;
    const inner = q.start + OUTER + 8;
    // Byte for byte what the guest sent: headers, data, PSH from the last segment, seeded checksum.
    assert.deepEqual(b.slice(inner, q.end), want);
    assert.equal(u16(b, q.start + 16), q.end - q.start - 14, 'outer IPv4 total length');
    assert.equal(u16(b, q.start + 38), q.end - q.start - 34, 'outer UDP length');
    assert.equal(q.gsoType, GSO_TCPV4);
    assert.equal(q.gsoSize, 1000);
    assert.equal(q.csumStart, inner + 14 + 20);
    assert.equal(q.csumOffset, 16);
    assert.equal(q.flags & (NEEDS_CSUM | SUPERFRAME), NEEDS_CSUM | SUPERFRAME);
    big.free(q);
  });

  it('leaves a frame untouched when one chunk breaks a merge rule', () => {
    const breakers: [string, (b: Uint8Array, c: number) => void][] = [
      ['another VNI', (b, c) => (b[c + 6] = 43)],
      ['a sequence gap', (b, c) => setU32(b, c + 8 + 34 + 4, u32(b, c + 8 + 34 + 4) + 1)],
      ['PSH in the middle', (b, c) => (b[c + 8 + 34 + 13] = b[c + 8 + 34 + 13]! | 0x08)],
      ['another ack', (b, c) => setU32(b, c + 8 + 34 + 8, 7)],
      ['another TTL', (b, c) => (b[c + 8 + 14 + 8] = 1)],
      ['another inner destination MAC', (b, c) => (b[c + 8] = 0xee)],
    ];
    for (const [why, breakIt] of breakers) {
      const { q, chunk } = usoSuperframe(20000, 1000);
      breakIt(q.buf, q.start + OUTER + 3 * chunk);
      const before = q.buf.slice(q.start, q.end);
      const end = q.end;
      assert.equal(coalesceUso(q), false, why);
      assert.equal(q.end, end, why);
      assert.deepEqual(q.buf.slice(q.start, q.end), before, why);
      assert.equal(q.gsoType, GSO_UDP_L4, why);
      big.free(q);
    }
  });

  it('refuses another UDP port and a single chunk, leaving the frame intact', () => {
    const { q, chunk } = usoSuperframe(20000, 1000);
    setU16(q.buf, q.start + 36, 9999);
    assert.equal(coalesceUso(q), false, 'not a tunnel port');
    setU16(q.buf, q.start + 36, 4789);
    const end = q.end;
    q.gsoSize = end - q.start - OUTER;
    assert.equal(coalesceUso(q), false, 'one chunk is not a superframe to coalesce');
    q.gsoSize = chunk;
    assert.equal(coalesceUso(q), true, 'and the frame was still intact');
    big.free(q);
  });
});
