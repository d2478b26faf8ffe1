// iperf3 between two guests of a test bed: the baseline (kernel VXLAN) now, the switch later.
// iperf3 runs inside the guest namespaces; results come from its JSON output.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { nsRun, nsRunAsync, nsSpawn } from './netns.ts';

export const IPERF3 = '/usr/bin/iperf3';

const SS = '/usr/bin/ss';

/**
 * Pings `addr` from namespace `ns` until a round of two pings gets an answer (at most `tries` rounds,
 * ~1-3 s each): a path through switches that resolve their tunnel neighbours and learn MACs on the
 * first packets, and that may still be starting, is up before a measurement starts. A guest's own ARP gives up after
 * three probes a second apart, so a TCP client started at once can fail with "No route to host".
 */
export async function waitReachable(ns: string, addr: string, tries = 10): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    try {
      await nsRunAsync(ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', addr], 10_000);
      return true;
    } catch {
      // not yet
    }
  }
  return false;
}

export interface IperfResult {
  /** Receiver-side goodput, bits per second. */
  bitsPerSecond: number;
  retransmits: number;
  seconds: number;
  /** Sender CPU, percent of one core (iperf3's own accounting). */
  senderCpu: number;
  receiverCpu: number;
}

export interface IperfOptions {
  seconds?: number;
  /** Parallel streams (-P). */
  streams?: number;
  port?: number;
}

/** Runs one TCP iperf3 test from `fromNs` to `toAddr` served in `toNs`. */
export async function iperf(
  fromNs: string,
  toNs: string,
  toAddr: string,
  o: IperfOptions = {},
): Promise<IperfResult> {
  const seconds = o.seconds ?? 3;
  const port = o.port ?? 5201;
  const server = nsSpawn(toNs, IPERF3, ['-s', '-1', '-p', String(port), '-B', toAddr]);
  try {
    await waitListening(toNs, port, server);
    const args = [
      '-c',
      toAddr,
      '-p',
      String(port),
      '-t',
      String(seconds),
      '-J',
      '-P',
      String(o.streams ?? 1),
    ];
    // Asynchronous: a switch running in this process must keep forwarding while iperf3 runs.
    const out = await nsRunAsync(fromNs, IPERF3, args, (seconds + 20) * 1000);
    const j = JSON.parse(out) as {
      error?: string;
      end: {
        sum_received: { bits_per_second: number; seconds: number };
        sum_sent: { retransmits?: number };
        cpu_utilization_percent: { host_total: number; remote_total: number };
      };
    };
    if (j.error) throw new Error(`iperf3: ${j.error}`);
    return {
      bitsPerSecond: j.end.sum_received.bits_per_second,
      retransmits: j.end.sum_sent.retransmits ?? 0,
      seconds: j.end.sum_received.seconds,
      senderCpu: j.end.cpu_utilization_percent.host_total,
      receiverCpu: j.end.cpu_utilization_percent.remote_total,
    };
  } finally {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit').catch(() => {});
    }
  }
}

/** Polls `ss` in the namespace until a TCP listener is on `port` (iperf3's banner is block-buffered). */
async function waitListening(ns: string, port: number, server: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (server.exitCode !== null) throw new Error(`iperf3 server exited with ${server.exitCode}`);
    if (nsRun(ns, SS, ['-Hltn', `sport = :${port}`]).trim() !== '') return;
    await sleep(50);
  }
  throw new Error(`iperf3 server in ${ns} did not listen on ${port} within 5 s`);
}
