// VXLAN and VXLAN-GPE against the Linux kernel's own vxlan driver, in a private network namespace
// (`unshare -n`, root only; skipped elsewhere): veth0 (10.8.0.1) carries a vxlan device with a random
// VNI on 4789 and a `gpe external` device on 4790; veth1 is our wire, read and written with AF_PACKET
// from Python.
//  1. kernel → nvo: traffic sent into the vxlan device comes out of veth1; nvo parses its VXLAN header
//     (VNI, I flag, reserved bits zero as the kernel sends them).
//  2. nvo → kernel: nvo-emitted headers (random reserved bits, I clear, SOE S+MSS, GPE flags and next
//     protocols, other VNIs) are injected; the device's rx_packets counter says whether Linux decapsulated
//     them, which must equal vxlan.strictCheck / vxlan-gpe.strictCheck plus the VNI match.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import { OK } from '../../src/wire/status.ts';
import * as vxlan from '../../src/wire/vxlan.ts';
import * as gpe from '../../src/wire/vxlan-gpe.ts';
import * as soe from '../../src/wire/vxlan-soe.ts';
import { haveScapy, PYTHON } from '../harness/tools.ts';
import { ORACLE_SEED } from './frames.ts';

const canNetns =
  process.getuid?.() === 0 &&
  existsSync('/usr/bin/unshare') &&
  haveScapy() &&
  (() => {
    try {
      execFileSync(
        '/usr/bin/unshare',
        ['-n', 'ip', 'link', 'add', 'v0', 'type', 'vxlan', 'id', '1', 'dstport', '4789'],
        {
          stdio: 'ignore',
        },
      );
      return true;
    } catch {
      return false;
    }
  })();

const VNI = 0x10000 + (ORACLE_SEED % 0xe0000);

function run(cases: { port: number; hex: string; inner: string }[]): string[] {
  const script = `
import socket, subprocess, time, json, sys
def sh(c): subprocess.run(c, shell=True, check=True)
sh('ip link set lo up; ip link add veth0 type veth peer name veth1; ip addr add 10.8.0.1/24 dev veth0; '
   'ip link set veth0 up; ip link set veth1 up; ip neigh add 10.8.0.2 lladdr 02:00:00:00:00:02 dev veth0 nud permanent; '
   'ip link add vx0 type vxlan id ${VNI} local 10.8.0.1 remote 10.8.0.2 dstport 4789 dev veth0 nolearning; '
   'ip link set vx0 address 02:00:00:00:01:01; ip addr add 10.7.0.1/24 dev vx0; ip link set vx0 up; '
   'ip link add vxg type vxlan gpe external dstport 4790; ip link set vxg up')
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); cap.bind(('veth1', 0)); cap.settimeout(5.0)
time.sleep(0.1)
while True:   # drain what the kernel sent while coming up (IPv6 DAD/RS)
    try: cap.recv(70000, socket.MSG_DONTWAIT)
    except (BlockingIOError, socket.timeout): break
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'hi', ('10.7.0.2', 9))   # ARP request over vx0
try:
    while True:
        f = cap.recv(70000)
        if f[12:14] == b'\\x08\\x00' and f[23] == 17 and f[36:38] == b'\\x12\\xb5': print('kernel', f.hex()); break
except socket.timeout: print('kernel none')
mac0 = json.loads(subprocess.run('ip -j link show veth0', shell=True, capture_output=True, text=True).stdout)[0]['address']
def rx(dev):
    for line in open('/proc/net/dev'):
        if line.strip().startswith(dev + ':'): return int(line.split(':')[1].split()[1])
from scapy.layers.l2 import Ether, ARP
from scapy.layers.inet import IP, UDP, ICMP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest
from scapy.packet import Raw
inner = {'eth': bytes(Ether(src='02:00:00:00:09:09', dst='ff:ff:ff:ff:ff:ff')/ARP(psrc='10.7.0.9', pdst='10.7.0.1')),
         'ip4': bytes(IP(src='10.7.0.9', dst='10.7.0.1')/ICMP()),
         'ip6': bytes(IPv6(src='2001:db8::9', dst='2001:db8::1')/ICMPv6EchoRequest())}
def frame(port, h, kind):
    return bytes(Ether(src='02:00:00:00:00:02', dst=mac0)/IP(src='10.8.0.2', dst='10.8.0.1')/UDP(sport=50000, dport=port)/Raw(bytes.fromhex(h) + inner[kind]))
# After each case a marker the device surely accepts; once the marker is counted, the case (queued
# before it on the same veth) has been processed too: counted twice = accepted, once = dropped.
marker = {4789: frame(4789, '08000000%06x00' % ${VNI}, 'eth'), 4790: frame(4790, '0c00000300000100', 'eth')}
for c in json.loads(sys.stdin.read()):
    dev = 'vx0' if c['port'] == 4789 else 'vxg'
    before = rx(dev)
    cap.send(frame(c['port'], c['hex'], c['inner'])); cap.send(marker[c['port']])
    deadline = time.time() + 5
    while rx(dev) == before and time.time() < deadline: time.sleep(0.002)
    time.sleep(0.005)
    delta = rx(dev) - before
    print(c['hex'], 'accepted' if delta == 2 else 'dropped' if delta == 1 else 'lost%d' % delta)
`;
  return execFileSync('/usr/bin/unshare', ['-n', PYTHON, '-c', script], {
    encoding: 'utf8',
    input: JSON.stringify(cases),
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 180_000,
  })
    .trim()
    .split('\n');
}

