// decapUdpTunnel4 against its contract: on frames scapy builds (the independent oracle for the inner
// bytes and the VNI) and on mutations of them, it accepts only what decapFrame accepts, filling every
// Decap field the same; it accepts the plain VXLAN-over-IPv4 cases (else the fast path is dead code).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { needScapy, scapy } from '../../test/harness/tools.ts';
import { decapUdpTunnel4 } from './decap-fast.ts';
import { decapFrame, newDecap } from './decap-frame.ts';
import * as R from './decap-reasons.ts';

const hex = (b: Uint8Array, o = 0, e = b.length) => Buffer.from(b.subarray(o, e)).toString('hex');
const viewOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The general path's answer and the fast path's, on the same bytes. */
function both(b: Uint8Array, verifyChecksums = true) {
  const opts = { verifyChecksums };
  const general = newDecap();
  const r = decapFrame(b, 0, b.length, 1, opts, general);
  const fast = newDecap();
  const ok = decapUdpTunnel4(b, viewOf(b), 0, b.length, opts, fast);
  return { r, general, ok, fast };
}

function assertContract(b: Uint8Array, verifyChecksums = true): boolean {
  const { r, general, ok, fast } = both(b, verifyChecksums);
  if (ok) {
    assert.equal(R.reasonName(r), 'ok', `fast path accepted what decapFrame refuses: ${hex(b)}`);
    assert.deepEqual(fast, general, hex(b));
  }
  return ok;
}

describe('decapUdpTunnel4 (fast VXLAN/Geneve over IPv4 decap) = decapFrame', { skip: needScapy() }, () => {
  const [json, INNER] = scapy(`
import json
inner = Ether(src='0a:00:00:00:00:01', dst='0a:00:00:00:00:02')/IP(src='10.0.0.1', dst='10.0.0.2')/UDP(sport=1, dport=2)/Raw(b'x'*30)
ip = IP(src='192.0.2.1', dst='192.0.2.2')
out = {
  'plain': bytes(Ether()/ip/UDP(sport=50000, dport=4789, chksum=0)/VXLAN(vni=99)/inner),
  'udp-csum': bytes(Ether()/ip/UDP(sport=50000, dport=4789)/VXLAN(vni=99)/inner),
  'linux-port': bytes(Ether()/ip/UDP(sport=50000, dport=8472, chksum=0)/VXLAN(vni=99)/inner),
  'padded': bytes(Ether()/ip/UDP(sport=1, dport=4789, chksum=0)/VXLAN(vni=99)/inner) + b'\\0' * 6,
  'soe': bytes(Ether()/ip/UDP(sport=1, dport=4789, chksum=0)/VXLAN(flags=0x88, vni=99)/inner),
  'no-i': bytes(Ether()/ip/UDP(sport=1, dport=4789, chksum=0)/VXLAN(flags=0, vni=99)/inner),
  'options': bytes(Ether()/IP(src='192.0.2.1', dst='192.0.2.2', options=[IPOption_NOP()]*4)/UDP(sport=1, dport=4789, chksum=0)/VXLAN(vni=99)/inner),
  'fragment': bytes(Ether()/IP(src='192.0.2.1', dst='192.0.2.2', flags='MF')/UDP(sport=1, dport=4789, chksum=0)/VXLAN(vni=99)/inner),
  'vlan': bytes(Ether()/Dot1Q(vlan=5)/ip/UDP(sport=1, dport=4789, chksum=0)/VXLAN(vni=99)/inner),
  'geneve-port': bytes(Ether()/ip/UDP(sport=1, dport=6081, chksum=0)/VXLAN(vni=99)/inner),
  'udp-length-short': bytes(Ether()/ip/UDP(sport=1, dport=4789, len=12, chksum=0)/VXLAN(vni=3)/inner),
}
from scapy.contrib.geneve import GENEVE
out['geneve'] = bytes(Ether()/ip/UDP(sport=1, dport=6081)/GENEVE(vni=99, proto=0x6558)/inner)
out['geneve-oam'] = bytes(Ether()/ip/UDP(sport=1, dport=6081)/GENEVE(vni=99, proto=0x6558, oam=1)/inner)
out['geneve-options'] = bytes(Ether()/ip/UDP(sport=1, dport=6081)/GENEVE(vni=99, proto=0x6558, optionlen=2)/(b'\\x01\\x02\\x03\\x01' + b'\\0' * 4)/inner)
out['geneve-ipv4'] = bytes(Ether()/ip/UDP(sport=1, dport=6081)/GENEVE(vni=99, proto=0x0800)/inner[IP])
print(json.dumps({k: v.hex() for k, v in out.items()}))
print(bytes(inner).hex())
`)
    .trim()
    .split('\n') as [string, string];
  const cases = JSON.parse(json) as Record<string, string>;
  const frame = (name: string) => new Uint8Array(Buffer.from(cases[name]!, 'hex'));

  it('takes plain VXLAN and Geneve over IPv4: the VNI and inner frame scapy put there, as decapFrame says', () => {
    for (const name of ['plain', 'udp-csum', 'linux-port', 'padded', 'geneve', 'geneve-oam']) {
      const b = frame(name);
      assert.ok(assertContract(b), name);
      const d = newDecap();
      decapUdpTunnel4(b, viewOf(b), 0, b.length, { verifyChecksums: true }, d);
      assert.equal(d.idLo, 99, name);
      assert.equal(hex(b, d.inner, d.innerEnd), INNER, name);
    }
  });

  it('leaves everything else to decapFrame (SOE, no I flag, IP options, fragments, VLAN, Geneve options or IP)', () => {
    const others = ['soe', 'no-i', 'options', 'fragment', 'vlan', 'geneve-port', 'udp-length-short'];
    for (const name of [...others, 'geneve-options', 'geneve-ipv4']) {
      assert.equal(assertContract(frame(name)), false, name);
    }
  });

  it('bad IPv4 or UDP checksum: refused (decapFrame gives the reason); UDP unchecked when told', () => {
    const badIp = frame('plain');
    badIp[14 + 10]! ^= 1;
    assert.equal(assertContract(badIp), false);
    assert.equal(R.reasonName(both(badIp).r), 'ipv4-bad-checksum');
    const badUdp = frame('udp-csum');
    badUdp[14 + 20 + 6]! ^= 1;
    assert.equal(assertContract(badUdp), false);
    assert.equal(R.reasonName(both(badUdp).r), 'udp-bad-checksum');
    assert.equal(assertContract(badUdp, false), true);
  });

  it('mutated frames (bytes flipped, cut short, lengths changed): never accepts what decapFrame refuses', () => {
    const bases = ['plain', 'udp-csum', 'linux-port', 'soe', 'options', 'geneve', 'geneve-options'].map(
      frame,
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bases.length - 1 }),
        fc.array(fc.tuple(fc.nat(120), fc.nat(255)), { maxLength: 4 }),
        fc.nat(200),
        fc.boolean(),
        (which, flips, cut, verify) => {
          const base = bases[which]!;
          const b = base.slice(0, Math.max(0, base.length - (cut > 150 ? cut - 150 : 0)));
          for (const [at, v] of flips) if (at < b.length) b[at] = v;
          assertContract(b, verify);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
