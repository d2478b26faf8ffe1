import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Batch } from '../packet/batch.ts';
import { CSUM_VALID, GSO_TCPV4, GSO_UDP_L4, NEEDS_CSUM, SUPERFRAME } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { fold, sum } from '../wire/checksum.ts';
import { NO_TX_OFFLOADS, portTakes, TxCompletion } from './offload-caps.ts';

const superPool = new Pool(4, SUPER_SLOT);
const segPool = new Pool(64);

/** Eth + IPv4 + TCP (20 B) + n payload bytes, TCP checksum left as the pseudo-header sum (partial). */
function tcpPartial(n: number) {
  const p = superPool.alloc()!;
  const b = p.buf;
  const o = p.start;
  b.fill(0, o, o + 54 + n);
  b.set([8, 0], o + 12);
  b.set(
    [0x45, 0, (40 + n) >> 8, (40 + n) & 0xff, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
    o + 14,
  );
  const ic = ~fold(sum(b, o + 14, o + 34)) & 0xffff;
  b[o + 24] = ic >> 8;
  b[o + 25] = ic & 0xff;
  b[o + 46] = 0x50;
  b[o + 47] = 0x10;
  for (let i = 0; i < n; i++) b[o + 54 + i] = i;
  const ps = fold(sum(b, o + 26, o + 34) + 6 + 20 + n);
  b[o + 50] = ps >> 8;
  b[o + 51] = ps & 0xff;
  p.end = o + 54 + n;
  p.flags = NEEDS_CSUM;
  p.csumStart = o + 34;
  p.csumOffset = 16;
  return p;
}

/** Independent check: the TCP checksum over pseudo-header + segment folds to 0xffff. */
function tcpOk(b: Uint8Array, o: number, end: number): boolean {
  return fold(sum(b, o + 26, o + 34) + 6 + (end - o - 34) + sum(b, o + 34, end)) === 0xffff;
}

describe('offload caps and the tx completion step', () => {
  it('portTakes follows the caps', () => {
    const p = tcpPartial(10);
    assert.equal(portTakes(p, NO_TX_OFFLOADS), false);
    assert.equal(portTakes(p, { txCsumPartial: true, txTso: false, txUso: false }), true);
    p.flags |= SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    assert.equal(portTakes(p, { txCsumPartial: true, txTso: false, txUso: true }), false);
    assert.equal(portTakes(p, { txCsumPartial: true, txTso: true, txUso: false }), true);
    p.gsoType = GSO_UDP_L4;
    assert.equal(portTakes(p, { txCsumPartial: true, txTso: true, txUso: false }), false);
    superPool.free(p);
  });

  it('no offloads: superframe → segments with finished checksums; input freed', () => {
    const tx = new TxCompletion(NO_TX_OFFLOADS, segPool);
    const out = new Batch(64);
    const p = tcpPartial(5000);
    p.flags |= SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    p.gsoSize = 1460;
    assert.equal(tx.complete(p, out), 4);
    assert.equal(superPool.available, 4);
    for (let i = 0; i < out.count; i++) {
      const s = out.packets[i]!;
      assert.equal(s.flags & (NEEDS_CSUM | CSUM_VALID), CSUM_VALID);
      assert.ok(tcpOk(s.buf, s.start, s.end));
      segPool.free(s);
    }
  });

  it('checksum offload only: segments left partial; a small partial packet passes as is', () => {
    const tx = new TxCompletion({ txCsumPartial: true, txTso: false, txUso: false }, segPool);
    const out = new Batch(64);
    const p = tcpPartial(3000);
    p.flags |= SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    p.gsoSize = 1460;
    assert.equal(tx.complete(p, out), 3);
    for (let i = 0; i < out.count; i++) {
      assert.equal(out.packets[i]!.flags & NEEDS_CSUM, NEEDS_CSUM);
      segPool.free(out.packets[i]!);
    }
    out.clear();
    const q = tcpPartial(100);
    assert.equal(tx.complete(q, out), 1);
    assert.equal(out.packets[0], q);
    assert.equal(q.flags & NEEDS_CSUM, NEEDS_CSUM);
    superPool.free(q);
  });

  it('no checksum offload: a small partial packet is finished in place', () => {
    const tx = new TxCompletion(NO_TX_OFFLOADS, segPool);
    const out = new Batch(4);
    const q = tcpPartial(101);
    assert.equal(tx.complete(q, out), 1);
    assert.equal(q.flags & NEEDS_CSUM, 0);
    assert.ok(tcpOk(q.buf, q.start, q.end));
    superPool.free(q);
  });

  it('hostile csum offsets: counted drop, packet freed', () => {
    const tx = new TxCompletion(NO_TX_OFFLOADS, segPool);
    const q = tcpPartial(10);
    q.csumOffset = 4000;
    assert.equal(tx.complete(q, new Batch(4)), 0);
    assert.equal(tx.gso.counters.get('gso-drop-bad-csum-offsets'), 1);
    assert.equal(superPool.available, 4);
  });
});
