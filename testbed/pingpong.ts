// UDP ping-pong between two namespaces (TCP_RR-style latency): an echo server in one, a client in the
// other sending one 64-byte datagram at a time and timing the answer. Python's socket calls, so the
// absolute numbers include interpreter overhead on both ends; compare paths measured the same way.
import { setTimeout as sleep } from 'node:timers/promises';
import { nsRun, nsSpawn } from './netns.ts';

const PYTHON = '/usr/bin/python3';

/** RTTs in µs of `n` pings from `fromNs` to addr:port served in `serverNs` (2 ms apart). */
export async function pingPong(
  serverNs: string,
  fromNs: string,
  addr: string,
  n: number,
  port = 7500,
): Promise<number[]> {
  const srv = nsSpawn(serverNs, PYTHON, [
    '-c',
    `import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('${addr}', ${port}))\ns.settimeout(10)\ntry:\n  while True:\n    d,a=s.recvfrom(2048); s.sendto(d,a)\nexcept socket.timeout: pass`,
  ]);
  try {
    for (let i = 0; i < 200 && !nsRun(serverNs, '/usr/bin/ss', ['-Hlun', `sport = :${port}`]).trim(); i++)
      await sleep(20);
    const client = [
      'import socket, time',
      's=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      's.settimeout(2)',
      `s.sendto(b'warm', ('${addr}', ${port})); s.recv(2048)`,
      `for i in range(${n}):`,
      '  t=time.perf_counter_ns()',
      `  s.sendto(b'x'*64, ('${addr}', ${port})); s.recv(2048)`,
      '  print((time.perf_counter_ns()-t)/1000)',
      '  time.sleep(0.002)',
    ].join('\n');
    const out = await new Promise<string>((res, rej) => {
      const c = nsSpawn(fromNs, PYTHON, ['-c', client]);
      let o = '';
      let e = '';
      c.stdout!.on('data', (d: Buffer) => {
        o += d.toString();
      });
      c.stderr!.on('data', (d: Buffer) => {
        e += d.toString();
      });
      c.on('exit', (code) => (code === 0 ? res(o) : rej(new Error(`ping-pong client: ${e.trim()}`))));
    });
    return out.trim().split('\n').map(Number);
  } finally {
    srv.kill();
  }
}

/** The p-th percentile (nearest rank) of xs. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
