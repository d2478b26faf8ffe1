// IPv6 ND and ARP next-hop resolution on the underlay, with scapy as the independent encoder: the NS
// nvo sends and the NA it answers are compared byte for byte with what scapy builds (scapy computes
// its own ICMPv6 checksum), and the NS / NA / ARP frames nvo learns from are scapy's. Then the
// waiting queue (order, bound, timeout, no pool slot leaked) and hostile ND (RFC 4861 §7.1 named drops).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mutate, rng } from '../../test/fuzz/mutate.ts';
import { needScapy, scapy } from '../../test/harness/tools.ts';
import { parseFlow } from '../flow/ofctl-parse.ts';
import { memoryPair, runUntilIdle } from '../io/memory-hosts.ts';
import { type MemoryEnd, memoryLink } from '../io/memory-link.ts';
import { Batch } from '../packet/batch.ts';
import { NUD_PROBE, NUD_REACHABLE, NUD_STALE } from '../tunnel/neighbours.ts';
import { fromHex, hex } from '../wire/bytes.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { announceUnderlayMac } from './neighbour-probes.ts';
import { KIND_GUEST, KIND_UNDERLAY } from './port.ts';
import { Switch } from './switch.ts';

const NVO_MAC = '02:00:00:00:00:01';
const PEER_MAC = '02:00:00:00:00:02';
const skip = needScapy();

interface Rig {
  sw: Switch;
  wire: MemoryEnd; // the switch's underlay end (what it sent: wire.sent)
  peer: MemoryEnd; // the far end (frames we inject come from here)
  guest: MemoryEnd;
  guestPool: MemoryEnd;
}

/** `net4`: the IPv4 /24 the rig's underlay is in (local .1, remote .2; default 10.0.0). */
function rig(family: 4 | 6, opts: { remote?: string; net4?: string } = {}): Rig {
  const sw = new Switch({ name: 't', underlayMac: NVO_MAC, gro: false });
  const [wire, peer] = memoryLink({ keepSent: 256 });
  const [guest, guestPort] = memoryLink();
  sw.addPort('ul0', KIND_UNDERLAY, { no: 100, sink: wire });
  sw.addPort('g1', KIND_GUEST, { no: 1, sink: guestPort });
  const net4 = opts.net4 ?? '10.0.0';
  const local = family === 4 ? `${net4}.1` : 'fd00::1';
  const remote = opts.remote ?? (family === 4 ? `${net4}.2` : 'fd00::2');
  sw.addTunnel({ name: 'vx0', encap: 'vxlan', localIp: local, remoteIp: remote, key: 42 }, { no: 10 });
  if (family === 4) sw.neighbours.addRoute4(ip4(`${net4}.0`), 24, 0, 100);
  else sw.neighbours.addRoute6(ipv6.addr('fd00::'), 64, null, 100);
  if (family === 6) sw.neighbours.addLocal6(ipv6.addr('fd00::1'));
  else sw.localIps4.add(ip4(local));
  sw.addFlow(parseFlow('priority=1,in_port=1,actions=output:10', { portByName: sw.portByName }));
  return { sw, wire, peer, guest, guestPool: guestPort };
}

const ip4 = (a: string) => a.split('.').reduce((n, x) => n * 256 + Number(x), 0);

/** scapy's broadcast ARP request from `src` (at `mac`) for `dst`, as hex. */
const arpRequest = (mac: string, src: string, dst: string) =>
  py(
    `print(bytes(Ether(src='${mac}',dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc='${mac}',psrc='${src}',hwdst='00:00:00:00:00:00',pdst='${dst}')).hex())`,
  );

/** scapy's ARP reply from `src` at `mac` to `dst` at `dstMac`, as hex. */
const arpReply = (mac: string, src: string, dstMac: string, dst: string) =>
  py(
    `print(bytes(Ether(src='${mac}',dst='${dstMac}')/ARP(op=2,hwsrc='${mac}',psrc='${src}',hwdst='${dstMac}',pdst='${dst}')).hex())`,
  );

