// Native I/O rates: AF_PACKET and TAP batch rx/tx on veth pairs inside throw-away namespaces.
//   node bench/io/io-rate.ts [--seconds S] [--burst N] [--json FILE]      (root; addon built)
//
//   ns Y: v1 (AF_PACKET tx) ══ veth ══ v0 (AF_PACKET rx)  :ns X ── forwarding ── tap0 (TAP rx/tx)
//
// Cases, each for 64 B, 1500 B frames and 64 KB TCP superframes (vnet GSO_TCPV4, NEEDS_CSUM):
//   af-packet  tx on Y/v1 → rx on X/v0 (both ours): the kernel veth path between two packet sockets
//   tap-rx     tx on Y/v1 → X's kernel forwards to tap0 → rx from the TAP
//   tap-tx     write to tap0 → X's kernel takes it in (dst MAC not ours: dropped right after rx)
// One thread does both ends (alternating bursts), so rates are per core for the whole path. Printed
// with the machine, kernel, Node version and the veth offload flags (performance.md §9 G4).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import type { IoBackend } from '../../src/io/io-backend.ts';
import { loadNative, nativeUnavailable } from '../../src/io/native.ts';
import { TapPort } from '../../src/io/tap.ts';
import { Batch } from '../../src/packet/batch.ts';
import { GSO_TCPV4, NEEDS_CSUM, SUPERFRAME } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import {
  getOffloads,
  ip,
  netnsAdd,
  netnsDel,
  netnsPath,
  nsRun,
  testbedUnavailable,
  uniqueName,
  vethPair,
} from '../../testbed/netns.ts';
import { machine } from '../lib/machine.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string' }, burst: { type: 'string' }, json: { type: 'string' } },
});
const SECONDS = Number(values.seconds ?? 2);
const BURST = Number(values.burst ?? 64);

const why = testbedUnavailable() || (loadNative() ? '' : nativeUnavailable());
if (why) {
  console.error(`bench io: ${why}`);
  process.exit(2);
}

function parseMac(s: string): number[] {
  return s.split(':').map((x) => Number.parseInt(x, 16));
}

/** Ethernet/IPv4 frame: UDP (or, for superframes, TCP with a pseudo-header checksum seed). */
function frame(len: number, dstMac: number[], tcp: boolean, ethertype = 0x0800): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dstMac, 0);
  f.set([2, 0, 0, 0x88, 0, 1], 6);
  f[12] = ethertype >> 8;
  f[13] = ethertype & 0xff;
  const ipLen = len - 14;
  f.set(
    [0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 1, 0x40, 0, 64, tcp ? 6 : 17, 0, 0, 10, 88, 1, 2, 10, 89, 0, 2],
    14,
  );
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (f[i]! << 8) | f[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  f[24] = c >> 8;
  f[25] = c & 0xff;
  if (tcp) {
    f.set([0x9c, 0x40, 0x22, 0xb8, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff], 34);
    // pseudo-header sum: addresses + protocol + TCP length, folded, not complemented (virtio NEEDS_CSUM)
    let p = 6 + (len - 34);
    for (let i = 26; i < 34; i += 2) p += (f[i]! << 8) | f[i + 1]!;
    while (p > 0xffff) p = (p & 0xffff) + (p >>> 16);
    f[50] = p >> 8;
    f[51] = p & 0xff;
  } else {
    f.set([0x9c, 0x40, 0x1f, 0x40, (len - 34) >> 8, (len - 34) & 0xff, 0, 0], 34);
  }
  return f;
}

interface Row {
  case: string;
  size: number;
  txPps: number;
  rxPps: number;
  rxGbps: number;
  drops: number;
}

/** Fills `b` with `n` copies of `f` (metadata included) from `pool`. */
function fill(pool: Pool, b: Batch, f: Uint8Array, n: number, superframe: boolean): void {
  for (let i = 0; i < n; i++) {
    const p = pool.alloc();
    if (!p) break;
    p.buf.set(f, p.start);
    p.end = p.start + f.length;
    if (superframe) {
      p.flags = NEEDS_CSUM | SUPERFRAME;
      p.gsoType = GSO_TCPV4;
      p.gsoSize = 1448;
      p.csumStart = p.start + 34;
      p.csumOffset = 16;
    }
    b.push(p);
  }
}

/** Sum of a port's tx-drop-* counters (frames the kernel rejected). */
function txErrors(p: IoBackend): number {
  return Object.entries(p.counters.snapshot())
    .filter(([k]) => k.startsWith('tx-drop-'))
    .reduce((n, [, v]) => n + v, 0);
}

/** Empties a port's receive queue (frames left over from the previous case). */
function flush(p: IoBackend): void {
  const b = new Batch(BURST);
  for (let n = p.rxBurst(b); n > 0; n = p.rxBurst(b)) {
    for (let i = 0; i < n; i++) p.pool.free(b.packets[i]!);
    b.clear();
  }
}

function run(
  name: string,
  size: number,
  tx: IoBackend,
  rx: IoBackend | null,
  f: Uint8Array,
  superframe: boolean,
): Row {
  const txPool = tx.pool;
  for (const p of ports) flush(p);
  const err0 = txErrors(tx);
  const out = new Batch(BURST);
  const inb = new Batch(BURST);
  let sent = 0;
  let got = 0;
  let bytes = 0;
  let drops = 0;
  const drain = () => {
    if (!rx) return;
    let n: number;
    do {
      n = rx.rxBurst(inb);
      for (let i = 0; i < n; i++) {
        const p = inb.packets[i]!;
        bytes += p.end - p.start;
        rx.pool.free(p);
      }
      got += n;
      inb.clear();
    } while (n === BURST);
  };
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(SECONDS * 1e9));
  let now = t0;
  while (now < end) {
    fill(txPool, out, f, BURST, superframe);
    const n = tx.txBurst(out);
    sent += n;
    drops += out.count - n;
    for (let i = 0; i < out.count; i++) txPool.free(out.packets[i]!);
    out.clear();
    drain();
    now = process.hrtime.bigint();
  }
  drain();
  const secs = Number(now - t0) / 1e9;
  drops += txErrors(tx) - err0;
  return { case: name, size, txPps: sent / secs, rxPps: got / secs, rxGbps: (bytes * 8) / secs / 1e9, drops };
}

