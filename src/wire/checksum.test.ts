import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { field, needScapy, needTshark, scapy, tshark } from '../../test/harness/tools.ts';
import { fromHex, hex } from './bytes.ts';
import {
  checksum,
  fold,
  pseudoSum4,
  SIMD_COPY_MIN,
  SIMD_IN_PLACE_MIN,
  sum,
  sumBytes,
  sumPlain,
  udpWire,
  update16,
  update32,
} from './checksum.ts';
import {
  inWasm,
  SIMD_AVAILABLE,
  sumCopied,
  sumInPlace,
  sumSimd,
  WASM_BYTES,
  wasmSlab,
} from './checksum-wasm.ts';

// The reference: RFC 1071 §4.1's loop, one byte at a time, big-endian pairing from `o`, folded with
// shifts (not the module's fold). Independent of every implementation under test.
function naive(b: Uint8Array, o: number, end: number): number {
  let s = 0;
  for (let i = o; i < end; i++) s += (i - o) % 2 === 0 ? b[i]! * 256 : b[i]!;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

function random(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Every implementation, as a function returning the folded 16-bit sum. */
const IMPLS: [string, (b: Uint8Array, o: number, end: number) => number][] = [
  ['sum', (b, o, e) => fold(sum(b, o, e))],
  ['sumBytes', (b, o, e) => fold(sumBytes(b, o, e))],
  ['sumPlain', (b, o, e) => fold(sumPlain(b, o, e))],
];
if (SIMD_AVAILABLE) {
  IMPLS.push(['sumSimd', (b, o, e) => sumSimd(b, o, e)]);
  IMPLS.push(['sumCopied', (b, o, e) => sumCopied(b, o, e)]);
}

describe('RFC 1071 sum: every implementation == byte-by-byte reference', () => {
  test('RFC 1071 §3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2', () => {
    const b = fromHex('0001f203f4f5f6f7');
    for (const [name, f] of IMPLS) assert.equal(f(b, 0, 8), 0xddf2, name);
    assert.equal(checksum(b, 0, 8), 0x220d);
    // The same bytes at an odd address must give the same sum (byte-order independence, §2(B)).
    const shifted = new Uint8Array(9);
    shifted.set(b, 1);
    for (const [name, f] of IMPLS) assert.equal(f(shifted, 1, 9), 0xddf2, name);
  });

  test('every length 0..300 at every offset 0..7, in plain, Buffer-pool and wasm memory', () => {
    const data = random(320, 7);
    const homes: [string, Uint8Array][] = [
      ['ArrayBuffer', new Uint8Array(400)],
      ['Buffer (pooled, odd byteOffset)', Buffer.allocUnsafe(401).subarray(1)],
    ];
    if (SIMD_AVAILABLE) homes.push(['wasmSlab', new Uint8Array(wasmSlab(400))]);
    for (const [home, buf] of homes) {
      buf.set(data.subarray(0, 320));
      for (let o = 0; o < 8; o++)
        for (let n = 0; n + o <= 300 + 8 && n <= 300; n++) {
          const want = naive(buf, o, o + n);
          for (const [name, f] of IMPLS) {
            const got = f(buf, o, o + n);
            if (got !== want) assert.fail(`${name} in ${home}: len ${n} at ${o}: ${got} != ${want}`);
          }
        }
    }
  });

  test('long random buffers (up to 200 KB) at random offsets, foreign and in wasm memory', () => {
    const slab = SIMD_AVAILABLE ? new Uint8Array(wasmSlab(210_000)) : new Uint8Array(210_000);
    const foreign = new Uint8Array(210_000);
    const data = random(210_000, 99);
    slab.set(data);
    foreign.set(data);
    fc.assert(
      fc.property(fc.nat(9000), fc.nat(200_000), (o, n) => {
        const want = naive(data, o, o + n);
        for (const [name, f] of IMPLS) {
          assert.equal(f(slab, o, o + n), want, `${name} wasm len ${n} at ${o}`);
          assert.equal(f(foreign, o, o + n), want, `${name} foreign len ${n} at ${o}`);
        }
      }),
      { numRuns: 60 },
    );
  });

  test('all-ones and all-zero data: carries fold, zero stays zero', () => {
    for (const n of [0, 1, 2, 63, 64, 1500, 65535, 65536, 131072 + 3, 600_001]) {
      const ones = new Uint8Array(n).fill(0xff);
      const zeros = new Uint8Array(n);
      for (const [name, f] of IMPLS) {
        // An odd last byte is the high byte of a word: 0xff00 remains after the 0xffff words fold away.
        assert.equal(f(ones, 0, n), n === 0 ? 0 : n % 2 ? 0xff00 : 0xffff, `${name} ones ${n}`);
        assert.equal(f(zeros, 0, n), 0, `${name} zeros ${n}`);
      }
    }
  });

  test('in place over more than one 256 KiB SIMD block of 0xff (the u32 lane bound)', {
    skip: SIMD_AVAILABLE ? false : 'this V8 has no WebAssembly SIMD',
  }, () => {
    const b = new Uint8Array(wasmSlab(1_100_000)).fill(0xff);
    assert.equal(sumInPlace(b, 0, 1_048_576), 0xffff);
    assert.equal(sumInPlace(b, 1, 1_048_577 + 64), 0xffff);
    assert.equal(sumInPlace(b, 3, 1_000_004), 0xff00);
    b[777_777] = 0xfe; // one bit less somewhere in the third block
    assert.equal(sumInPlace(b, 0, 1_048_576), naive(b, 0, 1_048_576));
    assert.equal(sumInPlace(b, 1, 1_048_575), naive(b, 1, 1_048_575));
  });

  test('chained partial sums over even cuts == one sum', () => {
    const data = random(70_000, 3);
    fc.assert(
      fc.property(fc.nat(16), fc.array(fc.nat(20_000), { maxLength: 6 }), (o, cuts) => {
        const points = [...new Set(cuts.map((c) => o + 2 * c))]
          .filter((p) => p < data.length)
          .sort((a, b) => a - b);
        const end = data.length - ((data.length - o) % 7);
        let s = 0;
        let at = o;
        for (const p of points) {
          if (p >= end) break;
          s = sum(data, at, p, s);
          at = p;
        }
        s = sum(data, at, end, s);
        assert.equal(fold(s), naive(data, o, end));
      }),
      { numRuns: 200 },
    );
  });

  test('sum clamps a range outside the buffer (no throw, no NaN)', () => {
    const bufs = [new Uint8Array(100).fill(1)];
    if (SIMD_AVAILABLE) bufs.push(new Uint8Array(wasmSlab(100)).fill(1));
    for (const b of bufs)
      for (const [o, end] of [
        [0, 5000],
        [-3, 100],
        [50, 20],
        [-10, -5],
        [99, 70_000],
      ] as const) {
        const got = fold(sum(b, o, end));
        assert.equal(got, naive(b, Math.max(0, o), Math.min(b.length, Math.max(end, Math.max(0, o)))));
      }
  });

  test('sum dispatch thresholds are sane', () => {
    assert.ok(SIMD_IN_PLACE_MIN <= SIMD_COPY_MIN);
    if (SIMD_AVAILABLE) {
      const slab = new Uint8Array(wasmSlab(100));
      assert.ok(inWasm(slab));
      assert.ok(!inWasm(new Uint8Array(100)));
    }
  });

  test('the wasm module is valid WebAssembly with SIMD128 on this engine', () => {
    assert.ok(WASM_BYTES.length > 100 && WASM_BYTES.length < 2000);
    assert.ok(SIMD_AVAILABLE, 'Node 24 has SIMD128; if this fails the fast path silently fell back');
  });
});

describe('RFC 1624 incremental update == full recompute', () => {
  const header = (words: number[]): Uint8Array => {
    const b = new Uint8Array(words.length * 2);
    words.forEach((w, i) => {
      b[2 * i] = w >>> 8;
      b[2 * i + 1] = w & 0xff;
    });
    return b;
  };
  // Words 0..n-1 plus a checksum computed over them (the checksum field itself excluded, as if zero).
  const arb = fc.record({
    words: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 30 }),
    at: fc.nat(),
    to: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0, 0xffff, 1, 0xfffe)),
    // Force the edge cases: make the old or the new sum exactly 0xffff (checksum 0x0000) by
    // balancing another word, the case RFC 1624 §3 is about.
    edge: fc.constantFrom('none', 'old-sum-ffff', 'new-sum-ffff'),
  });

  test('update16 (fast-check, with sums forced to 0xffff)', () => {
    fc.assert(
      fc.property(arb, ({ words, at, to, edge }) => {
        const j = at % words.length;
        const q = (j + 1) % words.length;
        const w = words.slice();
        const balance = (arr: number[]): void => {
          arr[q] = 0;
          const rest = naive(header(arr), 0, arr.length * 2);
          arr[q] = 0xffff - rest; // rest + arr[q] = 0xffff exactly (rest ≤ 0xffff)
        };
        if (edge === 'old-sum-ffff') balance(w);
        const after = w.slice();
        after[j] = to;
        if (edge === 'new-sum-ffff') {
          balance(after);
          w[q] = after[q]!;
        }
        const before = header(w);
        const hc = checksum(before, 0, before.length);
        const full = checksum(header(after), 0, after.length * 2);
        const inc = update16(hc, w[j]!, to);
        if (after.every((x) => x === 0)) {
          // All-zero data: the full sum is +0 (checksum 0xffff) while any update yields -0 (0x0000)
          // or +0; both mean zero in one's complement and no real header is all zero.
          assert.ok(inc === 0 || inc === 0xffff);
        } else assert.equal(inc, full, `words ${hex(before)} [${j}] ${w[j]} → ${to}`);
      }),
      { numRuns: 3000 },
    );
  });

  test('RFC 1624 §4 example: m 0x5555 → 0x3285 with the rest summing to 0xcd7a gives 0x0000 (not 0xffff)', () => {
    const b = fromHex('cd7a5555');
    assert.equal(checksum(b, 0, 4), 0xdd2f);
    assert.equal(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    assert.equal(checksum(fromHex('cd7a3285'), 0, 4), 0x0000);
  });

  test('update32 == two update16 == full recompute', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 30 }),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffffffff }),
        (words, at, to) => {
          if (words.length < 2) return;
          const j = at % (words.length - 1);
          const before = header(words);
          const after = words.slice();
          after[j] = to >>> 16;
          after[j + 1] = to & 0xffff;
          if (after.every((x) => x === 0)) return;
          const hc = checksum(before, 0, before.length);
          const m = ((words[j]! << 16) | words[j + 1]!) >>> 0;
          const inc = update32(hc, m, to);
          assert.equal(inc, checksum(header(after), 0, after.length * 2));
          assert.equal(inc, update16(update16(hc, words[j]!, after[j]!), words[j + 1]!, after[j + 1]!));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('fold and udpWire edge values', () => {
    assert.equal(fold(0), 0);
    assert.equal(fold(0xffff), 0xffff);
    assert.equal(fold(0x10000), 1);
    assert.equal(fold(0x1fffe), 0xffff);
    assert.equal(fold(2 ** 52 - 1), naive(header([0xf, 0xffff, 0xffff, 0xffff]), 0, 8));
    assert.equal(udpWire(0), 0xffff);
    assert.equal(udpWire(0x1234), 0x1234);
  });
});

