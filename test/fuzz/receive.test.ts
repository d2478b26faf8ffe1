// Fuzzes the receive path above the codecs: flow-key extraction (src/flow/extract.ts extractFrame) and
// whole-frame tunnel detection + decapsulation (src/tunnel/decap-frame.ts decapFrame, then extraction
// of the inner frame), on mutations of real frames built by scapy (plain Ethernet/VLAN/QinQ, IPv4 with
// TCP options and fragments, IPv6 with extension headers, ICMPv6 ND, ARP, SCTP, 802.3/LLC, and each
// of those in VXLAN (4789/8472), VXLAN-GPE, Geneve, GRE/NVGRE, VXLAN over IPv6 and STT) plus random
// bytes. Same method and invariants as parsers.test.ts: never throw, and identical results (status or
// drop reason, every key word, every offset taken relative to o) when the same bytes sit in buffers
// that differ only outside [o, end); every offset reported lies inside [o, end].
// NVO_FUZZ_RUNS (default 100,000) inputs per target; NVO_FUZZ_SEED as in parsers.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { extractFrame } from '../../src/flow/extract.ts';
import { KEY_WORDS, newKey } from '../../src/flow/key.ts';
import { type Decap, decapFrame, newDecap } from '../../src/tunnel/decap-frame.ts';
import { LT_ETHERNET } from '../../src/tunnel/detect.ts';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import * as etherType from '../../src/wire/ether-type.ts';
import { haveScapy, needScapy, scapy } from '../harness/tools.ts';
import { mutate, type Rng, rng } from './mutate.ts';

const RUNS = Number(process.env['NVO_FUZZ_RUNS'] ?? 100_000);
const SEED =
  process.env['NVO_FUZZ_SEED'] === 'random'
    ? (Math.random() * 0x100000000) >>> 0
    : Number(process.env['NVO_FUZZ_SEED'] ?? 0x6e766f);

const SEED_FRAMES = `
from scapy.contrib.geneve import GENEVE
import struct
inner = [
  Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")/IP(src="10.0.0.1", dst="10.0.0.2")/TCP(sport=1234, dport=80, flags="S", options=[("MSS",1460),("SAckOK",b""),("Timestamp",(1,0)),("NOP",None),("WScale",7)]),
  Ether()/IP(src="10.0.0.1", dst="10.0.0.2", flags="MF", frag=0)/UDP(sport=5, dport=53)/(b"q"*40),
  Ether()/IP(src="10.0.0.1", dst="10.0.0.2", frag=100)/(b"z"*30),
  Ether()/Dot1Q(vlan=10, prio=3)/IP(src="10.1.1.1", dst="10.1.1.2", tos=0xb8)/ICMP(type=8)/(b"p"*24),
  Ether(type=0x88a8)/Dot1AD(vlan=100)/Dot1Q(vlan=200)/IPv6(src="fe80::1", dst="ff02::1")/TCP(sport=22, dport=2222, flags="PA")/(b"d"*10),
  Ether()/IPv6(src="2001:db8::1", dst="2001:db8::2", fl=0x12345)/IPv6ExtHdrHopByHop()/IPv6ExtHdrRouting()/IPv6ExtHdrFragment(offset=0, m=1)/UDP(sport=7, dport=9)/(b"u"*20),
  Ether()/IPv6(src="fe80::1", dst="ff02::1:ff00:2")/ICMPv6ND_NS(tgt="fe80::2")/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"),
  Ether()/IPv6(src="fe80::2", dst="fe80::1")/ICMPv6ND_NA(tgt="fe80::2")/ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:02"),
  Ether(dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.2", hwsrc="02:00:00:00:00:01"),
  Ether()/IP(src="10.0.0.1", dst="10.0.0.2", proto=132)/(b"\\x00\\x50\\x00\\x51" + b"s"*12),
  Ether()/Dot3()/LLC()/(b"x"*20),
]
outer_eth = Ether(src="02:00:00:00:aa:01", dst="02:00:00:00:aa:02")
frames = list(inner)
for i, f in enumerate(inner[:6]):
  o = outer_eth/IP(src="192.0.2.1", dst="192.0.2.2")
  frames.append(o/UDP(sport=49152+i, dport=4789)/VXLAN(vni=42+i)/f)
  frames.append(o/UDP(sport=49152+i, dport=8472)/VXLAN(vni=7)/f)
  frames.append(o/UDP(sport=40000, dport=4790)/VXLAN(flags=0x0c, NextProtocol=3, vni=5)/f)
  if IP in f:
    frames.append(o/UDP(sport=40000, dport=4790)/VXLAN(flags=0x0c, NextProtocol=1, vni=5)/f[IP])
  frames.append(o/UDP(sport=40001, dport=6081)/GENEVE(vni=77, proto=0x6558)/f)
  frames.append(o/GRE(key_present=1, key=0x00abcd00, proto=0x6558)/f)
  frames.append(o/GRE(chksum_present=1, seqnum_present=1, seqence_number=5, proto=0x6558)/f)
  frames.append(outer_eth/IPv6(src="2001:db8::a", dst="2001:db8::b")/UDP(sport=50000, dport=4789)/VXLAN(vni=99)/f)
  stt = bytes([0, 0, 0, 0]) + struct.pack("!HH", 1448, 0) + struct.pack("!Q", 0x1122334455667788 + i) + b"\\x00\\x00" + bytes(f)
  frames.append(o/TCP(sport=50000+i, dport=7471, flags="PA", seq=(len(stt) << 16), ack=1234+i)/stt)
for f in frames:
  print(bytes(f).hex())
`;

