// PMTU errors against scapy (which builds the same ICMP independently, checksums included) and the
// Linux rules of iptunnel_pmtud_check_icmp[v6] (net/ipv4/ip_tunnel_core.c).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { needScapy, scapy } from '../../test/harness/tools.ts';
import { guestTcp, ipv4Frame, load, noise } from '../../test/offload-frag/build.ts';
import { GSO_TCPV4, SUPERFRAME } from '../packet/packet.ts';
import { Pool, SUPER_SLOT } from '../packet/pool.ts';
import { fromHex, hex } from '../wire/bytes.ts';
import { FITS, ICMP_SENT, MAY_FRAGMENT, PmtuResponder, TOO_BIG_SILENT } from './pmtu.ts';

const big = new Pool(4, SUPER_SLOT);
const small = new Pool(64);

function run(
  r: PmtuResponder,
  frame: Uint8Array,
  mtu: number,
  now = 0,
  setup?: (p: import('../packet/packet.ts').Packet) => void,
) {
  const p = load(big, frame);
  setup?.(p);
  const st = r.check(p, mtu, now);
  big.free(p);
  let reply: Uint8Array | undefined;
  if (r.out) {
    reply = r.out.bytes();
    small.free(r.out);
  }
  return { st, reply };
}

describe('pmtu: ICMP frag-needed / packet-too-big to the guest', () => {
  it('builds the same errors as scapy for an IPv4 DF and an IPv6 packet (byte-exact)', {
    skip: needScapy(),
  }, () => {
    const lines = scapy(`e=Ether(src='02:00:00:00:00:0a',dst='02:00:00:00:00:0b')
g4=e/IP(src='10.0.0.1',dst='10.0.0.2',flags='DF',ttl=61,id=9)/TCP(sport=1,dport=2)/Raw(bytes(range(256))*6)
g4=Ether(bytes(g4))
r4=Ether(src=g4.dst,dst=g4.src)/IP(src='10.0.0.2',dst='10.0.0.1',id=0,flags='DF',ttl=61,tos=0)/ICMP(type=3,code=4,nexthopmtu=1450)/Raw(bytes(g4[IP])[:548])
g6=e/IPv6(src='2001:db8::1',dst='2001:db8::2',hlim=33)/UDP(sport=1,dport=2)/Raw(bytes(range(256))*6)
g6=Ether(bytes(g6))
r6=Ether(src=g6.dst,dst=g6.src)/IPv6(src='2001:db8::2',dst='2001:db8::1',hlim=33)/ICMPv6PacketTooBig(mtu=1430)/Raw(bytes(g6[IPv6])[:1232])
for x in (g4,r4,g6,r6): print(bytes(x).hex())`)
      .trim()
      .split('\n')
      .map(fromHex);
    const r = new PmtuResponder(small);
    const a = run(r, lines[0]!, 1450);
    assert.equal(a.st, ICMP_SENT);
    assert.equal(hex(a.reply!), hex(lines[1]!));
    const c = run(r, lines[2]!, 1430);
    assert.equal(c.st, ICMP_SENT);
    assert.equal(hex(c.reply!), hex(lines[3]!));
  });

  it('follows the Linux rules for when not to answer', () => {
    const r = new PmtuResponder(small);
    const p = noise(1460, 1);
    assert.equal(run(r, ipv4Frame({ payload: p, df: true }), 1500).st, FITS);
    assert.equal(run(r, ipv4Frame({ payload: p, df: false }), 1450).st, MAY_FRAGMENT);
    assert.equal(run(r, ipv4Frame({ payload: p, df: true }), 500).st, TOO_BIG_SILENT); // MTU < 576
    assert.equal(run(r, ipv4Frame({ payload: p, df: true, src: [0, 0, 0, 0] }), 1450).st, TOO_BIG_SILENT);
    assert.equal(run(r, ipv4Frame({ payload: p, df: true, dst: [224, 0, 0, 5] }), 1450).st, TOO_BIG_SILENT);
    const icmpErr = new Uint8Array(1460);
    icmpErr[0] = 3; // an ICMP error itself
    assert.equal(run(r, ipv4Frame({ payload: icmpErr, df: true, proto: 1 }), 1450).st, TOO_BIG_SILENT);
    assert.equal(r.counters.get('drop-pmtu-mtu-too-small'), 1);
    assert.equal(r.counters.get('drop-pmtu-bad-address'), 2);
    assert.equal(r.counters.get('drop-pmtu-icmp-error'), 1);
  });

  it('judges a superframe by its segments, and rate-limits (burst 50, 1000/s)', () => {
    const r = new PmtuResponder(small, { burst: 2, ratePerSec: 1 });
    const sf = guestTcp(20000);
    const seg = (mss: number) => (q: import('../packet/packet.ts').Packet) => {
      q.l4 = q.l3 + 20;
      q.flags |= SUPERFRAME;
      q.gsoType = GSO_TCPV4;
      q.gsoSize = mss;
    };
    assert.equal(run(r, sf, 1450, 0, seg(1400)).st, FITS); // 40 + 1400 ≤ 1450
    assert.equal(run(r, sf, 1450, 0, seg(1448)).st, ICMP_SENT);
    assert.equal(run(r, sf, 1450, 0, seg(1448)).st, ICMP_SENT);
    assert.equal(run(r, sf, 1450, 0, seg(1448)).st, TOO_BIG_SILENT);
    assert.equal(run(r, sf, 1450, 1000, seg(1448)).st, ICMP_SENT);
    assert.equal(r.counters.get('drop-pmtu-rate-limited'), 1);
  });
});