/** A guest frame whose last payload byte is `tag` (to check the order packets leave in). */
function guestFrame(tag: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set([2, 0xbb, 0, 0, 0, 2, 2, 0xaa, 0, 0, 0, 1, 0x88, 0xb5]); // local experimental EtherType
  f[59] = tag;
  return f;
}

function inject(r: Rig, port: number, frame: Uint8Array, now: number): void {
  const end = port === 1 ? r.guestPool : r.wire;
  const p = end.pool.allocCopy(frame)!;
  const b = new Batch(1);
  b.push(p);
  r.sw.receive(port, b, now);
  r.sw.flush();
}

const sent = (r: Rig) => r.wire.sent.splice(0).map((f) => hex(f));
const py = (code: string) => scapy(code).trim();
const c = (r: Rig, name: string) => r.sw.counters.get(name);

describe('IPv6 ND on the underlay', { skip }, () => {
  test('a multicast NS for our address is answered as Linux does: S, O, target link-layer option', () => {
    const r = rig(6);
    const ns = py(
      `print(bytes(Ether(src='${PEER_MAC}',dst='33:33:ff:00:00:01')/IPv6(src='fd00::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')/ICMPv6NDOptSrcLLAddr(lladdr='${PEER_MAC}')).hex())`,
    );
    inject(r, 100, fromHex(ns), 1000);
    const want = py(
      `print(bytes(Ether(dst='${PEER_MAC}',src='${NVO_MAC}')/IPv6(src='fd00::1',dst='fd00::2',hlim=255)/ICMPv6ND_NA(R=0,S=1,O=1,tgt='fd00::1')/ICMPv6NDOptDstLLAddr(lladdr='${NVO_MAC}')).hex())`,
    );
    assert.deepEqual(sent(r), [want]);
    // The asker's SLL entered the table as STALE (overheard, not confirmed).
    const e = r.sw.neighbours.lookup6(ipv6.addr('fd00::2'), 0)!;
    assert.equal(e.state, NUD_STALE);
    assert.equal(hex(e.mac), PEER_MAC.replaceAll(':', ''));
  });

  test('a unicast NS gets S without O and no link-layer option; a DAD NS from :: gets all-nodes, O, no S', () => {
    const r = rig(6);
    inject(
      r,
      100,
      fromHex(
        py(
          `print(bytes(Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/IPv6(src='fd00::2',dst='fd00::1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')/ICMPv6NDOptSrcLLAddr(lladdr='${PEER_MAC}')).hex())`,
        ),
      ),
      1000,
    );
    inject(
      r,
      100,
      fromHex(
        py(
          `print(bytes(Ether(src='${PEER_MAC}',dst='33:33:ff:00:00:01')/IPv6(src='::',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')).hex())`,
        ),
      ),
      1000,
    );
    const want = py(
      [
        `print(bytes(Ether(dst='${PEER_MAC}',src='${NVO_MAC}')/IPv6(src='fd00::1',dst='fd00::2',hlim=255)/ICMPv6ND_NA(R=0,S=1,O=0,tgt='fd00::1')).hex())`,
        `print(bytes(Ether(dst='33:33:00:00:00:01',src='${NVO_MAC}')/IPv6(src='fd00::1',dst='ff02::1',hlim=255)/ICMPv6ND_NA(R=0,S=0,O=1,tgt='fd00::1')/ICMPv6NDOptDstLLAddr(lladdr='${NVO_MAC}')).hex())`,
      ].join('\n'),
    ).split('\n');
    assert.deepEqual(sent(r), want);
  });

  test('an unresolved next hop: one multicast NS, packets wait (3), the NA sends them in order', () => {
    const r = rig(6);
    for (let i = 1; i <= 5; i++) inject(r, 1, guestFrame(i), 1000);
    const ns = py(
      `print(bytes(Ether(src='${NVO_MAC}',dst='33:33:ff:00:00:02')/IPv6(src='fd00::1',dst='ff02::1:ff00:2',hlim=255)/ICMPv6ND_NS(tgt='fd00::2')/ICMPv6NDOptSrcLLAddr(lladdr='${NVO_MAC}')).hex())`,
    );
    assert.deepEqual(sent(r), [ns], 'one probe however many packets ask');
    assert.equal(r.sw.resolver.waiting, 3);
    assert.equal(c(r, 'drop-neighbour-queue-full'), 2);
    const na = py(
      `print(bytes(Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/IPv6(src='fd00::2',dst='fd00::1',hlim=255)/ICMPv6ND_NA(R=0,S=1,O=1,tgt='fd00::2')/ICMPv6NDOptDstLLAddr(lladdr='${PEER_MAC}')).hex())`,
    );
    inject(r, 100, fromHex(na), 1200);
    const out = r.wire.sent.splice(0);
    assert.equal(out.length, 3);
    // VXLAN over IPv6: 14 + 40 + 8 + 8 = 70 bytes of outer headers, then the guest frame.
    assert.deepEqual(
      out.map((f) => f[70 + 59]),
      [1, 2, 3],
    );
    for (const f of out) assert.equal(hex(f.subarray(0, 6)), PEER_MAC.replaceAll(':', ''));
    assert.equal(r.sw.resolver.waiting, 0);
    assert.equal(r.sw.neighbours.lookup6(ipv6.addr('fd00::2'), 0)!.state, NUD_REACHABLE);
    // Resolved: the next packet goes straight out.
    inject(r, 1, guestFrame(9), 1300);
    assert.equal(r.wire.sent.length, 1);
  });

  test('no answer: NS retried each retrans interval, then the entry fails and its packets are dropped', () => {
    const r = rig(6);
    const free = r.guestPool.pool.available;
    inject(r, 1, guestFrame(1), 0);
    inject(r, 1, guestFrame(2), 0);
    assert.equal(r.guestPool.pool.available, free - 2, 'two packets held');
    r.sw.tick(500);
    assert.equal(sent(r).length, 1, 'no retry before 1 s');
    r.sw.tick(1000);
    r.sw.tick(2000);
    assert.equal(sent(r).length, 2, 'two retries');
    r.sw.tick(3000);
    assert.equal(c(r, 'drop-neighbour-timeout'), 2);
    assert.equal(r.guestPool.pool.available, free, 'every slot back');
    assert.equal(r.sw.neighbours.lookup6(ipv6.addr('fd00::2'), 0), undefined);
    assert.equal(c(r, 'tx-nd-ns'), 3);
  });

  test('a stale entry in use is probed by unicast NS, and an NA without O does not move it', () => {
    const r = rig(6);
    r.sw.neighbours.set6(ipv6.addr('fd00::2'), fromHex(PEER_MAC.replaceAll(':', '')), 100, 0);
    inject(r, 1, guestFrame(1), 40_000); // reachableMs (30 s) passed: STALE → PROBE
    const out = sent(r);
    const probe = py(
      `print(bytes(Ether(src='${NVO_MAC}',dst='${PEER_MAC}')/IPv6(src='fd00::1',dst='fd00::2',hlim=255)/ICMPv6ND_NS(tgt='fd00::2')/ICMPv6NDOptSrcLLAddr(lladdr='${NVO_MAC}')).hex())`,
    );
    assert.equal(out.length, 2, 'the probe and the packet (sent with the stale MAC)');
    assert.ok(out.includes(probe), `${out.join('\n')}\n${probe}`);
    const e = r.sw.neighbours.lookup6(ipv6.addr('fd00::2'), 0)!;
    assert.equal(e.state, NUD_PROBE);
    inject(
      r,
      100,
      fromHex(
        py(
          `print(bytes(Ether(src='02:00:00:00:00:66',dst='${NVO_MAC}')/IPv6(src='fd00::2',dst='fd00::1',hlim=255)/ICMPv6ND_NA(S=1,O=0,tgt='fd00::2')/ICMPv6NDOptDstLLAddr(lladdr='02:00:00:00:00:66')).hex())`,
        ),
      ),
      40_100,
    );
    assert.equal(c(r, 'drop-nd-na-no-override'), 1);
    assert.equal(hex(e.mac), PEER_MAC.replaceAll(':', ''), 'MAC kept without O');
    inject(
      r,
      100,
      fromHex(
        py(
          `print(bytes(Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/IPv6(src='fd00::2',dst='fd00::1',hlim=255)/ICMPv6ND_NA(S=1,O=0,tgt='fd00::2')).hex())`,
        ),
      ),
      40_200,
    );
    assert.equal(e.state, NUD_REACHABLE, 'a solicited NA confirms');
  });

  test('hostile ND: each RFC 4861 §7.1 violation is a named drop; nothing answered, nothing learned', () => {
    const r = rig(6);
    const free = r.wire.pool.available;
    const cases: [string, string][] = [
      ['drop-nd-hop-limit', `IPv6(src='fd00::2',dst='ff02::1:ff00:1',hlim=254)/ICMPv6ND_NS(tgt='fd00::1')`],
      [
        'drop-nd-bad-checksum',
        `IPv6(src='fd00::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1',cksum=0x1234)`,
      ],
      [
        'drop-nd-bad-code',
        `IPv6(src='fd00::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1',code=1)`,
      ],
      [
        'drop-nd-bad-option',
        `IPv6(src='fd00::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')/Raw(b'\\x01\\x00\\x02\\x00\\x00\\x00\\x00\\x02')`,
      ],
      [
        'drop-nd-multicast-target',
        `IPv6(src='fd00::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='ff02::1')`,
      ],
      [
        'drop-nd-na-bad-flags',
        `IPv6(src='fd00::2',dst='ff02::1',hlim=255)/ICMPv6ND_NA(S=1,tgt='fd00::2')/ICMPv6NDOptDstLLAddr(lladdr='${PEER_MAC}')`,
      ],
      [
        'drop-nd-dad-bad',
        `IPv6(src='::',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')/ICMPv6NDOptSrcLLAddr(lladdr='${PEER_MAC}')`,
      ],
      ['drop-nd-dad-bad', `IPv6(src='::',dst='fd00::1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')`],
      ['drop-nd-ns-not-ours', `IPv6(src='fd00::2',dst='ff02::1:ff00:9',hlim=255)/ICMPv6ND_NS(tgt='fd00::9')`],
      [
        'drop-nd-na-untracked',
        `IPv6(src='fd00::7',dst='fd00::1',hlim=255)/ICMPv6ND_NA(S=1,tgt='fd00::7')/ICMPv6NDOptDstLLAddr(lladdr='${PEER_MAC}')`,
      ],
      [
        'drop-nd-na-our-address',
        `IPv6(src='fd00::2',dst='ff02::1',hlim=255)/ICMPv6ND_NA(O=1,tgt='fd00::1')/ICMPv6NDOptDstLLAddr(lladdr='${PEER_MAC}')`,
      ],
      ['drop-underlay-icmpv6-not-nd', `IPv6(src='fd00::2',dst='ff02::2',hlim=255)/ICMPv6ND_RS()`],
      ['drop-icmpv6-echo-not-ours', `IPv6(src='fd00::2',dst='fd00::9')/ICMPv6EchoRequest()`],
      ['drop-icmpv6-bad-checksum', `IPv6(src='fd00::2',dst='fd00::1')/ICMPv6EchoRequest(cksum=1)`],
    ];
    const frames = py(
      cases.map(([, l3]) => `print(bytes(Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/${l3}).hex())`).join('\n'),
    ).split('\n');
    for (const f of frames) inject(r, 100, fromHex(f), 1000);
    // Truncated: an NS cut inside its target, with the IPv6 payload length still claiming 32 bytes.
    inject(r, 100, fromHex(frames[0]!).subarray(0, 14 + 40 + 12), 1000);
    const counts: Record<string, number> = {};
    for (const [name] of cases) counts[name] = (counts[name] ?? 0) + 1;
    for (const [name, n] of Object.entries(counts)) assert.equal(c(r, name), n, name);
    assert.equal(c(r, 'drop-nd-truncated'), 1);
    assert.deepEqual(sent(r), [], 'nothing answered');
    assert.equal(r.sw.neighbours.size, 0, 'nothing learned');
    assert.equal(r.wire.pool.available, free, 'every slot back');
  });
  test('20,000 mutated NS / NA / ARP frames: no throw, every pool slot back, nothing left waiting', () => {
    const r = rig(6);
    const r4 = rig(4);
    const seeds = py(
      [
        `print(bytes(Ether(src='${PEER_MAC}',dst='33:33:ff:00:00:01')/IPv6(src='fd00::2',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fd00::1')/ICMPv6NDOptSrcLLAddr(lladdr='${PEER_MAC}')).hex())`,
        `print(bytes(Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/IPv6(src='fd00::2',dst='fd00::1',hlim=255)/ICMPv6ND_NA(S=1,O=1,tgt='fd00::2')/ICMPv6NDOptDstLLAddr(lladdr='${PEER_MAC}')).hex())`,
        `print(bytes(Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/ARP(op=2,hwsrc='${PEER_MAC}',psrc='10.0.0.2',hwdst='${NVO_MAC}',pdst='10.0.0.1')).hex())`,
      ].join('\n'),
    )
      .split('\n')
      .map(fromHex);
    const rand = rng(0x6e64);
    const before = [
      r.wire.pool.available,
      r4.wire.pool.available,
      r.sw.pool.available,
      r.guestPool.pool.available,
    ];
    let t = 0;
    for (let i = 0; i < 20_000; i++) {
      const f = mutate(rand, seeds[rand.int(seeds.length)]!);
      if (f.length > 1500) continue;
      // Now and then a guest packet, so NAs find entries with packets waiting.
      if (rand.int(50) === 0) inject(r, 1, guestFrame(i & 255), t);
      inject(rand.int(3) === 2 ? r4 : r, 100, f, (t += 7));
      r.wire.sent.length = 0;
      r4.wire.sent.length = 0;
    }
    r.sw.tick(t + 10_000);
    r4.sw.tick(t + 10_000);
    assert.deepEqual(
      [r.wire.pool.available, r4.wire.pool.available, r.sw.pool.available, r.guestPool.pool.available],
      before,
    );
    assert.equal(r.sw.resolver.waiting, 0);
    const drops = Object.entries(r.sw.counters.snapshot()).filter(([k]) => k.startsWith('drop-nd'));
    assert.ok(drops.length >= 5, JSON.stringify(drops));
  });
});

