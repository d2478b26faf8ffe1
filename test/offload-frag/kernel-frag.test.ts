// The Linux kernel as the oracle for IPv4 and IPv6 fragmentation (net/ipv4/ip_fragment.c, ip_output.c,
// net/ipv6/reassembly.c, ip6_output.c): two throw-away network namespaces joined by a veth pair. nvo's fragments, sent raw into one end, must be
// reassembled by the kernel at the other (a UDP socket receives the whole datagram); a datagram the
// kernel fragments itself (4,000 B over MTU 1500), captured raw, must be reassembled by nvo.
// Needs root, iproute2 and python3; skipped otherwise. Namespaces are unique per run and always removed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { FRAGMENTED, fragment4 } from '../../src/offload/ipv4-fragment.ts';
import { DONE, Ipv4Reassembler } from '../../src/offload/ipv4-reassemble.ts';
import { fragment6 } from '../../src/offload/ipv6-fragment.ts';
import { Ipv6Reassembler } from '../../src/offload/ipv6-reassemble.ts';
import { Batch } from '../../src/packet/batch.ts';
import type { Packet } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import * as l4 from '../../src/wire/l4-checksum.ts';
import { PYTHON } from '../harness/tools.ts';
import { fixL4Checksum4, ipv4Frame, ipv6Frame, load } from './build.ts';

function canNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tag = `${process.pid % 100000}`;
const A = `nvoE-a-${tag}`;
const B = `nvoE-b-${tag}`;
const VA = `nvEa${tag}`;
const VB = `nvEb${tag}`;
const MAC_A = '02:00:00:99:00:01';
const MAC_B = '02:00:00:99:00:02';
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