interface Layout {
  name: string;
  pre: Uint8Array;
  post: Uint8Array;
}
const JUNK = (() => {
  const r = rng(0xbad);
  return Uint8Array.from({ length: 64 }, () => r.int(256));
})();
const LAYOUTS: Layout[] = [
  { name: 'exact', pre: new Uint8Array(0), post: new Uint8Array(0) },
  { name: 'zeros', pre: new Uint8Array(6), post: new Uint8Array(64) },
  { name: 'ones', pre: new Uint8Array(33).fill(0xff), post: new Uint8Array(64).fill(0xff) },
  { name: 'random', pre: JUNK.slice(0, 2), post: JUNK },
];
const MAX = 4096;
const bufs = LAYOUTS.map((L) => new Uint8Array(L.pre.length + MAX + L.post.length));

/** Places input in layout l; returns the buffer (the exact layout: a view ending at `end`). */
function place(l: number, input: Uint8Array): Uint8Array {
  const L = LAYOUTS[l]!;
  const b = l === 0 ? bufs[0]!.subarray(0, input.length) : bufs[l]!;
  b.set(L.pre, 0);
  b.set(input, L.pre.length);
  b.set(L.post, L.pre.length + input.length);
  return b;
}

const OFFSET_FIELDS = ['l3', 'l4', 'l4End', 'tunnel', 'inner', 'innerEnd'] as const;

/** One target's result as text, offsets made relative to o, so layouts compare directly. */
type Target = (b: Uint8Array, o: number, end: number) => string;

const key = newKey();
const keyInner = newKey();
const decap = newDecap();

function keyText(k: Uint32Array): string {
  let s = '';
  for (let i = 0; i < KEY_WORDS; i++) s += `${k[i]!.toString(16)},`;
  return s;
}

const extractTarget: Target = (b, o, end) => {
  key.fill(0);
  const st = extractFrame(b, o, end, key);
  return `${st}|${keyText(key)}`;
};

function decapTarget(verifyChecksums: boolean): Target {
  const opts = { verifyChecksums };
  return (b, o, end) => {
    const r = decapFrame(b, o, end, LT_ETHERNET, opts, decap);
    let s = `${r}|${decap.encap},${decap.vlanTags},${decap.ipVersion},${decap.protocol},${decap.srcPort},${decap.dstPort}`;
    s += `,${decap.innerType},${decap.idHi},${decap.idLo},${decap.mss}`;
    const d = decap as Decap & Record<string, number>;
    for (const f of OFFSET_FIELDS) {
      const v = d[f]!;
      if (v >= 0 && (v < o || v > end)) throw new OffsetError(`${f} = ${v - o} outside [0, ${end - o}]`);
      s += `,${f}=${v >= 0 ? v - o : v}`;
    }
    if (r === 0 && decap.innerType === etherType.TEB) {
      keyInner.fill(0);
      s += `|inner ${extractFrame(b, decap.inner, decap.innerEnd, keyInner)}|${keyText(keyInner)}`;
    }
    return s;
  };
}

