// Which datagrams udp-tx-pack.ts packs together, and the header of the superframe it writes. That the
// kernel cuts such a superframe back into the original datagrams is test/io/udp-tx-pack.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { Pool } from '../packet/pool.ts';
import { PACK_HDR, PACK_MAX, packableRun, packRun } from './udp-tx-pack.ts';

/** RFC 1071 ones'-complement sum of big-endian 16-bit words, folded (written here, not src/wire's). */
function csum16(b: Uint8Array, from: number, to: number, init = 0): number {
  let s = init;
  for (let i = from; i < to; i += 2) s += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Ethernet/IPv4/UDP 10.0.0.1:1000 → 10.0.0.2:4789 with `len` payload bytes all `fill`. */
function frame(len: number, fill: number, id = 1): Uint8Array {
  const f = new Uint8Array(PACK_HDR + len).fill(fill);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  f.set([0x45, 0, (28 + len) >> 8, (28 + len) & 0xff, id >> 8, id & 0xff, 0x40, 0, 64, 17, 0, 0], 14);
  f.set([10, 0, 0, 1, 10, 0, 0, 2, 0x03, 0xe8, 0x12, 0xb5, (8 + len) >> 8, (8 + len) & 0xff, 0, 0], 26);
  return f;
}

const pool = new Pool(200, 2048);
function packets(frames: Uint8Array[]): Packet[] {
  return frames.map((f) => pool.allocCopy(f)!);
}
function release(ps: Packet[]): void {
  for (const p of ps) pool.free(p);
}

describe('packableRun', () => {
  it('takes consecutive datagrams of one flow and length; IP ID, checksums and payload may differ', () => {
    const ps = packets([frame(68, 1, 1), frame(68, 2, 2), frame(68, 3, 3)]);
    ps[2]!.buf[ps[2]!.start + 40] = 0x55; // a UDP checksum of its own
    assert.equal(packableRun(ps, 0, 3), 3);
    assert.equal(packableRun(ps, 1, 3), 2);
    assert.equal(packableRun(ps, 2, 3), 1);
    release(ps);
  });

  it('stops at any header difference that is not the kernel’s to rewrite', () => {
    // offset in the frame, new value: MAC, TOS, DF, TTL, protocol-adjacent address, ports.
    for (const [at, v] of [
      [0, 4],
      [11, 9],
      [15, 4],
      [20, 0],
      [22, 63],
      [29, 7],
      [33, 3],
      [35, 0xe9],
      [37, 0xb6],
    ] as const) {
      const ps = packets([frame(68, 1), frame(68, 1), frame(68, 1)]);
      ps[2]!.buf[ps[2]!.start + at] = v;
      assert.equal(packableRun(ps, 0, 3), 2, `byte ${at}`);
      release(ps);
    }
  });

  it('never packs other lengths, fragments, options, non-UDP, or frames with offload state', () => {
    const cases: [string, (p: Packet) => void][] = [
      ['shorter', (p) => void (p.end -= 1)],
      ['MF set', (p) => void (p.buf[p.start + 20] = 0x20)],
      ['IHL 6', (p) => void (p.buf[p.start + 14] = 0x46)],
      ['TCP', (p) => void (p.buf[p.start + 23] = 6)],
      ['VLAN', (p) => void (p.buf[p.start + 12] = 0x81)],
      ['partial checksum', (p) => void (p.flags |= NEEDS_CSUM)],
      ['superframe', (p) => void (p.flags |= SUPERFRAME)],
    ];
    for (const [what, spoil] of cases) {
      const ps = packets([frame(68, 1), frame(68, 1)]);
      spoil(ps[1]!);
      assert.equal(packableRun(ps, 0, 2), 1, what);
      spoil(ps[0]!);
      assert.equal(packableRun(ps, 0, 2), 1, `${what} (first)`);
      release(ps);
    }
  });

  it(`stops at ${PACK_MAX} datagrams, and where the IPv4 total length would pass 65,535`, () => {
    const small = packets(Array.from({ length: 70 }, (_, i) => frame(18, i)));
    assert.equal(packableRun(small, 0, 70), PACK_MAX);
    release(small);
    // 1400-byte payloads: (65,535 − 28) / 1400 = 46.8 → 46.
    const big = new Pool(60, 2048);
    const ps = Array.from({ length: 50 }, () => big.allocCopy(frame(1400, 7))!);
    assert.equal(packableRun(ps, 0, 50), 46);
  });
});

describe('packRun', () => {
  it('writes the first headers with the lengths of the whole, valid IPv4 checksum, the UDP pseudo sum, then each payload', () => {
    const ps = packets([frame(20, 0xa1, 7), frame(20, 0xb2, 8), frame(20, 0xc3, 9)]);
    const out = new Uint8Array(65536);
    const n = packRun(ps, 0, 3, out);
    assert.equal(n, PACK_HDR + 60);
    assert.deepEqual([...out.subarray(0, 14)], [...ps[0]!.bytes().subarray(0, 14)]);
    assert.equal((out[16]! << 8) | out[17]!, 20 + 8 + 60);
    assert.equal((out[18]! << 8) | out[19]!, 7, 'the first datagram’s IP ID; the kernel numbers the rest');
    assert.equal(csum16(out, 14, 34), 0xffff, 'IPv4 header checksum');
    assert.equal((out[38]! << 8) | out[39]!, 8 + 60);
    // Pseudo header: addresses, protocol 17, UDP length (RFC 768), folded, not complemented.
    const pseudo = csum16(out, 26, 34, 17 + 68);
    assert.equal((out[40]! << 8) | out[41]!, pseudo);
    assert.deepEqual(
      [...out.subarray(PACK_HDR, n)],
      [...Array(20).fill(0xa1), ...Array(20).fill(0xb2), ...Array(20).fill(0xc3)],
    );
    release(ps);
  });
});
