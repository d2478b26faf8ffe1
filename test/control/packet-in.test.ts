// Packet-ins through the control socket: a switch serving its socket, frames through flows that send to
// CONTROLLER (table-miss, explicit action in a later table, output:CONTROLLER after a rewrite, from a
// tunnel, dec_ttl at TTL 1), and `nvo monitor` (the real CLI, a child process) subscribed. Oracle:
// each record, encoded as an OpenFlow 1.3 PACKET_IN (src/openflow/packet-in.ts), is decoded by
// `ovs-ofctl ofp-print`, and what it prints must be exactly what `nvo monitor` printed.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildSwitch } from '../../src/control/build-switch.ts';
import { validateConfig } from '../../src/control/config.ts';
import { serveControl } from '../../src/control/control-server.ts';
import type { PacketInJson } from '../../src/control/packet-in-feed.ts';
import { formatPacketIn } from '../../src/control/packet-in-text.ts';
import { packetIns } from '../../src/datapath/packet-in.ts';
import type { Switch } from '../../src/datapath/switch.ts';
import { encodePacketIn } from '../../src/openflow/packet-in.ts';
import { Batch } from '../../src/packet/batch.ts';
import { Pool } from '../../src/packet/pool.ts';
import { fromHex, hex, parseIpv4, parseIpv6 } from '../../src/wire/bytes.ts';
import { needScapy, scapy } from '../harness/tools.ts';

