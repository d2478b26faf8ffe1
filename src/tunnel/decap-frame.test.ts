// decapFrame on outer headers the vector files do not cover (built by scapy here): IPv6 extension
// header chains, IPv6 fragments, raw-IP link types, deep VLAN stacks; and hostile bytes (fast-check
// mutations of every vector frame): always a known reason, inner range inside the frame, no throw.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { needScapy, scapy } from '../../test/harness/tools.ts';
import { openCapture } from '../io/capture-reader.ts';
import { ENCAP_NAMES } from '../packet/packet.ts';
import { decapFrame, newDecap } from './decap-frame.ts';
import * as R from './decap-reasons.ts';
import { sourcePort } from './encap-frame.ts';
import { innerFlowHash } from './flow-hash.ts';
import { FrameDecapper } from './frame-decapper.ts';

const opts = { verifyChecksums: true };
const hex = (b: Uint8Array, o = 0, e = b.length) => Buffer.from(b.subarray(o, e)).toString('hex');

describe('decapFrame: outer header variants (scapy-built)', { skip: needScapy() }, () => {
  const [casesJson, INNER] = scapy(`
import json
inner = Ether(src='0a:00:00:00:00:01', dst='0a:00:00:00:00:02')/IP(src='10.0.0.1', dst='10.0.0.2')/UDP(sport=1, dport=2)/Raw(b'x'*40)
vx = UDP(sport=50000, dport=4789)/VXLAN(vni=99)/inner
v6 = IPv6(src='2001:db8::1', dst='2001:db8::2')
out = {
  'hbh-dstopt': bytes(Ether()/v6/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\\0'*12)])/vx),
  'routing-sl0': bytes(Ether()/v6/IPv6ExtHdrRouting(addresses=['2001:db8::3'], segleft=0)/vx),
  'frag6': bytes(Ether()/v6/IPv6ExtHdrFragment(id=7, m=1)/vx),
  'atomic-frag6': bytes(Ether()/v6/IPv6ExtHdrFragment(id=8, m=0)/vx),
  'nine-ext': bytes(Ether()/v6/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/vx),
  'raw-ipv4': bytes(IP(src='192.0.2.1', dst='192.0.2.2')/vx),
  'sll': bytes(CookedLinux(pkttype=4, lladdrtype=1, lladdrlen=6, src=b'\\x02\\0\\0\\0\\0\\x01\\0\\0', proto=0x0800)/IP(src='192.0.2.1', dst='192.0.2.2')/vx),
  'sll2': bytes(CookedLinuxV2(proto=0x86dd, ifindex=3, lladdrtype=1, lladdrlen=6)/v6/vx),
  'vlan4': bytes(Ether()/Dot1AD(vlan=1)/Dot1Q(vlan=2)/Dot1Q(vlan=3)/Dot1Q(vlan=4)/IP()/vx),
  'vlan5': bytes(Ether()/Dot1AD(vlan=1)/Dot1Q(vlan=2)/Dot1Q(vlan=3)/Dot1Q(vlan=4)/Dot1Q(vlan=5)/IP()/vx),
  'ethernet-padding': bytes(Ether()/IP()/UDP(sport=1, dport=4789)/VXLAN(vni=3)/Ether(src='0a:00:00:00:00:01', dst='0a:00:00:00:00:02', type=0x88b5)) + b'\\0'*6,
  'gre-routing': bytes(Ether()/IP()/GRE(routing_present=1, proto=0x6558)/inner),
  'udp-length-short': bytes(Ether()/IP()/UDP(sport=1, dport=4789, len=12)/VXLAN(vni=3)/inner),
}
from scapy.contrib.geneve import GENEVE
out['raw-ipv6-geneve'] = bytes(v6/UDP(sport=1, dport=6081)/GENEVE(vni=5, proto=0x6558)/inner)
print(json.dumps({k: v.hex() for k, v in out.items()}))
print(bytes(inner).hex())
`)
    .trim()
    .split('\n') as [string, string];
  const cases = JSON.parse(casesJson) as Record<string, string>;

  const run = (name: string, linktype = 1, verifyChecksums = true) => {
    const b = Buffer.from(cases[name]!, 'hex');
    const d = newDecap();
    const r = decapFrame(b, 0, b.length, linktype, { verifyChecksums }, d);
    return { r: R.reasonName(r), d, b };
  };

  it('IPv6 extension headers are walked to the UDP header', () => {
    for (const name of ['hbh-dstopt', 'routing-sl0']) {
      const { r, d, b } = run(name);
      assert.equal(r, 'ok', name);
      assert.equal(ENCAP_NAMES[d.encap], 'vxlan');
      assert.equal(d.idLo, 99);
      assert.equal(hex(b, d.inner, d.innerEnd), INNER, name);
    }
  });

  it('IPv6 fragments (atomic ones too) need reassembly; more than 8 extension headers is too many', () => {
    assert.equal(run('frag6').r, 'outer-fragment-not-reassembled');
    assert.equal(run('atomic-frag6').r, 'outer-fragment-not-reassembled');
    assert.equal(run('nine-ext').r, 'ipv6-too-many');
  });

  it('raw-IP link types (101) carry the outer IP header first', () => {
    const a = run('raw-ipv4', 101);
    assert.equal(a.r, 'ok');
    assert.equal(hex(a.b, a.d.inner, a.d.innerEnd), INNER);
    const g = run('raw-ipv6-geneve', 101);
    assert.equal(g.r, 'ok');
    assert.equal(ENCAP_NAMES[g.d.encap], 'geneve');
    assert.equal(hex(g.b, g.d.inner, g.d.innerEnd), INNER);
    assert.equal(run('raw-ipv4', 147).r, 'unsupported-linktype');
  });

  it('Linux cooked captures (tcpdump -i any): SLL (113) and SLL2 (276)', () => {
    for (const [name, lt] of [
      ['sll', 113],
      ['sll2', 276],
    ] as const) {
      const { r, d, b } = run(name, lt);
      assert.equal(r, 'ok', name);
      assert.equal(hex(b, d.inner, d.innerEnd), INNER, name);
    }
  });

  it('up to 4 VLAN tags; a fifth is too many', () => {
    assert.equal(run('vlan4').r, 'ok');
    assert.equal(run('vlan5').r, 'vlan-too-many');
  });

  it('the UDP length, not the frame end, ends the inner frame (Ethernet padding is not inner data)', () => {
    const { r, d, b } = run('ethernet-padding');
    assert.equal(r, 'ok');
    assert.equal(d.innerEnd - d.inner, 14);
    assert.ok(d.innerEnd < b.length);
  });

  it('GRE with RFC 1701 routing is unsupported; a UDP length too short for the VXLAN header is caught', () => {
    assert.equal(run('gre-routing').r, 'gre-unsupported');
    // (scapy's UDP checksum covers the whole payload, so with verification on that fails first)
    assert.equal(run('udp-length-short').r, 'udp-bad-checksum');
    assert.equal(run('udp-length-short', 1, false).r, 'vxlan-truncated');
  });
});

