// Shared pieces of the namespace I/O tests: skip reasons, receiving until a condition holds, and a
// tiny Internet-checksum reference (RFC 1071) kept here so the tests do not lean on src/wire.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IoBackend } from '../../src/io/io-backend.ts';
import { isRoot, loadNative, nativeUnavailable } from '../../src/io/native.ts';
import { Batch } from '../../src/packet/batch.ts';
import { netnsAdd, netnsDel, nsRun, testbedUnavailable, uniqueName, vethPair } from '../../testbed/netns.ts';
import { haveScapy } from '../harness/tools.ts';

/** Why native namespace tests must skip here ('' = they run). CI is root with the addon built. */
export function skipReason(): string {
  if (!isRoot()) return 'not root: network namespaces, TAP and AF_PACKET need CAP_NET_ADMIN';
  const tb = testbedUnavailable();
  if (tb) return tb;
  if (!loadNative()) return nativeUnavailable();
  return '';
}

/** Receives from `port` until `enough(frames)` or `ms` elapse; returns copies of every packet seen. */
export async function receive(
  port: IoBackend,
  enough: (
    got: {
      bytes: Uint8Array;
      gsoType: number;
      gsoSize: number;
      flags: number;
      csumStart: number;
      csumOffset: number;
      tunSrcPort: number;
    }[],
  ) => boolean,
  ms = 3000,
) {
  const got: {
    bytes: Uint8Array;
    gsoType: number;
    gsoSize: number;
    flags: number;
    csumStart: number;
    csumOffset: number;
    tunSrcPort: number;
  }[] = [];
  const b = new Batch(64);
  const until = Date.now() + ms;
  while (Date.now() < until && !enough(got)) {
    const n = port.rxBurst(b);
    for (let i = 0; i < n; i++) {
      const p = b.packets[i]!;
      got.push({
        bytes: p.bytes(),
        gsoType: p.gsoType,
        gsoSize: p.gsoSize,
        flags: p.flags,
        csumStart: p.csumStart - p.start,
        csumOffset: p.csumOffset,
        tunSrcPort: p.tunSrcPort,
      });
      port.pool.free(p);
    }
    b.clear();
    if (n === 0) await sleep(5);
  }
  return got;
}

/** RFC 1071 ones'-complement sum of 16-bit big-endian words, not folded. */
export function sum16(b: Uint8Array, o: number, end: number, init = 0): number {
  let s = init;
  for (let i = o; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if ((end - o) & 1) s += b[end - 1]! << 8;
  return s;
}

export function fold16(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** IPv4 pseudo-header sum (RFC 768/793) for the IPv4 header at `ip`, folded but not complemented. */
export function pseudo4(b: Uint8Array, ip: number, proto: number, l4len: number): number {
  return fold16(sum16(b, ip + 12, ip + 20) + proto + l4len);
}

/** Python in a namespace: runs `code` and returns stdout (for kernel-socket peers). */
export function py(ns: string, code: string, timeoutMs = 10_000): string {
  return nsRun(ns, '/usr/bin/python3', ['-c', code], { timeoutMs });
}

/** `sysctl -w` inside a namespace. */
export function sysctl(ns: string, kv: string): void {
  nsRun(ns, '/usr/sbin/sysctl', ['-qw', kv]);
}

/** Turns IPv6 off in a namespace, so the kernel's own DAD / router solicitations stay off its wire. */
export function noIpv6(ns: string): void {
  sysctl(ns, 'net.ipv6.conf.all.disable_ipv6=1');
  sysctl(ns, 'net.ipv6.conf.default.disable_ipv6=1');
}

/** Unique names for a host namespace H and its peer P (test files run in parallel). */
export function hostAndPeer(): { H: string; P: string } {
  const tag = uniqueName();
  return { H: `${tag}h`, P: `${tag}p` };
}

/** Makes H and P, IPv6 off in both, joined by a veth named ul0 at each end. */
export function vethBed(H: string, P: string, mtu = 1500): void {
  netnsAdd(H);
  netnsAdd(P);
  noIpv6(H);
  noIpv6(P);
  vethPair(H, 'ul0', P, 'ul0', mtu);
}

/**
 * Inside a describe: unique H and P, made by vethBed before the tests (then `setup`, e.g. addresses
 * and links up) and removed after them, even when a test failed.
 */
export function useVethBed(setup: () => void, mtu = 1500): { H: string; P: string } {
  const { H, P } = hostAndPeer();
  before(() => {
    vethBed(H, P, mtu);
    setup();
  });
  after(() => {
    netnsDel(H);
    netnsDel(P);
  });
  return { H, P };
}

/** One counter from /proc/net/snmp in a namespace, e.g. snmp(ns, 'Udp', 'InCsumErrors'). */
export function snmp(ns: string, proto: string, field: string): number {
  const lines = nsRun(ns, '/usr/bin/cat', ['/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith(`${proto}:`));
  const names = lines[0]!.split(/\s+/);
  const vals = lines[1]!.split(/\s+/);
  return Number(vals[names.indexOf(field)]);
}

export { sleep };

/**
 * scapy (test/harness/tools.ts) without blocking: scapy's import takes seconds, so tests start it
 * while they build their namespaces. Resolves to stdout.
 */
export function scapyAsync(code: string): Promise<string> {
  const script = `import sys\nfrom scapy.all import *\nfrom scapy.contrib import *\n${code}\n`;
  return new Promise((res, rej) => {
    const c = spawn('/usr/bin/python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    c.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`scapy: ${err.trim()}`))));
  });
}

/** haveScapy() without paying for scapy's import when Debian's package is plainly there. */
export function haveScapyQuick(): boolean {
  return existsSync('/usr/lib/python3/dist-packages/scapy/all.py') || haveScapy();
}