const OTHER_MAC = [2, 0, 0, 0, 0, 0x99];
const tag = uniqueName('nvob');
const X = `${tag}x`;
const Y = `${tag}y`;
const rows: Row[] = [];
const ports: IoBackend[] = [];
let offloads: Record<string, string> = {};
try {
  netnsAdd(X);
  netnsAdd(Y);
  vethPair(Y, 'v1', X, 'v0');
  ip(Y, 'link', 'set', 'v1', 'up');
  ip(X, 'addr', 'add', '10.88.1.1/24', 'dev', 'v0');
  ip(X, 'link', 'set', 'v0', 'up');
  nsRun(X, '/usr/sbin/sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  const superPool = new Pool(4 * BURST, SUPER_SLOT);
  const v1 = new AfPacketPort({
    ifname: 'v1',
    pool: new Pool(4 * BURST, SUPER_SLOT),
    netns: netnsPath(Y),
    burst: BURST,
  });
  const v0 = new AfPacketPort({
    ifname: 'v0',
    pool: superPool,
    netns: netnsPath(X),
    burst: BURST,
    rcvbuf: 32 << 20,
  });
  const tap = new TapPort({
    name: 'tap0',
    pool: new Pool(4 * BURST, SUPER_SLOT),
    netns: netnsPath(X),
    burst: BURST,
  });
  ports.push(v1, v0, tap);
  ip(X, 'addr', 'add', '10.89.0.1/24', 'dev', 'tap0');
  ip(X, 'link', 'set', 'tap0', 'up');
  ip(X, 'neigh', 'add', '10.89.0.2', 'lladdr', '02:00:00:89:00:02', 'dev', 'tap0');
  const v0Mac = parseMac(
    (JSON.parse(ip(X, '-j', 'link', 'show', 'v0')) as { address: string }[])[0]!.address,
  );
  offloads = getOffloads(X, 'v0');
  // The sender's source address must look routable to X (rp_filter): 10.88.1.2 on v0's subnet.
  const src = (f: Uint8Array) => {
    f.set([10, 88, 1, 2], 26);
    return f;
  };
  for (const [size, superframe] of [
    [64, false],
    [1500, false],
    [64014, true],
  ] as const) {
    const tcp = superframe;
    // af-packet: IPv4 frames for another host (X's kernel drops them as PACKET_OTHERHOST), read by v0.
    rows.push(run('af-packet', size, v1, v0, frame(size, OTHER_MAC, tcp), superframe));
    // tap-rx: IPv4 to 10.89.0.2 (behind tap0), forwarded by X.
    const fwd = src(frame(size, v0Mac, tcp));
    fwd.set([10, 89, 0, 2], 30);
    rows.push(run('tap-rx', size, v1, tap, fixIpCsum(fwd, tcp), superframe));
    // tap-tx: write into the TAP; X's kernel takes each in and drops it as PACKET_OTHERHOST.
    rows.push(run('tap-tx', size, tap, null, frame(size, OTHER_MAC, tcp), superframe));
  }
} finally {
  for (const p of ports) p.close();
  netnsDel(X);
  netnsDel(Y);
}

/** Recomputes the IPv4 header checksum (and the TCP pseudo seed) after addresses changed. */
function fixIpCsum(f: Uint8Array, tcp: boolean): Uint8Array {
  f[24] = 0;
  f[25] = 0;
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (f[i]! << 8) | f[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  f[24] = c >> 8;
  f[25] = c & 0xff;
  if (tcp) {
    let p = 6 + (f.length - 34);
    for (let i = 26; i < 34; i += 2) p += (f[i]! << 8) | f[i + 1]!;
    while (p > 0xffff) p = (p & 0xffff) + (p >>> 16);
    f[50] = p >> 8;
    f[51] = p & 0xff;
  }
  return f;
}

const m = machine();
console.log(
  `machine: ${m.cpu} × ${m.cores}, kernel ${m.kernel}, node ${m.node}, burst ${BURST}, ${SECONDS} s per case`,
);
console.log(
  `veth offloads: ${[
    'tcp-segmentation-offload',
    'generic-segmentation-offload',
    'generic-receive-offload',
    'tx-checksumming',
  ]
    .map((k) => `${k} ${offloads[k]}`)
    .join(', ')}`,
);
console.log('case        size     tx Mpps   tx Gbit/s   rx Mpps   rx Gbit/s   not-sent+rejected');
for (const r of rows)
  console.log(
    [
      r.case.padEnd(10),
      String(r.size).padStart(6),
      (r.txPps / 1e6).toFixed(3).padStart(9),
      ((r.txPps * r.size * 8) / 1e9).toFixed(2).padStart(11),
      (r.rxPps / 1e6).toFixed(3).padStart(9),
      r.rxGbps.toFixed(2).padStart(11),
      String(r.drops).padStart(11),
    ].join(' '),
  );
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify({ machine: m, burst: BURST, seconds: SECONDS, offloads, rows }, null, 2),
  );