class OffsetError extends Error {}

function checkOne(target: Target, input: Uint8Array): string | undefined {
  let first = '';
  for (let l = 0; l < LAYOUTS.length; l++) {
    const b = place(l, input);
    const o = LAYOUTS[l]!.pre.length;
    let got: string;
    try {
      got = target(b, o, o + input.length);
    } catch (e) {
      return e instanceof OffsetError
        ? `offset outside the frame (${LAYOUTS[l]!.name}): ${e.message}`
        : `threw (${LAYOUTS[l]!.name}): ${(e as Error).stack ?? e}`;
    }
    if (l === 0) first = got;
    else if (got !== first)
      return `differs (${LAYOUTS[l]!.name} vs exact): reads outside [o, end)\n  ${got}\n  ${first}`;
  }
  return undefined;
}

function randomBytes(r: Rng): Uint8Array {
  const n = r.int(r.int(4) === 0 ? 600 : 80);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  // Half of them get a plausible Ethernet type so the fuzzer gets past the first switch.
  if (n >= 14 && r.int(2) === 0) {
    const t = [0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806][r.int(5)]!;
    b[12] = t >>> 8;
    b[13] = t & 0xff;
  }
  return b;
}

function fuzz(name: string, target: Target, seeds: Uint8Array[], salt: number, runs: number): void {
  const r = rng((SEED ^ salt) >>> 0);
  for (const s of seeds) {
    const err = checkOne(target, s);
    if (err) assert.fail(`${name}: seed frame ${hex(s)}\n${err}`);
  }
  for (let i = 0; i < runs; i++) {
    const input = i % 5 === 0 ? randomBytes(r) : mutate(r, seeds[r.int(seeds.length)]!);
    if (input.length > MAX) continue;
    const err = checkOne(target, input);
    if (err) assert.fail(`${name} seed=${SEED} input #${i} (${input.length} B): ${hex(input)}\n${err}`);
  }
}

describe('fuzz: receive path (flow key extraction, tunnel decap)', { skip: needScapy() }, () => {
  const seeds = haveScapy()
    ? scapy(SEED_FRAMES)
        .trim()
        .split('\n')
        .filter((l) => /^[0-9a-f]+$/.test(l))
        .map(fromHex)
    : [];

  test('scapy built the seed frames', () => {
    assert.ok(seeds.length >= 50, `only ${seeds.length} seed frames`);
  });

  test(`extractFrame × ${RUNS}`, () => fuzz('extractFrame', extractTarget, seeds, 1, RUNS));
  test(`decapFrame (checksums not verified) + inner extractFrame × ${RUNS}`, () =>
    fuzz('decapFrame', decapTarget(false), seeds, 2, RUNS));
  test(`decapFrame (checksums verified) × ${Math.ceil(RUNS / 4)}`, () =>
    fuzz('decapFrame+csum', decapTarget(true), seeds, 3, Math.ceil(RUNS / 4)));

  test('the seed frames decapsulate: tunnels found, inner keys extracted', () => {
    let tunnels = 0;
    for (const s of seeds) {
      if (decapFrame(s, 0, s.length, LT_ETHERNET, { verifyChecksums: true }, decap) === 0) tunnels++;
    }
    // 6 inner frames × 9 encapsulations (GPE-with-IP only for the 5 IP ones) are built; all but a few
    // should decapsulate (with valid checksums, as scapy computes them).
    assert.ok(tunnels >= 40, `only ${tunnels} of ${seeds.length} seed frames decapsulated`);
  });
});

test('receive fuzz harness catches a target that reads past end', () => {
  const r = rng(2);
  let err: string | undefined;
  const leaky: Target = (b, o, end) => `${end - o > 20 ? b[end] : 0}`;
  for (let i = 0; i < 200 && !err; i++) err = checkOne(leaky, randomBytes(r));
  assert.match(err ?? 'none', /reads outside/);
  const offsets: Target = (_b, o, end) => {
    throw new OffsetError(`inner = ${end + 1 - o}`);
  };
  assert.match(checkOne(offsets, new Uint8Array(30)) ?? 'none', /offset outside/);
});
