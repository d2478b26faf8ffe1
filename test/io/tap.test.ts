// TAP with virtio_net_hdr against the Linux kernel as the independent peer, in throw-away namespaces.
//
//   ns A: tap (nvo) 10.77.0.1/24 ── forwarding ── a0 10.78.0.1/24 ══ veth ══ b0 10.78.0.2/24 :ns B
//
// a0 has tx checksumming, TSO and GSO off, so whatever we hand the kernel with NEEDS_CSUM or as a GSO
// superframe is finished in software there (skb_checksum_help / skb_segment), and b0 has rx
// checksumming and GRO off, so ns B's UDP layer verifies checksums itself and AF_PACKET in B sees the
// wire segments. Expected values come from the kernel (what a socket accepts) and from tshark's
// checksum validation, never from nvo's own code.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { TapPort } from '../../src/io/tap.ts';
import { Batch } from '../../src/packet/batch.ts';
import { GSO_NONE, GSO_TCPV4, NEEDS_CSUM, SUPERFRAME } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import {
  ip,
  netnsAdd,
  netnsDel,
  netnsPath,
  nsRun,
  nsSpawn,
  setOffloads,
  uniqueName,
  vethPair,
} from '../../testbed/netns.ts';
import { fields, haveTshark, tshark } from '../harness/tools.ts';
import {
  fold16,
  haveScapyQuick,
  noIpv6,
  pseudo4,
  py,
  receive,
  scapyAsync,
  skipReason,
  sleep,
  snmp,
  sum16,
  sysctl,
} from './helpers.ts';

const skip =
  skipReason() || (!haveScapyQuick() && 'scapy missing') || (!haveTshark() && 'tshark missing') || false;
const PEER_MAC = '02:00:00:77:00:02';
const TAP_MAC = '02:00:00:77:00:01';
const TCP_PAYLOAD = 20000;