test('Linux vxlan: kernel-sent headers parse; nvo-emitted headers are accepted exactly when strictCheck says so', {
  skip: canNetns ? false : 'needs root and network namespaces',
}, () => {
  const one = (x: number) =>
    fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(x) });
  const arbVxlan = fc.record({
    vni: fc.oneof(
      { weight: 3, arbitrary: fc.constant(VNI) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: vxlan.VNI_MAX }) },
    ),
    rsvdFlags: fc.nat(7).chain((bit) => one((1 << bit) & vxlan.FLAGS_RESERVED)),
    reserved24: fc.nat(23).chain((bit) => one(1 << bit)),
    reserved8: fc.nat(7).chain((bit) => one(1 << bit)),
  });
  const arbGpe = fc.record({
    version: fc.constantFrom(0, 0, 0, 1),
    flags: fc.constantFrom(
      gpe.FLAG_P,
      gpe.FLAG_P,
      gpe.FLAG_P,
      0,
      gpe.FLAG_P | gpe.FLAG_O,
      gpe.FLAG_P | gpe.FLAG_B,
    ),
    nextProto: fc.constantFrom(1, 2, 3, 4, 5, 0x7e),
    vni: fc.integer({ min: 0, max: gpe.VNI_MAX }),
    rsvdFlags: one(0x40),
    reserved16: one(0x100),
    reserved8: one(1),
  });
  const cases: { port: number; hex: string; inner: string; expect: boolean }[] = [];
  const b = new Uint8Array(8);
  for (const r of fc.sample(arbVxlan, { numRuns: 40, seed: ORACLE_SEED })) {
    vxlan.emit(r, b, 0);
    cases.push({
      port: 4789,
      hex: hex(b),
      inner: 'eth',
      expect: vxlan.strictCheck(b, 0, 8) === OK && r.vni === VNI,
    });
  }
  // I clear, and VXLAN-SOE (S + MSS): a stock Linux device must drop both.
  for (const h of [`00000000${VNI.toString(16).padStart(6, '0')}00`])
    cases.push({ port: 4789, hex: h, inner: 'eth', expect: false });
  soe.emit({ soe: true, mss: 1448, vni: VNI, rsvdFlags: 0, reserved16: 0 }, b, 0);
  cases.push({ port: 4789, hex: hex(b), inner: 'eth', expect: false });
  for (const r of fc.sample(arbGpe, { numRuns: 40, seed: ORACLE_SEED })) {
    const nextProto = r.flags & gpe.FLAG_P ? r.nextProto : 0;
    gpe.emit({ ...r, nextProto }, b, 0);
    const inner = nextProto === 1 ? 'ip4' : nextProto === 2 ? 'ip6' : 'eth';
    cases.push({ port: 4790, hex: hex(b), inner, expect: gpe.strictCheck(b, 0, 8) === OK });
  }
  const lines = run(cases);
  const [kernelLine, ...verdicts] = lines;
  assert.match(kernelLine!, /^kernel [0-9a-f]+$/, 'the kernel sent a VXLAN packet');
  const frame = fromHex(kernelLine!.split(' ')[1]!);
  const at = 14 + 20 + 8;
  const r = vxlan.newRepr();
  assert.equal(vxlan.parse(frame, at, frame.length, r), OK);
  assert.deepEqual(r, { vni: VNI, rsvdFlags: 0, reserved24: 0, reserved8: 0 });
  assert.equal(vxlan.strictCheck(frame, at, frame.length), OK);
  assert.equal(hex(frame, at + 8 + 6, at + 8 + 12), '020000000101', 'inner source = the vxlan device MAC');

  assert.equal(verdicts.length, cases.length);
  const mismatches: string[] = [];
  verdicts.forEach((line, i) => {
    const c = cases[i]!;
    const [h, verdict] = line.split(' ');
    assert.equal(h, c.hex);
    if ((verdict === 'accepted') !== c.expect)
      mismatches.push(`${c.port} ${h}: kernel ${verdict}, nvo ${c.expect ? 'accept' : 'drop'}`);
  });
  assert.deepEqual(mismatches, []);
  const accepted = verdicts.filter((l) => l.endsWith('accepted')).length;
  assert.ok(accepted >= 10 && verdicts.length - accepted >= 10, `accepted ${accepted} of ${verdicts.length}`);
});
