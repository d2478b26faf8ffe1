// DecapRepeat against what it stands in for: a packet it says repeats the previous one must be taken by
// decapUdpTunnel4 with the same Decap and get the same Coalescer.passesDecapped answer; and a packet of
// the same outer flow with a new IP ID (checksum recomputed) and other payload must repeat. Frames from
// scapy (VXLAN, the Linux port, Geneve, UDP checksums, inner UDP / TCP / IPv6 / fragment), then mutated.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { needScapy, scapy } from '../../test/harness/tools.ts';
import { Coalescer } from '../offload/tcp-gro.ts';
import { CSUM_VALID, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { decapUdpTunnel4 } from '../tunnel/decap-fast.ts';
import { newDecap } from '../tunnel/decap-frame.ts';
import { checksum } from '../wire/checksum.ts';
import { DecapRepeat } from './decap-repeat.ts';

const pool = new Pool(2);
const gro = new Coalescer({ superPool: new Pool(1, SUPER_SLOT) });
/** Two slots: the remembered packet and the one asked about. */
const slots = [pool.alloc()!, pool.alloc()!];

/** Slot `k` holding frame f at offset `at`. */
function packet(k: number, f: Uint8Array, at: number, flags = 0, gsoType = 0): Packet {
  const p = slots[k]!;
  p.buf.fill(0xa5); // junk around the frame
  p.start = at;
  p.buf.set(f, at);
  p.end = at + f.length;
  p.flags = flags;
  p.gsoType = gsoType;
  return p;
}

/** What receiveUnderlay asks of a packet: decap-fast's answer and Decap, and GRO's. */
function ask(p: Packet) {
  const verify = (p.flags & (NEEDS_CSUM | CSUM_VALID)) === 0;
  const d = newDecap();
  const fast = decapUdpTunnel4(p.buf, p.view, p.start, p.end, { verifyChecksums: verify }, d);
  return { fast, d, verify, passes: fast ? gro.passesDecapped(p, d.inner) : false };
}

/** A new IPv4 ID for the outer header at p.start + 14, its checksum made right again. */
function newId(p: Packet, id: number): void {
  const l3 = p.start + 14;
  p.view.setUint16(l3 + 4, id);
  p.view.setUint16(l3 + 10, 0);
  p.view.setUint16(l3 + 10, checksum(p.buf, l3, l3 + 20));
}

describe('DecapRepeat: a repeat decapsulates and passes GRO as the remembered packet', {
  skip: needScapy(),
}, () => {
  const frames = (
    JSON.parse(
      scapy(`
import json
from scapy.contrib.geneve import GENEVE
e = Ether(src='0a:00:00:00:00:01', dst='0a:00:00:00:00:02')
ins = [e/IP(src='10.0.0.1', dst='10.0.0.2')/UDP(sport=1, dport=2)/Raw(b'x'*30),
       e/IP(src='10.0.0.1', dst='10.0.0.2')/TCP(sport=1, dport=2, flags='A')/Raw(b'y'*40),
       e/IPv6(src='fd00::1', dst='fd00::2')/UDP(sport=1, dport=2)/Raw(b'z'*20),
       e/IP(src='10.0.0.1', dst='10.0.0.2', flags='MF')/UDP(sport=1, dport=2)/Raw(b'w'*24)]
ip = IP(src='192.0.2.1', dst='192.0.2.2', id=7, ttl=200)
out = []
for i in ins:
    out.append(Ether()/ip/UDP(sport=50000, dport=4789, chksum=0)/VXLAN(vni=99)/i)
    out.append(Ether()/ip/UDP(sport=50001, dport=4789)/VXLAN(vni=5)/i)
    out.append(Ether()/ip/UDP(sport=50002, dport=8472, chksum=0)/VXLAN(vni=0xffffff)/i)
    out.append(Ether()/ip/UDP(sport=50003, dport=6081)/GENEVE(vni=99, proto=0x6558)/i)
    out.append(Ether()/ip/UDP(sport=50004, dport=6081)/GENEVE(vni=99, proto=0x6558, oam=1)/i)
print(json.dumps([bytes(f).hex() for f in out]))
`),
    ) as string[]
  ).map((h) => new Uint8Array(Buffer.from(h, 'hex')));

  it('every base frame is one decap-fast takes (else the property below tests nothing)', () => {
    for (const f of frames) assert.ok(ask(packet(0, f, 64)).fast);
  });

  it('same outer flow, new IP ID and checksum, other payload: a repeat, with the same Decap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: frames.length - 1 }),
        fc.nat(0xffff),
        fc.nat(0xffff),
        fc.boolean(),
        (which, id1, id2, valid) => {
          const f = frames[which]!;
          const flags = valid ? CSUM_VALID : 0;
          const p = packet(0, f, 100, flags);
          newId(p, id1);
          const a = ask(p);
          const rep = new DecapRepeat();
          rep.take(p, a.d, a.verify);
          // A verified UDP checksum covers the payload: such a packet is never remembered.
          const udpCsum = p.view.getUint16(p.start + 40);
          assert.equal(rep.valid, !(a.verify && udpCsum !== 0));
          if (!rep.valid) return;
          const q = packet(1, f, 100, flags);
          newId(q, id2);
          q.buf.fill(id2 & 0xff, q.start + 50 + 34, q.end); // the inner frame's payload differs
          assert.ok(rep.matches(q));
          const b = ask(q);
          assert.deepEqual(b.d, a.d);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('mutated packets (bytes, ID and checksum, start, end, flags): a repeat only if decap and GRO agree', () => {
    let repeats = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: frames.length - 1 }),
        // Each change is rare enough that about one packet in five is left a repeat.
        fc.oneof(
          { arbitrary: fc.constant([]), weight: 3 },
          {
            arbitrary: fc.array(fc.tuple(fc.nat(90), fc.nat(255)), { minLength: 1, maxLength: 3 }),
            weight: 1,
          },
        ),
        fc.option(fc.tuple(fc.nat(0xffff), fc.nat(0xffff)), { nil: undefined, freq: 1 }),
        fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 2, -1),
        fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 4, -2),
        fc.constantFrom(0, 0, 0, 0, 0, 0, CSUM_VALID, NEEDS_CSUM, SUPERFRAME),
        fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 1),
        (which, flips, idCsum, shift, cut, qFlags, qGso) => {
          const f = frames[which]!;
          const pFlags = which % 3 === 0 ? CSUM_VALID : 0;
          const p = packet(0, f, 100, pFlags);
          const a = ask(p);
          const rep = new DecapRepeat();
          rep.take(p, a.d, a.verify);
          if (!rep.valid) return;
          const g = f.slice(0, f.length - Math.max(0, cut));
          const q = packet(1, g, 100 + shift, qFlags === 0 ? pFlags : qFlags, qGso);
          if (cut < 0) q.end += -cut; // trailing bytes past the IP datagram
          for (const [at, v] of flips) if (at < q.end - q.start) q.buf[q.start + at] = v;
          if (idCsum) {
            q.view.setUint16(q.start + 18, idCsum[0]);
            q.view.setUint16(q.start + 24, idCsum[1]);
          }
          if (!rep.matches(q)) {
            refused++;
            return;
          }
          repeats++;
          const b = ask(q);
          assert.ok(b.fast, 'a repeat that decap-fast refuses');
          assert.deepEqual(b.d, a.d);
          assert.equal(b.passes, a.passes, 'a repeat with another GRO answer');
        },
      ),
      { numRuns: 30_000 },
    );
    // Both outcomes occur, so the assertions above ran on repeats.
    assert.ok(repeats > 1000 && refused > 3000, `${repeats} repeats, ${refused} refused`);
  });
});
