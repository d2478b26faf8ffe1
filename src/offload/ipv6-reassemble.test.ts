import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  extHeader,
  fragHeader,
  ipv6Frame,
  load,
  noise,
  permutations,
} from '../../test/offload-frag/build.ts';
import { Batch } from '../packet/batch.ts';
import type { Packet } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { CHAIN_TOO_LONG, FRAGMENTED, fragment6 } from './ipv6-fragment.ts';
import { DONE, DROP, HELD, Ipv6Reassembler, PASS } from './ipv6-reassemble.ts';

const big = new Pool(4, SUPER_SLOT);
const small = new Pool(2048);
const UDP = 17;
const TCP = 6;

function frags(frame: Uint8Array, mtu: number, id = 0x01020304): Uint8Array[] {
  const p = load(big, frame);
  const out = new Batch(2048);
  const st = fragment6(p, mtu, id, small, out);
  big.free(p);
  assert.equal(st, FRAGMENTED);
  return (out.packets.slice(0, out.count) as Packet[]).map((q) => {
    const b = q.bytes();
    small.free(q);
    return b;
  });
}

function feed(r: Ipv6Reassembler, frames: Uint8Array[], order: number[], now = 0) {
  let result: Uint8Array | undefined;
  const st: number[] = [];
  for (const k of order) {
    const p = load(small, frames[k]!);
    const s = r.process(p, now);
    if (s === PASS) result = p.bytes();
    small.free(p);
    st.push(s);
    if (s === DONE) {
      result = r.out!.bytes();
      r.release(r.out!);
    }
  }
  return { result, st };
}

// HbH, Dest-opts, Routing (unfragmentable: up to the Routing header) then Dest-opts, UDP (fragmentable).
function chained(size: number, seed: number): Uint8Array {
  const upper = [...extHeader(UDP, 0), ...noise(size, seed)];
  const payload = [...extHeader(60, 0), ...extHeader(43, 1), ...extHeader(60, 0, 4), ...upper];
  return ipv6Frame({ nh: 0, payload: Uint8Array.from(payload) });
}

