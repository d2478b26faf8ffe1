// The Linux kernel as a differential oracle for GSO and GRO, in throw-away network namespaces
// (kernel-bed.ts):
//
//   ns A: TAP (nvo writes, IFF_VNET_HDR) 10.77.0.1 ── ip_forward ── a0 ══ veth ══ b0 :ns B, AF_PACKET
//
// a0 has TSO/GSO/tx-csum off, so a GSO_TCPV4 superframe written into the TAP is cut in software by the
// kernel (tcp_gso_segment / inet_gso_segment after forwarding: TTL − 1, new MACs). AF_PACKET on b0 in B
// sees the wire segments (GRO off on b0) or the kernel's GRO aggregates (GRO on). nvo's Segmenter, given
// the same superframe as the kernel had it after forwarding, must produce the kernel's segments byte for
// byte; nvo's Coalescer, given the kernel's segments, must produce the kernel's GRO aggregates byte for
// byte (TCP checksum field = the pseudo-header seed both leave for CHECKSUM_PARTIAL).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import type { TapPort } from '../../src/io/tap.ts';
import { Segmenter } from '../../src/offload/gso.ts';
import { Coalescer } from '../../src/offload/tcp-gro.ts';
import { Batch } from '../../src/packet/batch.ts';
import { GSO_ECN, GSO_TCPV4, NEEDS_CSUM, type Packet, SUPERFRAME } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { netnsPath, setOffloads } from '../../testbed/netns.ts';
import { receive, skipReason } from '../io/helpers.ts';
import { drain, load, type TcpOpts } from './frames.ts';
import { asForwarded, guestSuperframe, type KernelBed, kernelBed } from './kernel-bed.ts';

const skip = skipReason() || false;
const DPORT = 7999;

describe('Linux kernel as oracle for nvo GSO and GRO', { skip }, () => {
  let bed: KernelBed;
  let pool: Pool;
  let tap: TapPort;
  let tapMac: number[] = [];
  let B = '';

  before(() => {
    bed = kernelBed('nvod', 'nvgso0');
    ({ pool, tap, tapMac, B } = bed);
  });

  after(() => bed?.close());

  /** A superframe from the guest behind the TAP, TCP checksum seeded with the pseudo-header (virtio TSO). */
  function guestFrame(o: TcpOpts, len: number): Uint8Array {
    return guestSuperframe(tapMac, { dport: DPORT, ttl: 64, ...o }, len);
  }

  function write(f: Uint8Array, gsoType: number, mss: number): void {
    const b = new Batch(2);
    const p = load(pool, f);
    p.flags = NEEDS_CSUM | SUPERFRAME;
    p.gsoType = gsoType;
    p.gsoSize = mss;
    p.csumStart = p.start + 34;
    p.csumOffset = 16;
    b.push(p);
    assert.equal(tap.txBurst(b), 1);
    pool.free(p);
  }

  const ours = <T extends { bytes: Uint8Array }>(g: T[]): T[] =>
    g.filter((x) => x.bytes[23] === 6 && ((x.bytes[36]! << 8) | x.bytes[37]!) === DPORT);

  const cases: [string, TcpOpts, number, number, number][] = [
    [
      'timestamps, PSH, 20000 B / 1448',
      { flags: 0x18, options: [1, 1, 8, 10, 0, 1, 2, 3, 0, 4, 5, 6], id: 0xfffa, seq: 0xffffd000 },
      20000,
      1448,
      GSO_TCPV4,
    ],
    [
      'CWR + ECE with the ECN gso bit, FIN, 9001 B / 1000',
      { flags: 0xd9, id: 3 },
      9001,
      1000,
      GSO_TCPV4 | GSO_ECN,
    ],
  ];

  for (const [name, o, len, mss, type] of cases) {
    it(`segments like the kernel (${name}), and coalesces the kernel's segments like kernel GRO`, async () => {
      const sniff = new AfPacketPort({ ifname: 'b0', pool: new Pool(64, SUPER_SLOT), netns: netnsPath(B) });
      let wire: { bytes: Uint8Array; flags: number; gsoSize: number }[];
      const want = Math.ceil(len / mss);
      const f = guestFrame({ ...o, sport: 40000 + mss }, len);
      const hdr = 54 + (o.options?.length ?? 0);
      try {
        write(f, type, mss);
        wire = ours(await receive(sniff, (g) => ours(g).length >= want));
      } finally {
        sniff.close();
      }
      assert.equal(wire.length, want, `kernel segments seen in B: ${wire.length}`);

      // GSO: nvo on the forwarded superframe == the kernel's wire segments.
      const segPool = new Pool(want + 4);
      const src = load(pool, asForwarded(f, wire[0]!.bytes));
      src.flags = SUPERFRAME;
      src.gsoType = type;
      src.gsoSize = mss;
      const out = new Batch(want + 4);
      assert.equal(new Segmenter({ pool: segPool }).segment(src, out), want);
      pool.free(src);
      const mine = drain(out, segPool);
      for (let k = 0; k < want; k++)
        assert.deepEqual(mine[k], wire[k]!.bytes, `segment ${k} differs from the kernel's`);

      // GRO: the kernel's aggregates of the same segments (GRO on b0) == nvo's coalescing of them.
      setOffloads(B, 'b0', { gro: 'on' });
      const sniff2 = new AfPacketPort({ ifname: 'b0', pool: new Pool(64, SUPER_SLOT), netns: netnsPath(B) });
      let agg: { bytes: Uint8Array; flags: number; gsoSize: number }[];
      try {
        write(f, type, mss);
        const total = (g: { bytes: Uint8Array }[]) => ours(g).reduce((n, x) => n + x.bytes.length - hdr, 0);
        agg = ours(await receive(sniff2, (g) => total(g) >= len));
      } finally {
        sniff2.close();
        setOffloads(B, 'b0', { gro: 'off' });
      }
      assert.ok(
        agg.length >= 1 && agg.length < want,
        `kernel GRO delivered ${agg.length} frames for ${want} segments`,
      );
      let k = 0;
      const superPool = new Pool(4, SUPER_SLOT);
      for (const a of agg) {
        // The segments this aggregate covers, by payload length.
        let covered = 0;
        const group: Packet[] = [];
        const inPool = new Pool(want);
        while (covered < a.bytes.length - hdr && k < want) {
          group.push(load(inPool, wire[k]!.bytes));
          covered += wire[k]!.bytes.length - hdr;
          k++;
        }
        const gro = new Coalescer({ superPool });
        const o2 = new Batch(want + 8);
        for (const p of group) gro.receive(p, o2);
        gro.flush(o2);
        assert.equal(o2.count, 1, JSON.stringify(gro.counters.snapshot()));
        const g = o2.packets[0]!;
        if (group.length > 1) {
          assert.equal(g.gsoSize, a.gsoSize, 'gso_size');
          assert.equal(a.flags & NEEDS_CSUM, NEEDS_CSUM);
        }
        assert.deepEqual(g.bytes(), a.bytes, 'aggregate differs from kernel GRO');
        g.owner!.free(g);
      }
      assert.equal(k, want);
    });
  }
});
