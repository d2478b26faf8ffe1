// The throw-away namespaces in which the Linux kernel serves as the oracle for nvo's offloads
// (kernel-oracle.test.ts, uso-kernel.test.ts):
//
//   ns A: TAP (nvo writes, IFF_VNET_HDR) 10.77.0.1 ── ip_forward ── a0 ══ veth ══ b0 :ns B, AF_PACKET
//
// a0 has TSO/GSO/tx-csum off, so a superframe written into the TAP is cut in software by the kernel
// after forwarding (TTL − 1, new MACs); b0 has GRO off (a test may turn it on) so AF_PACKET on b0 sees
// the wire segments. The guest behind the TAP is 10.77.0.2 with GUEST_MAC.
import { TapPort } from '../../src/io/tap.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsAdd, netnsDel, netnsPath, setOffloads, uniqueName, vethPair } from '../../testbed/netns.ts';
import { noIpv6, sysctl } from '../io/helpers.ts';
import { naiveChecksum, payloadOf, pseudo, type TcpOpts, tcpFrame } from './frames.ts';

export const GUEST_MAC = [2, 0, 0, 0x77, 0, 2];

/**
 * A TCP superframe of `len` payload bytes from the guest (10.77.0.2, behind the TAP whose MAC is
 * `tapMac`) to 10.78.0.2, its TCP checksum seeded with the pseudo-header as virtio TSO wants it.
 */
export function guestSuperframe(tapMac: number[], o: TcpOpts, len: number): Uint8Array {
  const f = tcpFrame({ src: [10, 77, 0, 2], dst: [10, 78, 0, 2], ...o }, payloadOf(len, len));
  f.set(tapMac, 0);
  f.set(GUEST_MAC, 6);
  const seed = ~naiveChecksum([pseudo(f.subarray(14, 34), 6, f.length - 34)]) & 0xffff;
  f[50] = seed >> 8;
  f[51] = seed & 0xff;
  return f;
}

export interface KernelBed {
  A: string;
  B: string;
  tap: TapPort;
  /** The pool tap writes from (SUPER_SLOT slots). */
  pool: Pool;
  tapMac: number[];
  close(): void;
}

/** Builds the namespaces (names from `prefix`, unique per process) and the TAP named `tapName`. */
export function kernelBed(prefix: string, tapName: string): KernelBed {
  const tag = uniqueName(prefix);
  const A = `${tag}a`;
  const B = `${tag}b`;
  const pool = new Pool(16, SUPER_SLOT);
  netnsAdd(A);
  netnsAdd(B);
  const tap = new TapPort({ name: tapName, pool, netns: netnsPath(A) });
  const close = () => {
    tap.close();
    netnsDel(A);
    netnsDel(B);
  };
  try {
    noIpv6(A);
    noIpv6(B);
    sysctl(A, 'net.ipv4.ip_forward=1');
    ip(A, 'addr', 'add', '10.77.0.1/24', 'dev', tap.name);
    ip(A, 'link', 'set', tap.name, 'up');
    const guestMac = GUEST_MAC.map((x) => x.toString(16).padStart(2, '0')).join(':');
    ip(A, 'neigh', 'add', '10.77.0.2', 'lladdr', guestMac, 'dev', tap.name);
    vethPair(A, 'a0', B, 'b0');
    ip(A, 'addr', 'add', '10.78.0.1/24', 'dev', 'a0');
    ip(B, 'addr', 'add', '10.78.0.2/24', 'dev', 'b0');
    ip(A, 'link', 'set', 'a0', 'up');
    ip(B, 'link', 'set', 'b0', 'up');
    setOffloads(A, 'a0', { tx: 'off', tso: 'off', gso: 'off' });
    setOffloads(B, 'b0', { rx: 'off', gro: 'off' });
    const mac = (JSON.parse(ip(A, '-j', 'link', 'show', tap.name)) as { address: string }[])[0]!.address;
    const tapMac = mac.split(':').map((x) => Number.parseInt(x, 16));
    return { A, B, tap, pool, tapMac, close };
  } catch (e) {
    close();
    throw e;
  }
}

/** What the kernel made of a frame it forwarded: the wire's MACs, TTL − 1, IPv4 header checksum. */
export function asForwarded(f: Uint8Array, wire: Uint8Array): Uint8Array {
  const g = f.slice();
  g.set(wire.subarray(0, 12), 0);
  g[22] = g[22]! - 1;
  g[24] = 0;
  g[25] = 0;
  const c = naiveChecksum([g.subarray(14, 34)]);
  g[24] = c >> 8;
  g[25] = c & 0xff;
  return g;
}