describe('ipv6 fragment → reassemble', () => {
  it('puts the Fragment header after the Routing header and restores the chain (exhaustive orders + dup)', () => {
    const frame = chained(150, 3);
    const fs = frags(frame, 128); // unfragmentable 40 + 8 + 16 + 8 = 72, slices (128 − 72 − 8) = 48
    assert.equal(fs.length, 4);
    const fh = 14 + 72;
    for (const f of fs) {
      assert.equal(f[14 + 40 + 8 + 16]!, 44); // Routing header's Next Header now names the Fragment header
      assert.equal(f[fh]!, 60);
    }
    const r = new Ipv6Reassembler({ memoryBytes: SUPER_SLOT });
    for (const perm of permutations(4)) {
      const { result, st } = feed(r, fs, [...perm, perm[1]!]);
      assert.deepEqual(result, frame);
      assert.equal(st.filter((s) => s === DONE).length, 1);
    }
  });

  it('is the identity over sizes × MTUs × random orders (property)', () => {
    const r = new Ipv6Reassembler({ memoryBytes: 2 * SUPER_SLOT, maxPieces: 2048 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65400 }),
        fc.integer({ min: 1280, max: 9000 }),
        fc.integer(),
        (size, mtu, seed) => {
          const frame = ipv6Frame({ nh: UDP, payload: noise(size, seed) });
          if (size + 40 <= mtu) return;
          const fs = frags(frame, mtu, seed >>> 0);
          for (const f of fs) assert.ok(f.length - 14 <= mtu);
          const order = fs.map((_, i) => i);
          const rnd = noise(order.length, seed ^ 77);
          for (let i = order.length - 1; i > 0; i--) {
            const j = rnd[i]! % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          assert.deepEqual(feed(r, fs, order).result, frame);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses to cut a header chain longer than one fragment (RFC 7112)', () => {
    const payload = Uint8Array.from([...extHeader(UDP, 200), ...noise(3000, 1)]);
    const p = load(big, ipv6Frame({ nh: 60, payload }));
    assert.equal(fragment6(p, 1280, 1, small, new Batch()), CHAIN_TOO_LONG);
    big.free(p);
  });
});

describe('ipv6 reassembly: RFC 6946, RFC 7112, RFC 5722', () => {
  it('processes an atomic fragment alone: Fragment header removed, nothing queued (RFC 6946)', () => {
    const upper = noise(40, 1);
    const withFh = ipv6Frame({
      nh: 44,
      payload: Uint8Array.from([...fragHeader(UDP, 0, false, 99), ...upper]),
    });
    const plain = ipv6Frame({ nh: UDP, payload: upper });
    const r = new Ipv6Reassembler({ memoryBytes: SUPER_SLOT });
    const { result, st } = feed(r, [withFh, withFh], [0, 1]);
    assert.deepEqual(st, [PASS, PASS]);
    assert.deepEqual(result, plain);
    assert.equal(r.inProgress, 0);
    assert.equal(r.counters.get('in-ipv6-atomic-frag'), 2);
  });

  it('drops a first fragment whose header chain stops before the upper-layer header (RFC 7112)', () => {
    // Fragmentable part starts with a 16-byte Dest-opts header naming TCP, but the TCP header is not in
    // this fragment.
    const first = ipv6Frame({
      nh: 44,
      payload: Uint8Array.from([...fragHeader(60, 0, true, 5), ...extHeader(TCP, 1)]),
    });
    const second = ipv6Frame({
      nh: 44,
      payload: Uint8Array.from([...fragHeader(60, 16, false, 5), ...noise(20, 2)]),
    });
    const r = new Ipv6Reassembler({ memoryBytes: SUPER_SLOT });
    assert.deepEqual(feed(r, [first, second], [0, 1]).st, [DROP, HELD]);
    assert.equal(r.counters.get('drop-ipv6-frag-chain-incomplete'), 1);
  });

  it('drops the whole datagram on overlap and keeps the key poisoned (RFC 5722)', () => {
    const f = (off: number, len: number, more: boolean, seed: number) =>
      ipv6Frame({
        nh: 44,
        payload: Uint8Array.from([...fragHeader(UDP, off, more, 8), ...noise(len, seed)]),
      });
    const r = new Ipv6Reassembler({ memoryBytes: SUPER_SLOT, timeoutMs: 100 });
    const a = f(0, 64, true, 1);
    const overl = f(56, 16, true, 2);
    const tail = f(72, 8, false, 3);
    assert.deepEqual(feed(r, [a, overl, tail, a], [0, 1, 2, 3]).st, [HELD, DROP, DROP, DROP]);
    assert.equal(r.counters.get('drop-ipv6-frag-overlap'), 1);
    assert.equal(r.counters.get('drop-ipv6-frag-poisoned'), 2);
    assert.equal(r.table.memory.bytesInUse, 0);
    const ok = [f(0, 64, true, 1), f(64, 8, false, 3)];
    assert.equal(feed(r, ok, [1, 0], 100).st[1], DONE);
  });

  it('drops non-final fragments not a multiple of 8 and fragments past 65,535 bytes', () => {
    const r = new Ipv6Reassembler({ memoryBytes: SUPER_SLOT });
    const odd = ipv6Frame({
      nh: 44,
      payload: Uint8Array.from([...fragHeader(UDP, 8, true, 1), ...noise(12, 1)]),
    });
    const huge = ipv6Frame({
      nh: 44,
      payload: Uint8Array.from([...fragHeader(UDP, 65528, false, 2), ...noise(16, 1)]),
    });
    assert.deepEqual(feed(r, [odd, huge], [0, 1]).st, [DROP, DROP]);
    assert.equal(r.counters.get('drop-ipv6-frag-bad-length'), 1);
    assert.equal(r.counters.get('drop-ipv6-frag-oversize'), 1);
  });
});
