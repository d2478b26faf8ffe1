// AF_PACKET port: a SOCK_RAW packet socket bound to one interface, with PACKET_VNET_HDR so GSO
// superframes and partial checksums cross intact in both directions (without it a veth hands us
// 64 KB frames we cannot send back, EMSGSIZE, and TCP stalls: performance.md §6.1) and
// PACKET_IGNORE_OUTGOING so we never read back our own transmissions (or the kernel's). Batched
// with recvmmsg/sendmmsg: one syscall and one addon call per burst. A C forwarder built this way moved
// 17.5 Gbit/s on this machine.
import { type Pool, SUPER_SLOT } from '../packet/pool.ts';
import { KIND_PACKET, type NativeIo, requireNative, VNET_HDR_LEN } from './native.ts';
import { NativePort, type NativePortOptions } from './native-port.ts';

export interface AfPacketOptions extends NativePortOptions {
  /** Interface to bind (in `netns` when given). */
  ifname: string;
  /** Rx pool; SUPER_SLOT slots when the interface does GRO/TSO. */
  pool: Pool;
  /** virtio_net_hdr on every frame (default true). */
  vnetHdr?: boolean;
  netns?: string;
  /** SO_RCVBUF(FORCE) bytes (default 4 MiB: ~64 superframes). */
  rcvbuf?: number;
}

export class AfPacketPort extends NativePort {
  readonly ifindex: number;
  private readonly io: NativeIo;

  constructor(o: AfPacketOptions) {
    const native = requireNative('AF_PACKET');
    const vnet = o.vnetHdr ?? true;
    const s = native.packetOpen(o.ifname, vnet, o.netns ?? null, o.rcvbuf ?? 4 << 20);
    super(
      native,
      s.fd,
      KIND_PACKET,
      vnet ? VNET_HDR_LEN : 0,
      o.ifname,
      'af-packet',
      {
        l2: true,
        rxOffloadMeta: vnet,
        rxSuperframes: vnet,
        txCsumPartial: vnet,
        txTso: vnet,
        txUso: vnet,
        maxRxLen: vnet ? SUPER_SLOT : 65535,
      },
      o.pool,
      o,
    );
    this.ifindex = s.ifindex;
    this.io = native;
  }

  /**
   * Frames the kernel dropped before nvo could read them (the socket's receive queue, rcvbuf, was
   * full) as `rx-drop-socket-full`: without it an overloaded port loses frames no counter shows.
   */
  refreshCounters(): void {
    if (this.fd < 0) return;
    const n = this.io.packetDrops(this.fd);
    if (n > 0) this.counters.add('rx-drop-socket-full', n);
  }
}
