// STT segments against independent implementations: tshark's STT dissector (packet-stt.c, heuristic
// on "ip", reference/stt.md §3), scapy-built TCP segments (scapy computes its own checksums), and the
// software TSO of src/offload/gso.ts standing in for a NIC that cuts our TSO superframe.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Segmenter } from '../../src/offload/gso.ts';
import { DONE, FRAME, SttReassembler } from '../../src/offload/stt-reassemble.ts';
import { IN_PLACE, SttSegmenter } from '../../src/offload/stt-segment.ts';
import { Batch } from '../../src/packet/batch.ts';
import type { Packet } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import { fields, needScapy, needTshark, scapy, tshark } from '../harness/tools.ts';
import { load, sttFrame } from './build.ts';

const big = new Pool(4, SUPER_SLOT);
const small = new Pool(256, 10240);

function segments(s: SttSegmenter, frame: Uint8Array, mtu: number): Uint8Array[] {
  const p = load(big, frame, 0);
  const out = new Batch(256);
  s.segment(p, mtu, small, out);
  const r = (out.packets.slice(0, out.count) as Packet[]).map((q) => {
    const b = q.bytes();
    if (q !== p) small.free(q);
    return b;
  });
  big.free(p);
  return r;
}

describe('stt vs tshark / scapy / software TSO', () => {
  it('tshark dissects nvo segments as STT and reassembles the inner frame', { skip: needTshark() }, () => {
    const s = new SttSegmenter({ srcPortMin: 0xc002, srcPortMax: 0xc003 });
    s.frameId = 0x77;
    const a = segments(s, sttFrame(3000), 1500); // 1460 / 1460 / 140: last segment > 20 bytes (stt.md §3)
    const b = segments(s, sttFrame(100), 1500); // one segment, frame id 0x78
    const frames = [a[2]!, a[0]!, b[0]!, a[1]!]; // out of order, interleaved
    const l = tshark(frames, { prefs: ['ip.try_heuristic_first:TRUE'] });
    assert.deepEqual(
      l.map((x) => fields(x, 'stt.seg_off')[0]),
      ['2920', '0', '0', '1460'],
    );
    assert.deepEqual(
      l.map((x) => fields(x, 'stt.pkt_len')[0]),
      ['3060', '3060', '160', '3060'],
    );
    assert.deepEqual(
      l.map((x) => fields(x, 'stt.pkt_id')[0]),
      ['0x00000077', '0x00000077', '0x00000078', '0x00000077'],
    );
    assert.deepEqual(fields(l[3], 'stt.context_id'), ['0x0123456789abcdef']);
    assert.deepEqual(fields(l[3], 'udp.length'), ['3008']);
    assert.deepEqual(fields(l[2], 'udp.length'), ['108']);
    // Second pass as plain TCP: every outer checksum is good (stt.check_checksum is broken, stt.md §3).
    const t = tshark(frames, { prefs: ['tcp.check_checksum:TRUE', 'ip.check_checksum:TRUE'] });
    for (const x of t) {
      assert.deepEqual(fields(x, 'tcp.checksum.status'), ['1']);
      assert.deepEqual(fields(x, 'ip.checksum.status'), ['1']);
    }
  });

  it('nvo reassembles segments built by scapy (out of order, duplicate)', { skip: needScapy() }, () => {
    const lines =
      scapy(`inner=Ether(src='02:00:00:00:00:0a',dst='02:00:00:00:00:0b')/IP(src='10.0.0.1',dst='10.0.0.2',id=0x101,flags='DF')/UDP(sport=1234,dport=5678)/Raw(bytes(range(256))*16)
frame=bytes(6)+b'\\x00\\x00'+bytes.fromhex('0123456789abcdef')+b'\\x00\\x00'+bytes(inner)
frame=bytes(8)+frame[8:]
print(frame.hex())
L=len(frame)
segs=[]
for off in range(0,L,1000):
  chunk=frame[off:off+1000]
  segs.append(Ether(src='02:00:00:00:00:01',dst='02:00:00:00:00:02')/IP(src='192.0.2.1',dst='192.0.2.2',flags='DF')/TCP(sport=50000,dport=7471,seq=(L<<16)|off,ack=0xabcdef01,flags='A' if off+1000<L else 'PA',window=0)/Raw(chunk))
for i in [3,1,0,1,4,2]:
  print(bytes(segs[i]).hex())`)
        .trim()
        .split('\n');
    const frame = fromHex(lines[0]!);
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT });
    let got: Uint8Array | undefined;
    const st: number[] = [];
    for (const h of lines.slice(1)) {
      const p = load(small, fromHex(h));
      const x = r.process(p, 0);
      st.push(x);
      if (x === DONE) {
        got = r.out!.bytes();
        r.release(r.out!);
      }
      small.free(p);
    }
    assert.equal(st.at(-1), DONE);
    assert.equal(r.counters.get('drop-stt-seg-duplicate'), 1);
    assert.ok(got !== undefined && hex(got) === hex(frame), 'reassembled frame differs from scapy’s');
  });

  it('a TSO superframe cut by the software TSO reassembles to the frame (SEQ low half = offset)', () => {
    const frame = sttFrame(30000);
    const p = load(big, frame, 0);
    const out = new Batch(4);
    assert.equal(new SttSegmenter().segment(p, 1500, small, out, true), IN_PLACE);
    const segs = new Batch(64);
    const n = new Segmenter({ pool: small }).segment(p, segs);
    assert.equal(n, Math.ceil(frame.length / 1460));
    big.free(p);
    const r = new SttReassembler({ memoryBytes: SUPER_SLOT });
    let got: Uint8Array | undefined;
    for (let i = segs.count - 1; i >= 0; i--) {
      const q = segs.packets[i]!;
      const x = r.process(q, 0);
      assert.ok(x === DONE || x !== FRAME);
      if (x === DONE) {
        got = r.out!.bytes();
        r.release(r.out!);
      }
      small.free(q);
    }
    assert.ok(got !== undefined && hex(got) === hex(frame), 'frame differs after TSO + reassembly');
    assert.equal(r.snapshot()['drop-stt-seg-bad-checksum'], undefined);
  });
});
