import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guestTcp, load } from '../../test/offload-frag/build.ts';
import { Batch } from '../packet/batch.ts';
import { GSO_TCPV4, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { hex, setU16, u16 } from '../wire/bytes.ts';
import { fold } from '../wire/checksum.ts';
import { l4ChecksumOk, pseudoFor } from './csum-complete.ts';
import { Segmenter } from './gso.ts';
import { Ipv4Reassembler } from './ipv4-reassemble.ts';
import { DONE, FRAME, HELD, SoeReceiver } from './soe-rx.ts';
import { FALLBACK, FRAGMENTED, IN_PLACE, SoeTransmitter, TOO_BIG } from './soe-tx.ts';

const big = new Pool(8, SUPER_SLOT);
const small = new Pool(1024);

/** A guest superframe as a virtio guest hands it over: partial checksum seeded, gso metadata set. */
function superframe(payload: number, mss: number): { p: Packet; want: Uint8Array } {
  const want = guestTcp(payload, payload);
  const p = load(big, want);
  p.l4 = p.l3 + 20;
  setU16(p.buf, p.l4 + 16, fold(pseudoFor(p.buf, p.l3, 6, p.end - p.l4)));
  p.flags = SUPERFRAME | NEEDS_CSUM;
  p.csumStart = p.l4;
  p.csumOffset = 16;
  p.gsoType = GSO_TCPV4;
  p.gsoSize = mss;
  p.flowHash = 0x12345678;
  return { p, want };
}

function drain(out: Batch): Uint8Array[] {
  const r: Uint8Array[] = [];
  for (let i = 0; i < out.count; i++) {
    const q = out.packets[i]!;
    r.push(q.bytes());
    (small.owns(q) ? small : big).free(q);
  }
  out.clear();
  return r;
}

function receive(rx: SoeReceiver, frames: Uint8Array[], cb: (p: Packet) => void) {
  const st: number[] = [];
  for (const f of frames) {
    const p = load(small, f);
    const s = rx.process(p, 0);
    st.push(s);
    if (s === DONE || s === FRAME) cb(rx.out!);
    if (s === DONE) rx.release(rx.out!);
    small.free(p);
  }
  return st;
}

describe('vxlan-soe tx → rx', () => {
  it('sends a 60 KB guest superframe as one S=1 datagram in outer fragments and gets it back whole', () => {
    const { p, want } = superframe(60000, 1448);
    const tx = new SoeTransmitter({}, small);
    const out = new Batch(64);
    assert.equal(tx.send(p, 1500, out), FRAGMENTED);
    big.free(p);
    const frags = drain(out);
    assert.equal(frags.length, Math.ceil((36 + want.length) / 1480));
    for (const f of frags) {
      assert.ok(f.length - 14 <= 1500);
      assert.equal(f[20]! & 0x40, 0); // DF clear
    }
    // draft-zhou-li-vxlan-soe-01 example: VNI 42, MSS 1448 → 88 05 00 00 00 00 2A A8
    assert.equal(hex(frags[0]!, 42, 50), '880500000000' + '2aa8');
    const rx = new SoeReceiver(new Ipv4Reassembler({ memoryBytes: SUPER_SLOT }));
    let got: Packet | undefined;
    let bytes: Uint8Array | undefined;
    const st = receive(rx, frags.reverse(), (q) => {
      got = q;
      bytes = q.bytes();
      assert.equal(q.flags & (SUPERFRAME | NEEDS_CSUM), SUPERFRAME | NEEDS_CSUM);
      assert.equal(q.gsoType, GSO_TCPV4);
      assert.equal(q.gsoSize, 1448);
      assert.equal(q.tunIdLo, 42);
      assert.equal(q.csumStart, q.l4);
      // Software TSO of the delivered frame: ceil(60000 / 1448) segments, each checksum right.
      const segs = new Batch(64);
      assert.equal(new Segmenter({ pool: small }).segment(q, segs), Math.ceil(60000 / 1448));
      for (let i = 0; i < segs.count; i++) {
        const s = segs.packets[i]!;
        assert.ok(l4ChecksumOk(s.buf, s.start + 14, s.start + 34, 6, s.end));
        small.free(s);
      }
    });
    assert.equal(st.at(-1), DONE);
    assert.ok(got);
    // The delivered frame equals the guest's except the checksum field, re-seeded for TSO.
    const seeded = want.slice();
    setU16(seeded, 34 + 16, u16(bytes!, 34 + 16));
    assert.equal(hex(bytes!), hex(seeded));
  });

  it('sends a frame that is not a superframe as plain VXLAN (S=0) in one packet', () => {
    const want = guestTcp(500);
    const p = load(big, want);
    const out = new Batch();
    assert.equal(new SoeTransmitter({}, small).send(p, 1500, out), IN_PLACE);
    const [f] = drain(out);
    assert.equal(f![42], 0x08);
    const rx = new SoeReceiver(new Ipv4Reassembler({ memoryBytes: SUPER_SLOT }));
    const st = receive(rx, [f!], (q) => {
      assert.equal(q.flags & SUPERFRAME, 0);
      assert.equal(hex(q.bytes()), hex(want));
    });
    assert.deepEqual(st, [FRAME]);
  });

  it('falls back to classic segmentation above 65,499 bytes of inner frame', () => {
    const { p } = superframe(65500 - 54, 1448);
    assert.equal(new SoeTransmitter({}, small).send(p, 1500, new Batch()), TOO_BIG);
    const tx = new SoeTransmitter({}, small, new Segmenter({ pool: small }), new Batch(64));
    const out = new Batch(128);
    const { p: p2 } = superframe(65500 - 54, 1448);
    assert.equal(tx.send(p2, 9000, out), FALLBACK); // a jumbo underlay: one packet per piece
    big.free(p);
    big.free(p2);
    const frames = drain(out);
    assert.equal(frames.length, Math.ceil((65500 - 54) / 1448));
    for (const f of frames) assert.equal(f[42], 0x08); // S clear on every piece
  });

  it('drops a corrupted inner frame when the outer UDP checksum is off (inner checksum verified)', () => {
    const { p } = superframe(5000, 1448);
    const out = new Batch();
    new SoeTransmitter({ udpCsum: false }, small).send(p, 1500, out);
    big.free(p);
    const frags = drain(out);
    frags[2]![100] ^= 0xff;
    const rx = new SoeReceiver(new Ipv4Reassembler({ memoryBytes: SUPER_SLOT }));
    const st = receive(rx, frags, () => assert.fail('delivered'));
    assert.deepEqual(
      st.slice(0, -1),
      st.slice(0, -1).map(() => HELD),
    );
    assert.equal(rx.counters.get('drop-soe-inner-bad-checksum'), 1);
  });
});