describe('FrameDecapper: reassembly drops are named after the reassembler counters', {
  skip: needScapy(),
}, () => {
  it('an overlapping IPv4 fragment with other bytes kills the datagram (RFC 5722 rule, ipv4-reassemble.ts)', () => {
    const frames = scapy(`
p = IP(src='192.0.2.1', dst='192.0.2.2', id=9)/UDP(sport=1, dport=4789)/VXLAN(vni=1)/Ether()/Raw(b'a'*2000)
f = fragment(p, fragsize=1000)
g = f[1].copy(); g.frag = f[1].frag - 8; g[Raw].load = b'z' * len(g[Raw].load); del g.chksum; del g.len
for x in [f[0], g, f[1], f[2]]:
    print(bytes(Ether()/x).hex())
`)
      .trim()
      .split('\n')
      .map((h) => Buffer.from(h, 'hex'));
    const dec = new FrameDecapper({ verifyChecksums: false });
    const d = newDecap();
    const got = frames.map((b) => {
      const r = dec.decap(b, 0, b.length, 1, 0, d);
      return r === R.REASSEMBLY_DROP ? dec.dropName : R.reasonName(r);
    });
    assert.deepEqual(got, [
      'held-for-reassembly',
      'ipv4-frag-overlap',
      'ipv4-frag-poisoned',
      'ipv4-frag-poisoned',
    ]);
  });
});

describe('decapFrame on hostile bytes', () => {
  it('mutated vector frames: a known reason, inner range inside the frame, never a throw', async () => {
    const r = await openCapture(new URL('../../test/vectors/encaps.pcap', import.meta.url).pathname);
    const seeds: Uint8Array[] = [];
    for await (const rec of r) seeds.push(rec.data.slice());
    await r.close();
    const d = newDecap();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        fc.boolean(),
        (i, edits, cut, verify) => {
          const b = seeds[i]!.slice();
          for (const [at, v] of edits) b[at % Math.min(b.length, 120)] = v;
          const end = b.length - (cut % (b.length + 1));
          const reason = decapFrame(b, 0, end, 1, { verifyChecksums: verify }, d);
          assert.ok(reason >= 0 && reason < R.REASON_COUNT);
          assert.ok(!R.reasonName(reason).startsWith('unknown'));
          if (reason === R.OK) assert.ok(d.inner >= 0 && d.inner <= d.innerEnd && d.innerEnd <= end);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('random bytes of any link type', () => {
    const d = newDecap();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(1, 101, 228, 229, 0), (b, lt) => {
        const reason = decapFrame(b, 0, b.length, lt, opts, d);
        assert.ok(reason >= 0 && reason < R.REASON_COUNT);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('source port and flow hash', () => {
  it('sourcePort maps every 32-bit hash into 32768..60998 as udp_flow_src_port() does', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (h) => {
        const p = sourcePort(h);
        // include/net/udp.h: hash ^= hash << 16; return (((u64)hash * (max - min)) >> 32) + min
        const x = BigInt((h ^ (h << 16)) >>> 0);
        assert.equal(BigInt(p), ((x * BigInt(60999 - 32768)) >> 32n) + 32768n);
        assert.ok(p >= 32768 && p <= 60998);
      }),
    );
  });

  it('the flow hash ignores everything but addresses, protocol and ports', () => {
    const f = Buffer.from(
      '0a00000000020a00000000010800450000320001000040110000' +
        '0a0000010a000002' +
        '00010002001e0000' +
        '00'.repeat(22),
      'hex',
    );
    const g = Buffer.from(f);
    g[0] = 0xff; //          destination MAC
    g[14 + 4] = 0x12; //     IP ID
    g[14 + 8] = 1; //        TTL
    g.fill(0x55, 42); //     payload
    assert.equal(innerFlowHash(f, 0, f.length, true), innerFlowHash(g, 0, g.length, true));
    g[14 + 20 + 1] = 3; //   source port
    assert.notEqual(innerFlowHash(f, 0, f.length, true), innerFlowHash(g, 0, g.length, true));
  });
});