describe('oracles', () => {
  test('scapy checksum() on random buffers of many lengths and offsets', { skip: needScapy() }, () => {
    const cases: Uint8Array[] = [];
    for (let n = 0; n < 200; n++) cases.push(random(n, n + 1));
    for (const n of [1499, 1500, 8999, 9000, 65535]) cases.push(random(n, n));
    // The buffers go through a file: 300 KB of hex is too long for a command line.
    const dir = mkdtempSync(join(tmpdir(), 'nvo-csum-'));
    let out: number[];
    try {
      const file = join(dir, 'cases.txt');
      writeFileSync(file, cases.map((c) => hex(c)).join('\n') + '\n');
      out = scapy(
        'from scapy.utils import checksum\n' +
          `for h in open(${JSON.stringify(file)}).read().split('\\n')[:-1]:\n` +
          '    print(checksum(bytes.fromhex(h)))\n',
      )
        .trim()
        .split('\n')
        .map(Number);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(out.length, cases.length);
    cases.forEach((c, i) => {
      const want = out[i]!;
      const padded = new Uint8Array(c.length + 3);
      padded.set(c, 3);
      assert.equal(checksum(c, 0, c.length), want, `len ${c.length}`);
      assert.equal(checksum(padded, 3, 3 + c.length), want, `len ${c.length} at 3`);
    });
  });

  test('IPv4 header checksums of scapy-built packets', { skip: needScapy() }, () => {
    const out = scapy(
      'from scapy.all import IP, UDP, raw\nimport random\nrandom.seed(5)\n' +
        'for i in range(200):\n' +
        '    p = IP(src="%d.%d.%d.%d" % tuple(random.randrange(256) for _ in range(4)),' +
        ' dst="10.0.%d.%d" % (random.randrange(256), random.randrange(256)), ttl=random.randrange(256),' +
        ' id=random.randrange(65536), tos=random.randrange(256),' +
        ' options=[b"\\x01" * (4 * random.randrange(5))] if i % 3 == 0 else [])/UDP()/(b"x" * random.randrange(300))\n' +
        '    print(raw(p).hex())\n',
    )
      .trim()
      .split('\n');
    assert.equal(out.length, 200);
    for (const h of out) {
      const b = fromHex(h);
      const ihl = (b[0]! & 0x0f) * 4;
      const want = (b[10]! << 8) | b[11]!;
      b[10] = 0;
      b[11] = 0;
      assert.equal(checksum(b, 0, ihl), want, h.slice(0, ihl * 2));
      // And a header with its checksum in place sums to 0xffff (RFC 1071 §1, the receiver's check).
      b[10] = want >>> 8;
      b[11] = want & 0xff;
      assert.equal(fold(sum(b, 0, ihl)), 0xffff);
    }
  });

  test('tshark validates UDP checksums over jumbo datagrams (the SIMD path)', { skip: needTshark() }, () => {
    const frames: Uint8Array[] = [];
    for (const payload of [1, 1471, 2000, 8972, 60_000]) {
      const f = new Uint8Array(14 + 20 + 8 + payload);
      f.set(fromHex('020000000002020000000001' + '0800'));
      const ip = 14;
      f.set(fromHex('450000000000400040110000c0000201c6336402'), ip);
      const len = 20 + 8 + payload;
      f[ip + 2] = len >>> 8;
      f[ip + 3] = len & 0xff;
      const c = checksum(f, ip, ip + 20);
      f[ip + 10] = c >>> 8;
      f[ip + 11] = c & 0xff;
      const u = ip + 20;
      f.set(fromHex('30393039'), u);
      f[u + 4] = (8 + payload) >>> 8;
      f[u + 5] = (8 + payload) & 0xff;
      f.set(random(payload, payload), u + 8);
      const uc = udpWire(checksum(f, u, u + 8 + payload, pseudoSum4(f, ip + 12, ip + 16, 17, 8 + payload)));
      f[u + 6] = uc >>> 8;
      f[u + 7] = uc & 0xff;
      frames.push(f);
    }
    const layers = tshark(frames, { prefs: ['udp.check_checksum:TRUE', 'ip.check_checksum:TRUE'] });
    layers.forEach((l, i) => {
      assert.equal(field(l, 'udp.checksum.status'), '1', `frame ${i}: UDP checksum not Good`);
      assert.equal(field(l, 'ip.checksum.status'), '1', `frame ${i}: IPv4 checksum not Good`);
    });
  });
});