describe("ping to nvo's underlay addresses", { skip }, () => {
  test('ICMP and ICMPv6 echo requests to our address get the reply scapy builds', () => {
    const r6 = rig(6);
    const r4 = rig(4);
    const [q6, q4, want6, want4] = py(
      [
        `print(bytes(Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/IPv6(src='fd00::2',dst='fd00::1',hlim=60)/ICMPv6EchoRequest(id=7,seq=3,data=b'abcdefgh')).hex())`,
        `print(bytes(Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/IP(src='10.0.0.2',dst='10.0.0.1',ttl=60,id=99,flags='DF')/ICMP(type=8,id=7,seq=3)/Raw(b'abcdefgh')).hex())`,
        `print(bytes(Ether(src='${NVO_MAC}',dst='${PEER_MAC}')/IPv6(src='fd00::1',dst='fd00::2',hlim=64)/ICMPv6EchoReply(id=7,seq=3,data=b'abcdefgh')).hex())`,
        `print(bytes(Ether(src='${NVO_MAC}',dst='${PEER_MAC}')/IP(src='10.0.0.1',dst='10.0.0.2',ttl=64,id=99,flags='DF')/ICMP(type=0,id=7,seq=3)/Raw(b'abcdefgh')).hex())`,
      ].join('\n'),
    ).split('\n');
    inject(r6, 100, fromHex(q6!), 0);
    // Ethernet padding after the IPv4 datagram is not echoed back.
    const padded = new Uint8Array(fromHex(q4!).length + 6);
    padded.set(fromHex(q4!));
    inject(r4, 100, padded, 0);
    assert.deepEqual(sent(r6), [want6]);
    assert.deepEqual(sent(r4), [want4]);
    assert.equal(c(r4, 'tx-icmp-echo-reply'), 1);
    const bad = fromHex(q4!);
    bad[14 + 20 + 2] ^= 1; // ICMP checksum
    inject(r4, 100, bad, 0);
    assert.equal(c(r4, 'drop-icmp-bad-checksum'), 1);
    assert.deepEqual(sent(r4), []);
  });
});