describe('TAP (IFF_VNET_HDR) against the kernel', { skip }, () => {
  const tag = uniqueName();
  const A = `${tag}a`;
  const B = `${tag}b`;
  const pool = new Pool(32, SUPER_SLOT);
  let tap: TapPort;
  // Frames built by scapy (an independent encoder) while the namespaces are made: its import takes seconds.
  const frames = skip
    ? Promise.resolve('')
    : scapyAsync(
        `e=Ether(dst='${TAP_MAC}',src='${PEER_MAC}')\n` +
          `print((e/IP(src='10.77.0.2',dst='10.78.0.2')/UDP(sport=5555,dport=7777)/Raw(bytes(range(256))*4)).build().hex())\n` +
          `print((e/IP(src='10.77.0.2',dst='10.78.0.2',flags='DF',id=7)/TCP(sport=40000,dport=8888,seq=1000,ack=1,flags='PA',window=512)` +
          `/Raw(bytes((i*7)&255 for i in range(${TCP_PAYLOAD})))).build().hex())`,
      );
  frames.catch(() => {});
  /** [UDP with a 1024-byte payload, TCP with TCP_PAYLOAD bytes], from `frames`. */
  let udpFrame: Uint8Array;
  let tcpFrame: Uint8Array;

  before(async () => {
    netnsAdd(A);
    netnsAdd(B);
    tap = new TapPort({ name: 'nvtap0', pool, netns: netnsPath(A) });
    noIpv6(A);
    sysctl(A, 'net.ipv4.ip_forward=1');
    noIpv6(B);
    ip(A, 'link', 'set', tap.name, 'address', TAP_MAC);
    ip(A, 'addr', 'add', '10.77.0.1/24', 'dev', tap.name);
    ip(A, 'link', 'set', tap.name, 'up');
    ip(A, 'neigh', 'add', '10.77.0.2', 'lladdr', PEER_MAC, 'dev', tap.name);
    vethPair(A, 'a0', B, 'b0');
    ip(A, 'addr', 'add', '10.78.0.1/24', 'dev', 'a0');
    ip(B, 'addr', 'add', '10.78.0.2/24', 'dev', 'b0');
    ip(A, 'link', 'set', 'a0', 'up');
    ip(B, 'link', 'set', 'b0', 'up');
    ip(B, 'route', 'add', '10.77.0.0/24', 'via', '10.78.0.1');
    setOffloads(A, 'a0', { tx: 'off', tso: 'off', gso: 'off' });
    setOffloads(B, 'b0', { rx: 'off', gro: 'off' });
    const [u, t] = (await frames).trim().split('\n');
    udpFrame = Uint8Array.from(Buffer.from(u!, 'hex'));
    tcpFrame = Uint8Array.from(Buffer.from(t!, 'hex'));
  });

  after(() => {
    tap?.close();
    netnsDel(A);
    netnsDel(B);
  });

  it('reads a kernel-sent UDP datagram with the vnet header (partial checksum, csum_start 34 / offset 6)', async () => {
    py(
      A,
      "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'nvo-rx-test', ('10.77.0.2', 9999))",
    );
    const got = await receive(tap, (g) => g.some((f) => f.bytes[23] === 17));
    const f = got.find((x) => x.bytes[23] === 17);
    assert.ok(f, `no UDP frame among ${got.length} read`);
    assert.equal(Buffer.from(f.bytes.subarray(42)).toString(), 'nvo-rx-test');
    // The tap offered TUN_F_CSUM, so the kernel leaves the UDP checksum to us (CHECKSUM_PARTIAL):
    // the field holds the pseudo-header sum and csum_start/offset point at the UDP header/field.
    assert.equal(f.flags & NEEDS_CSUM, NEEDS_CSUM);
    assert.equal(f.csumStart, 34);
    assert.equal(f.csumOffset, 6);
    // Finishing it as virtio says (sum from csum_start, fold, complement) gives a checksum tshark accepts.
    const b = f.bytes;
    const c = ~fold16(sum16(b, 34, b.length)) & 0xffff;
    b[40] = c >> 8;
    b[41] = c & 0xff;
    const l2 = tshark([b], { prefs: ['udp.check_checksum:TRUE'] })[0]!;
    assert.deepEqual(fields(l2, 'eth.dst'), [PEER_MAC]);
    assert.deepEqual(fields(l2, 'ip.dst'), ['10.77.0.2']);
    assert.deepEqual(fields(l2, 'udp.dstport'), ['9999']);
    assert.deepEqual(fields(l2, 'udp.checksum.status'), ['1'], 'udp checksum Good after completion');
  });

  it('counts a frame longer than the pool slot as rx-drop-truncated and keeps going', async () => {
    const small = new Pool(8); // 2048-byte slots: 1792 bytes after the headroom
    const t2 = new TapPort({ name: 'nvtap1', pool: small, netns: netnsPath(A), offloads: 0 });
    try {
      ip(A, 'link', 'set', t2.name, 'mtu', '9000');
      ip(A, 'addr', 'add', '10.79.0.1/24', 'dev', t2.name);
      ip(A, 'link', 'set', t2.name, 'up');
      ip(A, 'neigh', 'add', '10.79.0.2', 'lladdr', PEER_MAC, 'dev', t2.name);
      py(
        A,
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'L'*4000, ('10.79.0.2', 9998)); s.sendto(b'small', ('10.79.0.2', 9998))",
      );
      const got = await receive(t2, (g) => g.some((f) => f.bytes.length < 100 && f.bytes[23] === 17));
      const udp = got.filter((f) => f.bytes[23] === 17);
      assert.deepEqual(
        udp.map((f) => f.bytes.length),
        [14 + 20 + 8 + 5],
        'only the small datagram is delivered',
      );
      assert.equal(t2.counters.get('rx-drop-truncated'), 1);
    } finally {
      t2.close();
    }
    assert.equal(small.available, 8, 'the rx reserve went back to the pool on close');
  });

  it('lands each frame in the slot freed last, and recovers when the pool runs dry while refilling', async () => {
    const small = new Pool(16); // rx reserve: a quarter of the pool, 4 slots
    const t3 = new TapPort({ name: 'nvtap2', pool: small, netns: netnsPath(A), offloads: 0 });
    const b = new Batch(64);
    const send = (n: number, tag: number) =>
      py(
        A,
        `import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${n}): s.sendto(bytes([${tag} + i]) * 9, ('10.80.0.2', 9997))`,
      );
    // Waits until `n` frames have arrived (ARP is off: the neighbour is static; IPv6 is off in A).
    const take = async (n: number) => {
      const until = Date.now() + 3000;
      while (b.count < n && Date.now() < until) {
        t3.rxBurst(b);
        if (b.count < n) await sleep(5);
      }
      assert.equal(b.count, n);
      const got = b.packets.slice(0, n);
      b.clear();
      return got;
    };
    try {
      ip(A, 'addr', 'add', '10.80.0.1/24', 'dev', t3.name);
      ip(A, 'link', 'set', t3.name, 'up');
      ip(A, 'neigh', 'add', '10.80.0.2', 'lladdr', PEER_MAC, 'dev', t3.name);
      // One frame per call, freed before the next, as the switch does: two slots take turns, where a
      // rotating reserve would walk all four.
      const seen: number[] = [];
      for (let k = 0; k < 6; k++) {
        send(1, 0x40 + k);
        const [p] = await take(1);
        assert.equal(p!.buf[p!.end - 1], 0x40 + k);
        seen.push(p!.buf.byteOffset);
        small.free(p!);
      }
      assert.deepEqual(
        seen.map((o) => seen.indexOf(o)),
        [0, 1, 0, 1, 0, 1],
      );

      // Hold every slot but the reserve's four: the frames that fill them find no slot to refill
      // with, the next call has none to offer (counted), and freeing slots brings reception back.
      const held = [];
      while (small.available > 0) held.push(small.alloc()!);
      send(4, 0x60);
      const four = await take(4);
      assert.deepEqual(
        four.map((p) => p!.buf[p!.end - 1]),
        [0x60, 0x61, 0x62, 0x63],
      );
      send(1, 0x70);
      await sleep(50);
      assert.equal(t3.rxBurst(b), 0);
      assert.equal(t3.counters.get('rx-drop-no-buffer'), 1);
      for (const p of [...four, ...held]) small.free(p!);
      const [late] = await take(1);
      assert.equal(late!.buf[late!.end - 1], 0x70, 'the frame the kernel kept is read once slots are back');
      small.free(late!);
    } finally {
      t3.close();
    }
    assert.equal(small.available, 16, 'every slot is back in the pool after close');
  });

  async function udpSink(port: number): Promise<{ done: Promise<string> }> {
    const code = [
      'import socket, sys',
      's=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      `s.bind(('10.78.0.2', ${port}))`,
      's.settimeout(1.5)',
      'try:',
      '  while True:',
      '    d=s.recv(65535); print(d.hex()); sys.stdout.flush()',
      'except socket.timeout: pass',
    ].join('\n');
    const child = nsSpawn(B, '/usr/bin/python3', ['-c', code]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const done = new Promise<string>((res) => child.on('exit', () => res(out)));
    for (let i = 0; i < 100; i++) {
      if (nsRun(B, '/usr/bin/ss', ['-Hlun', `sport = :${port}`]).trim()) break;
      await sleep(20);
    }
    return { done };
  }

  function send(
    frames: {
      bytes: Uint8Array;
      flags: number;
      gsoType: number;
      gsoSize: number;
      csumStart: number;
      csumOffset: number;
    }[],
  ) {
    const b = new Batch(8);
    for (const f of frames) {
      const p = pool.alloc()!;
      p.buf.set(f.bytes, p.start);
      p.end = p.start + f.bytes.length;
      p.flags = f.flags;
      p.gsoType = f.gsoType;
      p.gsoSize = f.gsoSize;
      p.csumStart = p.start + f.csumStart;
      p.csumOffset = f.csumOffset;
      b.push(p);
    }
    const n = tap.txBurst(b);
    for (let i = 0; i < b.count; i++) pool.free(b.packets[i]!);
    b.clear();
    return n;
  }

  it('writes NEEDS_CSUM UDP: the kernel finishes the checksum (a wrong pseudo-header seed is a checksum error)', async () => {
    const good = udpFrame.slice();
    const l4len = good.length - 34;
    const seed = pseudo4(good, 14, 17, l4len);
    good[40] = seed >> 8;
    good[41] = seed & 0xff;
    const csumErrors0 = snmp(B, 'Udp', 'InCsumErrors');
    const sink = await udpSink(7777);
    const meta = { flags: NEEDS_CSUM, gsoType: GSO_NONE, gsoSize: 0, csumStart: 34, csumOffset: 6 };
    // A correct, partially-checksummed frame, then one whose pseudo-header seed is wrong: the kernel's sum over
    // the bytes cannot fix a wrong seed, so B must count a checksum error. Shows B really verifies.
    assert.equal(send([{ bytes: good, ...meta }]), 1);
    assert.equal(send([{ bytes: wrongSeed(good), ...meta }]), 1);
    const out = (await sink.done).trim().split('\n').filter(Boolean);
    assert.deepEqual(
      out,
      [Buffer.from(good.subarray(42)).toString('hex')],
      'exactly the good datagram arrives',
    );
    assert.equal(
      snmp(B, 'Udp', 'InCsumErrors') - csumErrors0,
      1,
      'the corrupt one is a UDP checksum error in B',
    );
    assert.equal(tap.counters.get('tx-packets') >= 2, true);
  });

  it('writes a GSO_TCPV4 superframe: the kernel segments it into MSS-sized, correctly checksummed segments', async () => {
    const payloadLen = TCP_PAYLOAD;
    const mss = 1448;
    const f = tcpFrame.slice();
    // virtio TSO contract: the TCP checksum field holds the pseudo-header sum over the whole segment
    // length; the kernel adjusts it per segment (tcp_gso_segment).
    const seed = pseudo4(f, 14, 6, f.length - 34);
    f[50] = seed >> 8;
    f[51] = seed & 0xff;
    const sniff = new AfPacketPort({ ifname: 'b0', pool: new Pool(64, SUPER_SLOT), netns: netnsPath(B) });
    try {
      assert.equal(
        send([
          {
            bytes: f,
            flags: NEEDS_CSUM | SUPERFRAME,
            gsoType: GSO_TCPV4,
            gsoSize: mss,
            csumStart: 34,
            csumOffset: 16,
          },
        ]),
        1,
      );
      assert.equal(tap.counters.get('tx-packets') >= 1, true);
      const want = Math.ceil(payloadLen / mss);
      const tcp = (g: { bytes: Uint8Array }[]) => g.filter((x) => x.bytes[23] === 6 && x.bytes[37] === 0xb8);
      const got = tcp(await receive(sniff, (g) => tcp(g).length >= want));
      assert.equal(got.length, want, `segments seen in B: ${got.length}`);
      const layers = tshark(
        got.map((x) => x.bytes),
        {
          prefs: ['tcp.check_checksum:TRUE', 'ip.check_checksum:TRUE', 'tcp.analyze_sequence_numbers:FALSE'],
        },
      );
      const lens = layers.map((l) => Number(fields(l, 'tcp.len')[0]));
      assert.deepEqual(lens, [...Array(want - 1).fill(mss), payloadLen - (want - 1) * mss]);
      for (const l of layers) {
        assert.deepEqual(fields(l, 'tcp.checksum.status'), ['1'], 'TCP checksum Good');
        assert.deepEqual(fields(l, 'ip.checksum.status'), ['1'], 'IP checksum Good');
        assert.deepEqual(fields(l, 'ip.ttl'), ['63'], 'forwarded once');
      }
      const seqs = layers.map((l) => Number(fields(l, 'tcp.seq_raw')[0]));
      assert.deepEqual(
        seqs,
        lens.map((_, i) => 1000 + i * mss),
      );
      const joined = Buffer.concat(got.map((x) => Buffer.from(x.bytes.subarray(54))));
      assert.ok(joined.equals(Buffer.from(f.subarray(54))), 'payload reassembles to the original');
    } finally {
      sniff.close();
    }
  });
});

/** The frame with a pseudo-header seed that is off by one (and a marker byte, to tell it apart). */
function wrongSeed(good: Uint8Array): Uint8Array {
  const c = good.slice();
  c[41] = (c[41]! + 1) & 0xff;
  c[42] = 0xee;
  return c;
}