const OFCTL = '/usr/bin/ovs-ofctl';
const NVO = join(import.meta.dirname, '../../bin/nvo');
const skip = needScapy() || (existsSync(OFCTL) ? false : 'ovs-ofctl (openvswitch-common) is not installed');
const dir = mkdtempSync(join(tmpdir(), 'nvo-pin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NVO_MAC = '02:00:00:00:00:01';
const memOpen = () => ({ txBurst: (b: { count: number }, from = 0) => b.count - from });
const pool = new Pool(256);

function config(extra: object = {}) {
  return validateConfig({
    name: 'pin',
    underlay: { mac: NVO_MAC, ports: [{ name: 'ul0', device: 'x' }], addresses: ['10.0.0.1/24'] },
    guests: [{ name: 'g1', backend: 'tap', device: 't', vni: 42, no: 2 }],
    tunnels: [{ name: 'vx0', encap: 'vxlan', localIp: '10.0.0.1', no: 10 }],
    flows: [
      'priority=0,actions=CONTROLLER:64', // table-miss → no_match, cut to 64 bytes
      'cookie=0x5,priority=100,in_port=g1,icmp,actions=goto_table:1',
      'table=1,cookie=0x7,priority=1,actions=controller', // explicit → action, table 1, cookie 0x7
      'cookie=0x9,priority=100,in_port=g1,udp,actions=mod_nw_tos:32,output:CONTROLLER',
      'cookie=0xa,priority=100,in_port=g1,tcp,actions=dec_ttl,output:vx0',
      'cookie=0xb,priority=100,in_port=vx0,actions=CONTROLLER',
    ],
    ...extra,
  });
}

function send(sw: Switch, port: number, frames: Uint8Array[], now = 1000): void {
  const b = new Batch(64);
  for (const f of frames) {
    const p = pool.allocCopy(f)!;
    b.push(p);
  }
  sw.receive(port, b, now);
  sw.flush();
}

/** `nvo monitor` as a child process; resolves with its stdout lines once it has printed `n`. */
function monitor(
  socket: string,
  n: number,
  args: string[] = [],
): { proc: ChildProcess; lines: Promise<string[]> } {
  const proc = spawn(NVO, ['monitor', '--socket', socket, '--count', String(n), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const lines = new Promise<string[]>((resolve, reject) => {
    const t = setTimeout(() => {
      proc.kill();
      reject(new Error(`nvo monitor timed out: ${out} ${err}`));
    }, 30_000);
    proc.on('exit', () => {
      clearTimeout(t);
      resolve(out.trim().split('\n').filter(Boolean));
    });
  });
  return { proc, lines };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(cond(), 'condition not reached');
}

/** What ovs-ofctl prints for the record encoded as an OpenFlow 1.3 PACKET_IN (its 2 lines joined). */
function ofctlPrint(j: PacketInJson): string {
  const addr = (s: string) => {
    const b = new Uint8Array(16);
    if (s.includes(':')) parseIpv6(s, b, 0);
    else parseIpv4(s, b, 0);
    return b;
  };
  const msg = encodePacketIn({
    reason: ['no_match', 'action', 'invalid_ttl'].indexOf(j.reason),
    tableId: j.tableId,
    cookie: BigInt(j.cookie),
    inPort: j.inPort,
    totalLen: j.totalLen,
    data: fromHex(j.data),
    tunnel: j.tunnel
      ? { id: BigInt(j.tunnel.id), src: addr(j.tunnel.src), dst: addr(j.tunnel.dst), ipv6: j.tunnel.ipv6 }
      : undefined,
  });
  return execFileSync(OFCTL, ['ofp-print', hex(msg)], { encoding: 'utf8' })
    .trim()
    .replace('\n', ' ');
}

describe('packet-in', { skip }, () => {
  test('without a subscriber the packet is counted as before (drop-controller-not-connected)', () => {
    const sw = buildSwitch(config(), memOpen);
    const f = fromHex(scapy("print(bytes(Ether()/IP(dst='1.2.3.4')/UDP()).hex())").trim());
    send(sw, 2, [f]);
    assert.equal(sw.counters.get('drop-controller-not-connected'), 1);
    assert.equal(sw.counters.get('packet-in'), 0);
  });

  test('nvo monitor prints what ovs-ofctl decodes from the same PACKET_IN, reason by reason', async () => {
    const sw = buildSwitch(config(), memOpen);
    const path = join(dir, 'm.sock');
    const server = serveControl(sw, path);
    try {
      const frames = scapy(
        [
          // table-miss (ARP matches nothing else): no_match; 42 bytes, under max_len 64
          "print(bytes(Ether(src='02:aa:00:00:00:01',dst='ff:ff:ff:ff:ff:ff')/ARP(psrc='192.168.1.1',pdst='192.168.1.2')).hex())",
          // icmp → goto_table:1 → controller: action, table 1, cookie 0x7; a 98-byte ping, whole
          "print(bytes(Ether(src='02:aa:00:00:00:01',dst='02:bb:00:00:00:02')/IP(src='192.168.1.1',dst='192.168.1.2',ttl=64)/ICMP(id=7,seq=1)/Raw(b'p'*56)).hex())",
          // udp → mod_nw_tos:32 then output:CONTROLLER: the rewritten frame (IPv4 checksum updated)
          "print(bytes(Ether(src='02:aa:00:00:00:01',dst='02:bb:00:00:00:02')/IP(src='192.168.1.1',dst='192.168.1.2')/UDP(sport=1000,dport=53)/Raw(b'q'*20)).hex())",
          // an IPv6 frame no flow matches: table-miss, 114 bytes cut to 64
          "print(bytes(Ether(src='02:aa:00:00:00:01',dst='02:bb:00:00:00:02')/IPv6(src='fd00::1',dst='fd00::2')/UDP(sport=1,dport=2)/Raw(b'r'*52)).hex())",
          // from the tunnel: VXLAN VNI 42 from 10.0.0.2 to us, inner TCP SYN
          `print(bytes(Ether(src='02:00:00:00:00:02',dst='${NVO_MAC}')/IP(src='10.0.0.2',dst='10.0.0.1')/UDP(sport=4242,dport=4789,chksum=0)/VXLAN(vni=42)/Ether(src='02:cc:00:00:00:03',dst='02:aa:00:00:00:01')/IP(src='192.168.2.3',dst='192.168.1.1')/TCP(sport=5555,dport=80,flags='S')).hex())`,
          // tcp with TTL 1 through dec_ttl: INVALID_TTL (to the --invalid-ttl subscriber only)
          "print(bytes(Ether(src='02:aa:00:00:00:01',dst='02:bb:00:00:00:02')/IP(src='192.168.1.1',dst='192.168.1.2',ttl=1)/TCP(sport=1,dport=2)).hex())",
        ].join('\n'),
      )
        .trim()
        .split('\n')
        .map(fromHex);
      const text = monitor(path, 6, ['--invalid-ttl']);
      const json = monitor(path, 6, ['--invalid-ttl', '--json']);
      const plain = monitor(path, 5); // no INVALID_TTL for this one
      await until(() => packetIns(sw).subscribers === 3);
      assert.equal(packetIns(sw).invalidTtlSubscribers, 2);
      send(sw, 2, frames.slice(0, 4));
      send(sw, sw.port('ul0')!.no, [frames[4]!]);
      send(sw, 2, [frames[5]!]);
      const [lines, records, plainLines] = await Promise.all([text.lines, json.lines, plain.lines]);
      const recs = records.map((l) => JSON.parse(l) as PacketInJson);
      assert.deepEqual(
        recs.map((r) => [r.reason, r.tableId, r.cookie, r.inPortName, r.totalLen, r.data.length / 2]),
        [
          ['no_match', 0, '0x0', 'g1', 42, 42],
          ['action', 1, '0x7', 'g1', 98, 98],
          ['action', 0, '0x9', 'g1', 62, 62],
          ['no_match', 0, '0x0', 'g1', 114, 64],
          ['action', 0, '0xb', 'vx0', 54, 54],
          ['invalid_ttl', 0, '0xa', 'g1', 54, 54],
        ],
      );
      assert.deepEqual(recs[4]!.tunnel, { id: '0x2a', src: '10.0.0.2', dst: '10.0.0.1', ipv6: false });
      // The UDP frame went out as rewritten: TOS 32 (DSCP 8) in the packet-in data.
      assert.equal(fromHex(recs[2]!.data)[15], 32);
      assert.equal(lines.length, 6);
      for (let i = 0; i < recs.length; i++) assert.equal(lines[i], ofctlPrint(recs[i]!), `record ${i}`);
      assert.deepEqual(plainLines, lines.slice(0, 5), 'a subscriber without --invalid-ttl misses it');
      assert.equal(sw.counters.get('packet-in'), 6);
      assert.equal(sw.counters.get('drop-ttl-exceeded'), 1);
      assert.equal(sw.counters.get('drop-controller-not-connected'), 0);
    } finally {
      server.close();
    }
  });

  test('the text for an IPv6 tunnel, a VLAN frame, a later fragment and a non-IP frame is what ovs-ofctl prints', () => {
    const frames = scapy(
      [
        "print(bytes(Ether(src='02:aa:00:00:00:01',dst='02:bb:00:00:00:02')/Dot1Q(vlan=5,prio=3)/IP(src='1.1.1.1',dst='2.2.2.2')/UDP(sport=7,dport=9)).hex())",
        "print(bytes(Ether(src='02:aa:00:00:00:01',dst='02:bb:00:00:00:02')/IP(src='1.1.1.1',dst='2.2.2.2',frag=10,proto=17)/Raw(b'z'*12)).hex())",
        "print(bytes(Ether(src='02:aa:00:00:00:01',dst='ff:ff:ff:ff:ff:ff',type=0x88b5)/Raw(b'z'*46)).hex())",
        "print(bytes(Ether(src='02:aa:00:00:00:01',dst='02:bb:00:00:00:02')/IPv6(src='fd00::1',dst='fd00::2',fl=0x12345,tc=0xb9,hlim=3)/ICMPv6ND_NS(tgt='fd00::2')/ICMPv6NDOptSrcLLAddr(lladdr='02:aa:00:00:00:01')).hex())",
      ].join('\n'),
    )
      .trim()
      .split('\n');
    frames.forEach((data, i) => {
      const j: PacketInJson = {
        event: 'packet-in',
        reason: 'action',
        tableId: i,
        cookie: '0xfeed',
        inPort: 10,
        totalLen: data.length / 2,
        data,
        tunnel: { id: '0x1234567890', src: 'fd00:99::2', dst: 'fd00:99::1', ipv6: true },
      };
      assert.equal(formatPacketIn(j), ofctlPrint(j), data);
    });
  });

  test('a full queue counts what it loses; the packets are freed either way', async () => {
    const sw = buildSwitch(config({ limits: { packetInQueue: 4 } }), memOpen);
    const path = join(dir, 'q.sock');
    const server = serveControl(sw, path);
    try {
      const m = monitor(path, 4, ['--json']);
      await until(() => packetIns(sw).subscribers === 1);
      const f = fromHex(scapy("print(bytes(Ether()/IP(dst='1.2.3.4')/UDP()).hex())").trim());
      const free = pool.available;
      send(
        sw,
        2,
        Array.from({ length: 10 }, () => f),
      ); // one batch: the ring fills before any drain
      assert.equal(pool.available, free, 'every packet freed');
      assert.equal((await m.lines).length, 4);
      assert.equal(sw.counters.get('packet-in'), 4);
      assert.equal(sw.counters.get('drop-packet-in-queue-full'), 6);
    } finally {
      server.close();
    }
  });
});