describe('IPv4 ARP resolution with the waiting queue', { skip }, () => {
  test('one broadcast ARP request however many packets ask; the reply sends the waiting packets', () => {
    const r = rig(4);
    for (let i = 1; i <= 4; i++) inject(r, 1, guestFrame(i), 1000);
    assert.deepEqual(sent(r), [arpRequest(NVO_MAC, '10.0.0.1', '10.0.0.2')]);
    inject(r, 100, fromHex(arpReply(PEER_MAC, '10.0.0.2', NVO_MAC, '10.0.0.1')), 1100);
    const out = r.wire.sent.splice(0);
    // VXLAN over IPv4: 50 bytes of outer headers.
    assert.deepEqual(
      out.map((f) => f[50 + 59]),
      [1, 2, 3],
    );
    assert.equal(c(r, 'drop-neighbour-queue-full'), 1);
    assert.equal(c(r, 'neighbour-queue-sent'), 3);
    assert.equal(r.sw.neighbours.get4(0x0a000002)!.state, NUD_REACHABLE);
  });

  test('a 192.168/16 underlay (addresses above 2^31 as uint32): resolved, answered, sent, dumped', () => {
    const r = rig(4, { net4: '192.168.0' });
    inject(r, 1, guestFrame(1), 1000);
    assert.deepEqual(sent(r), [arpRequest(NVO_MAC, '192.168.0.1', '192.168.0.2')]);
    inject(r, 100, fromHex(arpReply(PEER_MAC, '192.168.0.2', NVO_MAC, '192.168.0.1')), 1100);
    const out = r.wire.sent.splice(0);
    assert.equal(out.length, 1, 'the waiting frame went out');
    assert.equal(hex(out[0]!.subarray(0, 6)), PEER_MAC.replaceAll(':', ''));
    assert.equal(r.sw.neighbours.get4(0xc0a80002)?.state, NUD_REACHABLE, 'found by its uint32');
    assert.deepEqual(
      r.sw.neighbours.dump().map((e) => e.ip),
      ['192.168.0.2'],
    );
    // A request for our address is ours (localIps4 holds it as the tunnel's uint32).
    const ask = py(
      `print(bytes(Ether(src='${PEER_MAC}',dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc='${PEER_MAC}',psrc='192.168.0.2',pdst='192.168.0.1')).hex())`,
    );
    inject(r, 100, fromHex(ask), 1200);
    assert.deepEqual(sent(r), [arpReply(NVO_MAC, '192.168.0.1', PEER_MAC, '192.168.0.2')]);
    assert.deepEqual([...r.sw.localIps4], [0xc0a80001]);
  });

  test('ARP between other hosts is not learned; a request for us is answered and learned', () => {
    const r = rig(4);
    const [other, forUs] = py(
      [
        `print(bytes(Ether(src='${PEER_MAC}',dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc='${PEER_MAC}',psrc='10.0.0.2',pdst='10.0.0.3')).hex())`,
        `print(bytes(Ether(src='${PEER_MAC}',dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc='${PEER_MAC}',psrc='10.0.0.2',pdst='10.0.0.1')).hex())`,
      ].join('\n'),
    ).split('\n');
    inject(r, 100, fromHex(other!), 0);
    assert.equal(r.sw.neighbours.size, 0);
    inject(r, 100, fromHex(forUs!), 0);
    assert.equal(r.sw.neighbours.get4(0x0a000002)!.state, NUD_STALE);
    const reply = py(
      `print(bytes(Ether(dst='${PEER_MAC}',src='${NVO_MAC}')/ARP(op=2,hwsrc='${NVO_MAC}',psrc='10.0.0.1',hwdst='${PEER_MAC}',pdst='10.0.0.2')).hex())`,
    );
    assert.deepEqual(sent(r), [reply]);
  });

  test('the neighbour table is bounded: a flood of requests from new senders evicts, never grows past the limit', () => {
    const r = rig(4);
    r.sw.neighbours.maxEntries = 32;
    const base = fromHex(
      py(
        `print(bytes(Ether(src='${PEER_MAC}',dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc='${PEER_MAC}',psrc='10.0.1.0',pdst='10.0.0.1')).hex())`,
      ),
    );
    for (let i = 0; i < 500; i++) {
      const f = base.slice();
      f[14 + 14 + 2] = i >> 8; // sender protocol address 10.0.x.y
      f[14 + 14 + 3] = i & 255;
      inject(r, 100, f, i);
    }
    assert.equal(r.sw.neighbours.size, 32);
  });
});

