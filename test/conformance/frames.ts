// Outer headers for oracle tests, built by scapy (an independent encoder) rather than by our own
// Ethernet/IPv4/UDP codecs: a tunnel header emitted by nvo is wrapped as the raw payload of
// Ether/IPv4/UDP (or Ether/IPv4 with a given protocol), in one python run for the whole batch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, hex } from '../../src/wire/bytes.ts';
import { PYTHON } from '../harness/tools.ts';

/**
 * Like tools.ts `scapy()`, but importing only the layers named (`from scapy.all import *` costs about
 * a second of CPU per run; these tests start python a dozen times). The snippet prints its results.
 */
export function scapyLite(code: string, imports = ''): string {
  const script = `import sys\nfrom scapy.layers.l2 import Ether, GRE\nfrom scapy.layers.inet import IP, UDP, TCP, ICMP\n${imports}\n${code}\n`;
  return execFileSync(PYTHON, ['-c', script], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Seed for the random samples sent to the oracles: fixed, so CI is repeatable; override to explore. */
export const ORACLE_SEED = Number(process.env['NVO_ORACLE_SEED'] ?? 20261125);

export const OUTER_SRC = '192.0.2.1';
export const OUTER_DST = '192.0.2.2';
/** Pseudo-header sum inputs for the outer addresses above (for TCP/STT checksums computed by us). */
export const OUTER_SRC_BYTES = Uint8Array.of(192, 0, 2, 1);
export const OUTER_DST_BYTES = Uint8Array.of(192, 0, 2, 2);

/**
 * `outer` is a scapy expression for the layers below the payload, e.g.
 * `UDP(sport=49152, dport=4789)` or `` (nothing: IP with `proto`).
 */
export function wrap(payloads: Uint8Array[], outer: string, proto?: number): Uint8Array[] {
  const dir = mkdtempSync(join(tmpdir(), 'nvo-frames-'));
  try {
    const inFile = join(dir, 'in.txt');
    const outFile = join(dir, 'out.txt');
    writeFileSync(inFile, payloads.map((p) => hex(p)).join('\n'));
    const ip = `IP(src='${OUTER_SRC}', dst='${OUTER_DST}'${proto === undefined ? '' : `, proto=${proto}`})`;
    const stack = outer ? `${ip}/${outer}` : ip;
    scapyLite(`
from scapy.packet import Raw
lines = open(${JSON.stringify(inFile)}).read().split('\\n')
with open(${JSON.stringify(outFile)}, 'w') as f:
    for h in lines:
        p = Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')/${stack}/Raw(load=bytes.fromhex(h))
        f.write(bytes(p).hex() + '\\n')
`);
    return readFileSync(outFile, 'utf8')
      .trim()
      .split('\n')
      .map((h) => fromHex(h));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small inner Ethernet frame (no FCS) for payloads: ARP-typed so dissectors stop cleanly. */
export function innerEthernet(seed: number): Uint8Array {
  const f = new Uint8Array(14 + 28);
  f.set([0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x06]);
  // ARP request (RFC 826): htype 1, ptype 0x0800, hlen 6, plen 4, op 1, sha, spa, tha, tpa.
  f.set(
    [0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 0x0a, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, seed & 0xff],
    14,
  );
  return f;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** bytes(IP(src='10.0.0.1', dst='10.0.0.2')/ICMP()) from Debian python3-scapy 2.5.0: an inner IPv4 packet. */
export const INNER_IPV4_ICMP = fromHex('4500001c00010000400166de0a0000010a0000020800f7ff00000000');

/** Bytes of one scapy expression, e.g. `IP(src='10.0.0.1', dst='10.0.0.2')/ICMP()`. */
export function scapyBytes(expr: string): Uint8Array {
  return fromHex(scapyLite(`sys.stdout.write(bytes(${expr}).hex())`));
}
