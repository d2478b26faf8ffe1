// The outer UDP source port is the flow's entropy (RFC 7348 §5; Linux vxlan: udp_flow_src_port over
// the flow dissector's 5-tuple): every packet of one TCP connection must get the same port whatever its
// flags, TTL or ECN bits, or ECMP may split the connection over paths and reorder it. Different
// connections should spread over the range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryPair } from '../io/memory-hosts.ts';
import { Batch } from '../packet/batch.ts';
import { checksum } from '../wire/checksum.ts';

const B_MAC = new Uint8Array([2, 0xbb, 0, 0, 0, 2]);

/** Ethernet/IPv4/TCP from 10.1.0.1:sport to 10.1.0.2:80 with the given flags, TTL and TOS. */
function tcpFrame(sport: number, flags: number, ttl: number, tos: number): Uint8Array {
  const f = new Uint8Array(54);
  f.set([...B_MAC, 2, 0xaa, 0, 0, 0, 1, 8, 0]);
  const dv = new DataView(f.buffer);
  f[14] = 0x45;
  f[15] = tos;
  dv.setUint16(16, 40);
  f[22] = ttl;
  f[23] = 6;
  f.set([10, 1, 0, 1, 10, 1, 0, 2], 26);
  dv.setUint16(24, checksum(f, 14, 34));
  dv.setUint16(34, sport);
  dv.setUint16(36, 80);
  f[46] = 0x50;
  f[47] = flags;
  return f;
}

test('one TCP connection, one outer source port (flags, TTL, ECN vary); connections spread', () => {
  const [a] = memoryPair({ encap: 'vxlan', vni: 42 });
  a.sw.macs.learn(42, B_MAC, 0, 10, 4, new Uint8Array([10, 0, 0, 2]), 0);
  const sourcePortOf = (frame: Uint8Array): number => {
    const p = a.sw.pool.allocCopy(frame)!;
    const b = new Batch(1);
    b.push(p);
    a.sw.receive(1, b, 0);
    a.sw.flush();
    const wire = a.underlay.sent.at(-1)!;
    assert.equal((wire[36]! << 8) | wire[37]!, 4789, 'a VXLAN packet');
    return (wire[34]! << 8) | wire[35]!;
  };
  const ports = new Set<number>();
  for (let conn = 0; conn < 16; conn++) {
    const sport = 40000 + conn;
    const first = sourcePortOf(tcpFrame(sport, 0x02, 64, 0)); // SYN
    for (const [flags, ttl, tos] of [
      [0x10, 64, 0], // ACK
      [0x18, 64, 0x02], // PSH ACK, ECT(0)
      [0x10, 63, 0x03], // ACK, CE, one hop less
      [0x11, 64, 0xb8], // FIN ACK, DSCP EF
    ])
      assert.equal(sourcePortOf(tcpFrame(sport, flags!, ttl!, tos!)), first, `connection ${conn}`);
    assert.ok(first >= 32768 && first < 61000);
    ports.add(first);
  }
  assert.ok(ports.size >= 12, `16 connections on ${ports.size} source ports`);
});