function up(): void {
  ip('netns', 'add', A);
  ip('netns', 'add', B);
  ip(
    'link',
    'add',
    VA,
    'address',
    MAC_A,
    'netns',
    A,
    'type',
    'veth',
    'peer',
    'name',
    VB,
    'address',
    MAC_B,
    'netns',
    B,
  );
  ip('-n', A, 'addr', 'add', '10.99.0.1/24', 'dev', VA);
  ip('-n', B, 'addr', 'add', '10.99.0.2/24', 'dev', VB);
  for (const [ns, dev] of [
    [A, VA],
    [B, VB],
  ] as const) {
    ip('-n', ns, 'link', 'set', dev, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', A, 'neigh', 'add', '10.99.0.2', 'lladdr', MAC_B, 'dev', VA);
  ip('-n', B, 'neigh', 'add', '10.99.0.1', 'lladdr', MAC_A, 'dev', VB);
  ip('-n', A, 'addr', 'add', 'fd99::1/64', 'dev', VA, 'nodad');
  ip('-n', B, 'addr', 'add', 'fd99::2/64', 'dev', VB, 'nodad');
  ip('-n', A, 'neigh', 'add', 'fd99::2', 'lladdr', MAC_B, 'dev', VA);
  ip('-n', B, 'neigh', 'add', 'fd99::1', 'lladdr', MAC_A, 'dev', VB);
}

function down(): void {
  for (const ns of [A, B])
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
}

/** Runs a plain Python script (no scapy: quick to start) inside namespace A; returns stdout. */
function inA(code: string): string {
  const script = `import sys, subprocess, socket, time\n${code}\n`;
  return execFileSync('ip', ['netns', 'exec', A, PYTHON, '-c', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('IPv4 and IPv6 fragments vs the Linux kernel (netns)', {
  skip: canNetns() ? false : 'needs root and network namespaces',
}, () => {
  it('the kernel reassembles nvo fragments, and nvo reassembles the kernel’s', () => {
    up();
    try {
      // 1. nvo → kernel. The datagram is cut by nvo at MTU 1500 and sent in
      //    reverse order; a socket in B must receive the 5000-byte payload intact.
      const dgram = new Uint8Array(8 + 5000);
      dgram.set([4000 >> 8, 4000 & 255, 9999 >> 8, 9999 & 255, 5008 >> 8, 5008 & 255]);
      for (let i = 0; i < 5000; i++) dgram[8 + i] = (i * 7) & 255;
      const orig = ipv4Frame({ payload: dgram, src: [10, 99, 0, 1], dst: [10, 99, 0, 2], id: 0x7777 });
      orig.set([2, 0, 0, 0x99, 0, 2, 2, 0, 0, 0x99, 0, 1], 0);
      fixL4Checksum4(orig); // the kernel checks it: a wrong checksum would never reach the socket
      const pool = new Pool(16);
      const big = new Pool(1, SUPER_SLOT);
      const big2 = new Pool(1, SUPER_SLOT);
      const p = load(big, orig);
      const out = new Batch(16);
      assert.equal(fragment4(p, 1500, 0x7777, pool, out), FRAGMENTED);
      const frames = (out.packets.slice(0, out.count) as Packet[]).map((q) => hex(q.bytes())).reverse();
      // The receiver says "ready" once bound, so nothing is sent before the socket exists.
      const recv = `import socket,hashlib
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('10.99.0.2',9999));s.settimeout(20)
print('ready',flush=True)
d,a=s.recvfrom(65535);print(len(d),hashlib.sha256(d).hexdigest())`;
      const got =
        inA(`r=subprocess.Popen(['ip','netns','exec','${B}','${PYTHON}','-c',${JSON.stringify(recv)}],stdout=subprocess.PIPE,text=True)
assert r.stdout.readline().strip()=='ready'
o=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);o.bind(('${VA}',0))
for h in ${JSON.stringify(frames)}: o.send(bytes.fromhex(h))
print(r.communicate(timeout=30)[0].strip())`).trim();
      const want = execFileSync(
        PYTHON,
        [
          '-c',
          `import hashlib;print(5000,hashlib.sha256(bytes((i*7)&255 for i in range(5000))).hexdigest())`,
        ],
        {
          encoding: 'utf8',
        },
      ).trim();
      assert.equal(got, want);

      // 2. kernel → nvo. B sends 4000 bytes over UDP; the kernel fragments at the veth MTU (1500);
      //    A captures the raw frames; nvo reassembles them (in reverse order).
      const send = `import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.sendto(bytes((i*11)&255 for i in range(4000)),('10.99.0.1',7777))`;
      // The capture socket is open before the sender starts; it keeps IPv4 frames from B that are
      // fragments (MF set or offset ≠ 0) until it has three or 20 s pass.
      const caught =
        inA(`c=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(0x0800));c.bind(('${VA}',0));c.settimeout(20)
subprocess.run(['ip','netns','exec','${B}','${PYTHON}','-c',${JSON.stringify(send)}],check=True)
n=0
while n<3:
  f=c.recv(65535)
  if f[26:30]==bytes([10,99,0,2]) and (f[20]&0x3f or f[21]): print(f.hex());n+=1`)
          .trim()
          .split('\n')
          .filter((x) => x);
      assert.equal(caught.length, 3, 'the kernel cut 4008 bytes into 3 fragments at MTU 1500');
      const r = new Ipv4Reassembler({ memoryBytes: SUPER_SLOT });
      let udp: Uint8Array | undefined;
      for (const h of caught.reverse()) {
        const q = load(pool, fromHex(h));
        if (r.process(q, 0) === DONE) {
          udp = r.out!.buf.slice(r.out!.l4, r.out!.end);
          r.release(r.out!);
        }
        pool.free(q);
      }
      assert.ok(udp, 'not reassembled');
      assert.equal(udp.length, 8 + 4000);
      const data = udp.subarray(8);
      assert.ok(data.every((x, i) => x === ((i * 11) & 255)));

      // 3. IPv6 both ways: nvo's Fragment headers reassembled by the kernel (RFC 8200 §4.5), and the
      //    kernel's (4,000 B over MTU 1500) reassembled by nvo.
      const u6 = new Uint8Array(8 + 3000);
      u6.set([0x0f, 0xa0, 0x27, 0x0f, (3008 >> 8) & 255, 3008 & 255]);
      for (let i = 0; i < 3000; i++) u6[8 + i] = (i * 5) & 255;
      const o6 = ipv6Frame({ nh: 17, payload: u6 });
      o6.set([2, 0, 0, 0x99, 0, 2, 2, 0, 0, 0x99, 0, 1], 0);
      o6.set(fromHex('fd990000000000000000000000000001fd990000000000000000000000000002'), 22);
      l4.fill(o6, 14, 54, o6.length, 17, 6, true);
      const p6 = load(big2, o6);
      const out6 = new Batch(16);
      assert.equal(fragment6(p6, 1280, 0x5151, pool, out6), FRAGMENTED);
      big2.free(p6);
      const frames6 = (out6.packets.slice(0, out6.count) as Packet[]).map((q) => {
        const h = hex(q.bytes());
        pool.free(q);
        return h;
      });
      const recv6 = recv.replace('AF_INET,', 'AF_INET6,').replace("('10.99.0.2',9999)", "('fd99::2',9999)");
      const got6 =
        inA(`r=subprocess.Popen(['ip','netns','exec','${B}','${PYTHON}','-c',${JSON.stringify(recv6)}],stdout=subprocess.PIPE,text=True)
assert r.stdout.readline().strip()=='ready'
o=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);o.bind(('${VA}',0))
for h in ${JSON.stringify(frames6.reverse())}: o.send(bytes.fromhex(h))
print(r.communicate(timeout=30)[0].strip())`).trim();
      const want6 = execFileSync(
        PYTHON,
        [
          '-c',
          `import hashlib;print(3000,hashlib.sha256(bytes((i*5)&255 for i in range(3000))).hexdigest())`,
        ],
        {
          encoding: 'utf8',
        },
      ).trim();
      assert.equal(got6, want6);
      // 4,008 B of UDP over MTU 1500: (1500 − 40 − 8) & ~7 = 1448 B per fragment → 3 fragments.
      const send6 = `import socket;s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);s.sendto(bytes((i*3)&255 for i in range(4000)),('fd99::1',7777))`;
      const caught6 =
        inA(`c=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(0x86dd));c.bind(('${VA}',0));c.settimeout(20)
subprocess.run(['ip','netns','exec','${B}','${PYTHON}','-c',${JSON.stringify(send6)}],check=True)
n=0
while n<3:
  f=c.recv(65535)
  if f[20]==44: print(f.hex());n+=1`)
          .trim()
          .split('\n')
          .filter((x) => x);
      const r6 = new Ipv6Reassembler({ memoryBytes: SUPER_SLOT });
      let u: Uint8Array | undefined;
      for (const h of caught6.reverse()) {
        const q = load(pool, fromHex(h));
        if (r6.process(q, 0) === DONE) {
          u = r6.out!.buf.slice(r6.out!.l3 + 40, r6.out!.end);
          r6.release(r6.out!);
        }
        pool.free(q);
      }
      assert.ok(u, `kernel IPv6 fragments not reassembled (${caught6.length} captured)`);
      assert.equal(u.length, 8 + 4000);
      assert.ok(u.subarray(8).every((x, i) => x === ((i * 3) & 255)));
    } finally {
      down();
    }
  });
});
