// UDP port for the UDP encapsulations (VXLAN, VXLAN-GPE, Geneve): a kernel UDP socket with UDP_GRO on
// receive (the kernel merges consecutive datagrams of one flow into one read; a cmsg gives the
// datagram size) and UDP_SEGMENT on send (one sendmmsg entry of up to 64 KB is cut into gsoSize
// datagrams by the kernel or the NIC). On this machine that is 48 vs 2.8 Gbit/s over veth
// (performance.md §1.2). Packets carry the UDP payload (the tunnel header onward); addresses travel in
// the tunnel metadata (see io-backend.ts).
import { type Pool, SUPER_SLOT } from '../packet/pool.ts';
import { parseIpv4, parseIpv6 } from '../wire/bytes.ts';
import { KIND_UDP, requireNative } from './native.ts';
import { NativePort, type NativePortOptions } from './native-port.ts';

export interface UdpSocketOptions extends NativePortOptions {
  /** Local address text ('0.0.0.0', '::', '10.0.0.1'); its family picks the socket family. */
  address: string;
  /** Local port; 0 = ephemeral (see .port). */
  port: number;
  pool: Pool;
  /** UDP_GRO on receive (default true; needs SUPER_SLOT slots to be useful). */
  gro?: boolean;
  netns?: string;
  /** SO_RCVBUF/SO_SNDBUF bytes (default 4 MiB). */
  bufSize?: number;
}

export class UdpSocketPort extends NativePort {
  /** The bound port (the kernel's pick when 0 was asked). */
  readonly port: number;
  readonly family: 4 | 6;

  constructor(o: UdpSocketOptions) {
    const native = requireNative('UDP GSO/GRO socket');
    const family = o.address.includes(':') ? 6 : 4;
    const addr = new Uint8Array(family === 4 ? 4 : 16);
    if (family === 4) parseIpv4(o.address, addr, 0);
    else parseIpv6(o.address, addr, 0);
    const gro = o.gro ?? true;
    const s = native.udpOpen(family, addr, o.port, gro, o.netns ?? null, o.bufSize ?? 4 << 20);
    super(
      native,
      s.fd,
      KIND_UDP,
      0,
      `${family === 6 ? `[${o.address}]` : o.address}:${s.port}`,
      'udp',
      {
        l2: false,
        rxOffloadMeta: gro,
        rxSuperframes: gro,
        txCsumPartial: false,
        txTso: false,
        txUso: true,
        maxRxLen: gro ? SUPER_SLOT : 65535,
      },
      o.pool,
      o,
    );
    this.port = s.port;
    this.family = family;
    this.socketFamily = family;
  }
}
