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
  /**
   * SO_RCVBUF(FORCE) bytes (default 4 MiB: ~64 superframes; 16 MiB with `defrag`). A datagram the
   * kernel reassembled is charged the truesize of all its fragment skbs: a 64 KB SOE datagram of 45
   * veth fragments counts about 45 × 2.8 KB ≈ 126 KB, so 4 MiB (8 MiB as the kernel doubles it) holds
   * about 65 of them, 8 ms at 4 Gbit/s. Measured with two 3-s SOE iperf3 runs: 46 and 54 TCP
   * retransmits with 4 MiB (rx-drop-socket-full), 0 and 0, then 0 and 1, with 16 MiB.
   */
  rcvbuf?: number;
  /**
   * A unicast MAC of nvo's own (not the interface's) that the interface must accept as well
   * (PACKET_MR_UNICAST, for as long as the socket is open). The host's IP stack then sees frames to
   * it as another host's and drops them before routing: without it a raw underlay sharing the
   * interface's MAC made the kernel route, and drop, every tunnel packet nvo received.
   */
  mac?: Uint8Array;
  /**
   * IPv4 fragments are reassembled by the kernel before this socket reads them (a fanout group of its
   * own with PACKET_FANOUT_FLAG_DEFRAG; the namespace's net.ipv4.ipfrag_* limits apply): one read per
   * datagram instead of one per fragment, for VXLAN-SOE's 64 KB datagrams on a raw underlay.
   */
  defrag?: boolean;
}

export class AfPacketPort extends NativePort {
  readonly ifindex: number;
  private readonly io: NativeIo;

  constructor(o: AfPacketOptions) {
    const native = requireNative('AF_PACKET');
    const vnet = o.vnetHdr ?? true;
    const s = native.packetOpen(
      o.ifname,
      vnet,
      o.netns ?? null,
      o.rcvbuf ?? (o.defrag ? 16 << 20 : 4 << 20),
      o.mac ?? null,
      o.defrag ?? false,
    );
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
