// decapPayload on hand-made headers (byte layouts from RFC 7348 §5, RFC 8926 §3.4, VXLAN-GPE draft
// §3.2, draft-zhou-li-vxlan-soe-01 §2), at a non-zero offset inside junk, and on hostile bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENCAP_GENEVE, ENCAP_VXLAN, ENCAP_VXLAN_GPE, ENCAP_VXLAN_SOE } from '../packet/packet.ts';
import * as R from './decap-reasons.ts';
import { decapPayload, newPayloadDecap } from './payload-decap.ts';

const INNER = Uint8Array.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 20]);

function at(header: number[], inner = INNER): { b: Uint8Array; o: number; end: number } {
  const b = new Uint8Array(7 + header.length + inner.length + 5).fill(0xa5);
  b.set(header, 7);
  b.set(inner, 7 + header.length);
  return { b, o: 7, end: 7 + header.length + inner.length };
}

function run(header: number[], encap: number, inner = INNER) {
  const { b, o, end } = at(header, inner);
  const d = newPayloadDecap();
  const st = decapPayload(b, o, end, encap, d);
  return { st, name: st === R.OK ? 'ok' : R.reasonName(st), d, o };
}

describe('decapPayload', () => {
  it('VXLAN: I flag, VNI in bytes 4..6', () => {
    const r = run([0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0], ENCAP_VXLAN);
    assert.equal(r.name, 'ok');
    assert.equal(r.d.vni, 0x123456);
    assert.equal(r.d.inner, r.o + 8);
    assert.equal(r.d.encap, ENCAP_VXLAN);
  });

  it('VXLAN-SOE on a VXLAN socket: S set, MSS from bytes 1 and 7', () => {
    const r = run([0x88, 0x05, 0, 0, 0, 0, 42, 0xa8], ENCAP_VXLAN);
    assert.equal(r.name, 'ok');
    assert.equal(r.d.encap, ENCAP_VXLAN_SOE);
    assert.equal(r.d.mss, 1448);
    assert.equal(r.d.vni, 42);
  });

  it('VXLAN-GPE: Ethernet next protocol only', () => {
    const ok = run([0x0c, 0, 0, 3, 0, 0, 42, 0], ENCAP_VXLAN_GPE);
    assert.equal(ok.name, 'ok');
    assert.equal(ok.d.vni, 42);
    assert.equal(run([0x0c, 0, 0, 1, 0, 0, 42, 0], ENCAP_VXLAN_GPE).name, 'vxlan-gpe-unsupported');
  });

  it('Geneve: options skipped, protocol 0x6558 only', () => {
    // Ver 0, Opt Len 2 (8 bytes), protocol 0x6558, VNI 42, one 8-byte option (class 0x0102, type 1, len 1).
    const r = run([0x02, 0, 0x65, 0x58, 0, 0, 42, 0, 0x01, 0x02, 0x01, 0x01, 1, 2, 3, 4], ENCAP_GENEVE);
    assert.equal(r.name, 'ok');
    assert.equal(r.d.inner, r.o + 16);
    assert.equal(r.d.vni, 42);
    assert.equal(run([0, 0, 0x08, 0x00, 0, 0, 42, 0], ENCAP_GENEVE).name, 'geneve-unsupported');
  });

  it('hostile bytes: named reasons', () => {
    assert.equal(run([0x08, 0, 0], ENCAP_VXLAN, new Uint8Array(0)).name, 'vxlan-truncated');
    assert.equal(run([0, 0, 0, 0, 0, 0, 42, 0], ENCAP_VXLAN).name, 'vxlan-bad-flags');
    assert.equal(
      run([0x08, 0, 0, 0, 0, 0, 42, 0], ENCAP_VXLAN, INNER.subarray(0, 10)).name,
      'inner-truncated',
    );
    assert.equal(run([0x3f, 0, 0x65, 0x58, 0, 0, 42, 0], ENCAP_GENEVE).name.startsWith('geneve-'), true);
    for (let n = 0; n < 24; n++)
      for (const e of [ENCAP_VXLAN, ENCAP_VXLAN_GPE, ENCAP_GENEVE]) {
        const b = new Uint8Array(n).map((_, i) => (i * 37 + e) & 0xff);
        decapPayload(b, 0, n, e, newPayloadDecap());
      }
  });
});