describe("nvo's underlay MAC changes under a running switch", { skip }, () => {
  const NEW_MAC = '02:00:00:00:00:99';
  const mac = (m: string) => fromHex(m.replaceAll(':', ''));
  const macOf = (f: Uint8Array, at: number) => hex(f.subarray(at, at + 6));

  /** Resolves the peer (ARP or NA from scapy) and returns the first encapsulated frame. */
  function resolved(r: Rig, family: 4 | 6): Uint8Array {
    inject(r, 1, guestFrame(1), 1000);
    r.wire.sent.splice(0);
    const answer =
      family === 4
        ? `Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/ARP(op=2,hwsrc='${PEER_MAC}',psrc='10.0.0.2',hwdst='${NVO_MAC}',pdst='10.0.0.1')`
        : `Ether(src='${PEER_MAC}',dst='${NVO_MAC}')/IPv6(src='fd00::2',dst='fd00::1',hlim=255)/ICMPv6ND_NA(R=0,S=1,O=1,tgt='fd00::2')/ICMPv6NDOptDstLLAddr(lladdr='${PEER_MAC}')`;
    inject(r, 100, fromHex(py(`print(bytes(${answer}).hex())`)), 1100);
    const out = r.wire.sent.splice(0);
    assert.equal(out.length, 1);
    return out[0]!;
  }

  test('IPv4: an ARP announcement (RFC 5227) as scapy builds it, and frames from the new MAC on', () => {
    const r = rig(4);
    assert.equal(
      macOf(resolved(r, 4), 6),
      NVO_MAC.replaceAll(':', ''),
      'the cached template has the old MAC',
    );
    assert.equal(announceUnderlayMac(r.sw, mac(NEW_MAC)), true);
    r.sw.flush();
    const garp = py(
      `print(bytes(Ether(src='${NEW_MAC}',dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc='${NEW_MAC}',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.1')).hex())`,
    );
    assert.deepEqual(sent(r), [garp]);
    inject(r, 1, guestFrame(2), 1200);
    const [f] = r.wire.sent.splice(0);
    assert.equal(macOf(f!, 6), NEW_MAC.replaceAll(':', ''), 'the template was rebuilt');
    assert.equal(macOf(f!, 0), PEER_MAC.replaceAll(':', ''));
    // A request for our address is answered with the new MAC.
    inject(
      r,
      100,
      fromHex(
        py(
          `print(bytes(Ether(src='${PEER_MAC}',dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc='${PEER_MAC}',psrc='10.0.0.2',pdst='10.0.0.1')).hex())`,
        ),
      ),
      1300,
    );
    const reply = py(
      `print(bytes(Ether(src='${NEW_MAC}',dst='${PEER_MAC}')/ARP(op=2,hwsrc='${NEW_MAC}',psrc='10.0.0.1',hwdst='${PEER_MAC}',pdst='10.0.0.2')).hex())`,
    );
    assert.deepEqual(sent(r), [reply]);
    assert.equal(announceUnderlayMac(r.sw, mac(NEW_MAC)), false, 'the same MAC again: nothing');
    r.sw.flush();
    assert.deepEqual(sent(r), []);
    assert.equal(c(r, 'underlay-mac-changed'), 1);
    assert.equal(c(r, 'tx-arp-announce'), 1);
  });

  test('IPv6: an unsolicited NA (RFC 4861 §7.2.6: all-nodes, O set, S clear) as scapy builds it', () => {
    const r = rig(6);
    resolved(r, 6);
    announceUnderlayMac(r.sw, mac(NEW_MAC));
    r.sw.flush();
    const na = py(
      `print(bytes(Ether(src='${NEW_MAC}',dst='33:33:00:00:00:01')/IPv6(src='fd00::1',dst='ff02::1',hlim=255)/ICMPv6ND_NA(R=0,S=0,O=1,tgt='fd00::1')/ICMPv6NDOptDstLLAddr(lladdr='${NEW_MAC}')).hex())`,
    );
    assert.deepEqual(sent(r), [na], "fd00::1 once: it is both the tunnel's and the table's");
    inject(r, 1, guestFrame(2), 1200);
    assert.equal(macOf(r.wire.sent.splice(0)[0]!, 6), NEW_MAC.replaceAll(':', ''));
    assert.equal(c(r, 'tx-nd-na-unsolicited'), 1);
  });

  test("a peer's announcement moves our entry for it: the next frames go to its new MAC", () => {
    for (const family of [4, 6] as const) {
      const r = rig(family);
      resolved(r, family);
      const announce =
        family === 4
          ? `Ether(src='${NEW_MAC}',dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc='${NEW_MAC}',psrc='10.0.0.2',hwdst='00:00:00:00:00:00',pdst='10.0.0.2')`
          : `Ether(src='${NEW_MAC}',dst='33:33:00:00:00:01')/IPv6(src='fd00::2',dst='ff02::1',hlim=255)/ICMPv6ND_NA(R=0,S=0,O=1,tgt='fd00::2')/ICMPv6NDOptDstLLAddr(lladdr='${NEW_MAC}')`;
      inject(r, 100, fromHex(py(`print(bytes(${announce}).hex())`)), 1200);
      assert.deepEqual(sent(r), [], `IPv${family}: an announcement is not answered`);
      inject(r, 1, guestFrame(3), 1300);
      assert.equal(macOf(r.wire.sent.splice(0)[0]!, 0), NEW_MAC.replaceAll(':', ''), `IPv${family}`);
    }
  });
});

