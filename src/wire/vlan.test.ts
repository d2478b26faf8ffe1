import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fuzz, guarded, truncations } from '../../test/harness/hostile.ts';
import { roundTrip } from '../../test/harness/roundtrip.ts';
import { fields, needScapy, needTshark, tshark, tsharkMalformed } from '../../test/harness/tools.ts';
import { pyEach } from '../../test/harness/wire-oracles.ts';
import { fromHex } from './bytes.ts';
import * as etherType from './ether-type.ts';
import { OK, TOO_MANY, TRUNCATED } from './status.ts';
import * as vlan from './vlan.ts';

// Provenance: scapy 2.5 —
//   Ether(dst='02:00:00:00:00:01',src='02:00:00:00:00:02')/Dot1AD(vlan=100,prio=5,id=1)/Dot1Q(vlan=200,prio=3)
//   /IP(src='1.1.1.1',dst='2.2.2.2',proto=253)
// tshark 4.0 reads it as S-tag pcp 5 DEI 1 VID 100, C-tag pcp 3 DEI 0 VID 200, inner type 0x0800.
const QINQ = '02000000000102000000000288a8b064810060c80800450000140001000040fd73e70101010102020202';

const arbRepr = fc
  .record({
    pcp: fc.integer({ min: 0, max: 7 }),
    dei: fc.boolean(),
    vid: fc.integer({ min: 0, max: 4095 }),
    etherType: fc.integer({ min: 0, max: 0xffff }),
  })
  .map((r) => ({ ...r }));

describe('vlan', () => {
  it('parses the QinQ vector: tag by tag and as a stack', () => {
    const b = fromHex(QINQ);
    const r = vlan.newRepr();
    assert.equal(vlan.parse(b, 14, b.length, r), OK);
    assert.deepEqual({ ...r }, { pcp: 5, dei: true, vid: 100, etherType: etherType.VLAN });
    assert.equal(vlan.parse(b, 18, b.length, r), OK);
    assert.deepEqual({ ...r }, { pcp: 3, dei: false, vid: 200, etherType: etherType.IPV4 });
    const s = vlan.newStack();
    assert.equal(vlan.parseStack(b, 0, b.length, s), OK);
    assert.deepEqual(
      [s.count, s.tpid[0], s.tci[0], s.tpid[1], s.tci[1], s.etherType, s.offset],
      [2, 0x88a8, vlan.makeTci(5, true, 100), 0x8100, vlan.makeTci(3, false, 200), 0x0800, 22],
    );
    assert.equal(vlan.format(b, 14, b.length), '802.1Q vid=100 pcp=5 DEI type 802.1Q');
  });

  it('round-trips random tags', () => {
    fc.assert(fc.property(arbRepr, (r) => void roundTrip(vlan.codec, r)));
  });

  it('stack: untagged, too many tags, truncated tags; never reads outside', () => {
    const s = vlan.newStack();
    const untagged = fromHex('020000000001020000000002 0800 4500'.replace(/ /g, ''));
    assert.equal(vlan.parseStack(untagged, 0, untagged.length, s), OK);
    assert.deepEqual([s.count, s.etherType, s.offset], [0, 0x0800, 14]);
    const three = fromHex('020000000001020000000002 88a8 0001 8100 0002 8100 0003 0800'.replace(/ /g, ''));
    assert.equal(vlan.parseStack(three, 0, three.length, s), TOO_MANY);
    const b = fromHex(QINQ);
    for (let end = 0; end < 22; end++)
      assert.equal(vlan.parseStack(guarded(b, 0, end), 0, end, s), TRUNCATED);
    truncations(vlan.codec, b.subarray(14, 18), 4);
    fuzz(vlan.codec, [b.subarray(14)]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (f) => {
        vlan.parseStack(guarded(f, 0, f.length), 0, f.length, s);
      }),
    );
  });

  it('scapy stacks with random tags parse to the same values', { skip: needScapy() }, () => {
    const specs = fc.sample(fc.tuple(arbRepr, arbRepr, fc.boolean()), { numRuns: 60, seed: 9 });
    const lines = pyEach(
      specs.map(([a, c, two]) => ({ a, c, two })),
      `    a, c = s['a'], s['c']
    inner = Dot1Q(vlan=c['vid'], prio=c['pcp'], id=int(c['dei']))/IP(dst='192.0.2.1')
    p = Ether()/Dot1AD(vlan=a['vid'], prio=a['pcp'], id=int(a['dei']))/inner if s['two'] else Ether()/inner
    print(bytes(p).hex())`,
    );
    const st = vlan.newStack();
    lines.forEach((line, i) => {
      const [a, c, two] = specs[i]!;
      const b = fromHex(line);
      assert.equal(vlan.parseStack(b, 0, b.length, st), OK);
      assert.equal(st.count, two ? 2 : 1);
      assert.equal(st.etherType, etherType.IPV4);
      assert.equal(st.offset, 14 + 4 * st.count);
      const tags = two ? [a, c] : [c];
      tags.forEach((t, k) => {
        assert.equal(st.tpid[k], two && k === 0 ? etherType.QINQ : etherType.VLAN);
        assert.equal(st.tci[k], vlan.makeTci(t.pcp, t.dei, t.vid), `frame ${i} tag ${k}`);
      });
    });
  });

  it('tags emitted by nvo dissect in tshark to the same fields', { skip: needTshark() }, () => {
    const reprs = fc.sample(arbRepr, { numRuns: 60, seed: 10 }).map((r) => ({ ...r, etherType: 0x0700 }));
    const frames = reprs.map((r) => {
      const f = new Uint8Array(60).fill(0x20);
      f.set(fromHex('0200000000010200000000028100'));
      vlan.emit(r, f, 14);
      return f;
    });
    tshark(frames).forEach((l, i) => {
      const r = reprs[i]!;
      assert.equal(Number(fields(l, 'vlan.priority')[0]), r.pcp);
      assert.equal(fields(l, 'vlan.dei')[0], r.dei ? '1' : '0');
      assert.equal(Number(fields(l, 'vlan.id')[0]), r.vid);
      assert.equal(Number(fields(l, 'vlan.etype')[0]), 0x0700);
      assert.equal(tsharkMalformed(l), undefined);
    });
  });
});
