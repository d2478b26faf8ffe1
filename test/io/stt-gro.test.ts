// nvo's STT superframe (one TSO frame per 64 KB, offload/stt-segment.ts) over the test bed's model of
// a real wire: the sending veth cuts it in software (TSO off), the receiving veth's GRO merges the
// segments again. The Linux kernel is the oracle for both halves: its segments must GRO-merge back
// into at most two pieces (this kernel keeps the last segment apart: the sender's GSO leaves it owned
// by the AF_PACKET socket, and veth GRO never merges a socket-owned skb with an orphaned one), and
// nvo's reassembler must give back the exact frame in the received packet's own buffer (FRAME, no
// 64 KB copy), whichever piece comes first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { FRAME, HELD, SttReassembler } from '../../src/offload/stt-reassemble.ts';
import { IN_PLACE, SttSegmenter } from '../../src/offload/stt-segment.ts';
import { Batch } from '../../src/packet/batch.ts';
import { CSUM_VALID, NEEDS_CSUM } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsPath, setOffloads } from '../../testbed/netns.ts';
import { REAL_WIRE } from '../../testbed/testbed.ts';
import { load, sttFrame } from '../offload-frag/build.ts';
import { skipReason, sleep, useVethBed } from './helpers.ts';

const skip = skipReason() || false;

describe('STT over a real-wire veth: kernel GSO + GRO, then nvo reassembly in place', { skip }, () => {
  const { H, P } = useVethBed(() => {
    setOffloads(H, 'ul0', REAL_WIRE);
    setOffloads(P, 'ul0', REAL_WIRE);
    ip(H, 'link', 'set', 'ul0', 'up');
    ip(P, 'link', 'set', 'ul0', 'up');
  });

  it('3 frames of ~64,374 bytes: ≤ 2 pieces each, every frame back byte for byte in place', async () => {
    const big = new Pool(8, SUPER_SLOT);
    const seg = new SttSegmenter({});
    const out = new Batch(8);
    // 64,374 B: an inner frame the size of a guest's 46 × 1,348-B TSO frame (the bench's guest MTU 1,400).
    const frames = [0, 1, 2].map((k) => {
      const f = sttFrame(64_374 - 18 - 14 - 20 - 8 + k);
      assert.equal(seg.segment(load(big, f, 0), 1500, big, out, true), IN_PLACE);
      return f;
    });
    const sender = new AfPacketPort({ ifname: 'ul0', pool: new Pool(4, SUPER_SLOT), netns: netnsPath(H) });
    const rx = new AfPacketPort({ ifname: 'ul0', pool: new Pool(256, SUPER_SLOT), netns: netnsPath(P) });
    const r = new SttReassembler();
    const got: Uint8Array[] = [];
    const pieces: number[] = [];
    try {
      assert.equal(sender.txBurst(out), 3, 'the kernel took the three TSO frames');
      const b = new Batch(64);
      const until = Date.now() + 3000;
      while (got.length < 3 && Date.now() < until) {
        const n = rx.rxBurst(b);
        for (let i = 0; i < n; i++) {
          const p = b.packets[i]!;
          // STT segments only (IPv4, TCP to 7471); the kernel's own IPv6 chatter is off (noIpv6).
          if (p.buf[p.start + 23] === 6 && p.buf[p.start + 36] === 0x1d && p.buf[p.start + 37] === 0x2f) {
            pieces.push(p.end - p.start);
            p.l3 = p.start + 14;
            if ((p.flags & NEEDS_CSUM) !== 0) p.flags |= CSUM_VALID;
            const st = r.process(p, 0);
            assert.ok(st === FRAME || st === HELD, `status ${st}`);
            if (st === FRAME) {
              assert.equal(r.out, p, 'returned in the received packet');
              got.push(p.bytes());
            }
          }
          rx.pool.free(p);
        }
        b.clear();
        if (n === 0) await sleep(5);
      }
    } finally {
      sender.close();
      rx.close();
    }
    assert.equal(got.length, 3, `frames back (pieces seen: ${pieces.join(', ')})`);
    for (let k = 0; k < 3; k++) assert.deepEqual(Buffer.from(got[k]!), Buffer.from(frames[k]!), `frame ${k}`);
    assert.ok(pieces.length <= 6, `GRO merged the 45 segments of each frame into ≤ 2 pieces: ${pieces}`);
    assert.equal(r.inProgress, 0);
    assert.equal(r.counters.get('out-stt-reasm'), 3);
  });
});