describe('every encapsulation waits for ARP instead of dropping', () => {
  for (const encap of ['vxlan', 'vxlan-gpe', 'vxlan-soe', 'geneve', 'gre', 'nvgre', 'stt']) {
    test(`${encap}: the first guest frames wait for the next hop and all arrive`, () => {
      const [a, b] = memoryPair({ encap, vni: 42, staticNeighbours: false });
      const batch = new Batch(8);
      for (let i = 1; i <= 3; i++) {
        const f = guestFrame(i);
        f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0); // broadcast: NORMAL floods it to the VTEP
        const p = a.guest.pool.allocCopy(f)!;
        batch.push(p);
      }
      a.guest.txBurst(batch);
      for (let i = 0; i < batch.count; i++) a.guest.pool.free(batch.packets[i]!);
      runUntilIdle([a, b], 1000);
      const got = new Batch(16);
      b.guest.drain(got);
      assert.deepEqual(
        Array.from({ length: got.count }, (_, i) => got.packets[i]!.buf[got.packets[i]!.start + 59]),
        [1, 2, 3],
      );
      for (let i = 0; i < got.count; i++) b.guest.pool.free(got.packets[i]!);
      const ca = a.sw.counters.snapshot();
      assert.equal(ca['tx-arp-request'], 1);
      assert.equal(ca['neighbour-queue-sent'], 3);
      assert.deepEqual(
        Object.keys(ca).filter((k) => k.startsWith('drop-')),
        [],
      );
    });
  }
});
