// The port back-end contract: what the switch sees of TAP, AF_PACKET, UDP sockets and their pure-Node
// fallback. Modelled on DPDK's rte_eth_rx_burst / rte_eth_tx_burst, which Snabb and VPP also follow:
//
//   rx: port.rxBurst(out)        allocates from the port's own pool (its "rx ring"), appends up to
//                                out.capacity - out.count packets to `out`, returns how many. 0 = idle.
//                                The caller owns the packets and frees them to port.pool (pool.free).
//                                A native port keeps up to `burst` slots (at most a quarter of the
//                                pool) allocated as its landing space, like a NIC's rx ring.
//   tx: port.txBurst(b, from)    takes packets b.packets[from..count) in order and returns how many it
//                                consumed from the front: sent, or dropped with a named counter
//                                (tx-drop-<errno>). The caller frees the consumed ones. The rest were
//                                not taken (kernel queue full: EAGAIN/ENOBUFS); the caller retries
//                                later or drops them, counting it — there is no hidden buffer here.
//
// Offload metadata is the virtio_net_hdr, carried in Packet fields with the same numbering:
//   Packet.flags NEEDS_CSUM (1) = VIRTIO_NET_HDR_F_NEEDS_CSUM, CSUM_VALID (2) = F_DATA_VALID,
//   SUPERFRAME (4) set when gsoType != GSO_NONE; gsoType = virtio gso_type; gsoSize = gso_size;
//   csumStart is absolute in buf (virtio: relative to the frame, i.e. csumStart - start);
//   csumOffset relative to csumStart (TCP 16, UDP 6).
// Datagram ports (UDP) carry payloads, not frames: rx sets tunSrc/tunSrcPort/tunIpVersion to the
// sender, and gsoType GSO_UDP_L4 + gsoSize when UDP_GRO merged several datagrams (each gsoSize bytes,
// the last may be shorter); tx sends to tunDst/tunDstPort and, when gsoSize > 0 and the payload is
// longer, cuts it into gsoSize-byte datagrams in the kernel (UDP_SEGMENT).
//
// Nothing on this path throws for bad packets or full queues: drops are counted by name in
// `counters` (rx-packets, rx-bytes, tx-packets, tx-bytes, rx-drop-*, tx-drop-*).
import type { Batch } from '../packet/batch.ts';
import type { Counters } from '../packet/counters.ts';
import type { Pool } from '../packet/pool.ts';

export interface IoCaps {
  /** Frames are Ethernet (TAP, AF_PACKET); false for datagram payloads (UDP). */
  readonly l2: boolean;
  /** rx packets carry checksum state (NEEDS_CSUM / CSUM_VALID) and GSO metadata. */
  readonly rxOffloadMeta: boolean;
  /** rx may return packets longer than the MTU (TSO/GRO superframes): needs a SUPER_SLOT pool. */
  readonly rxSuperframes: boolean;
  /** tx accepts NEEDS_CSUM packets (checksum finished by the kernel). */
  readonly txCsumPartial: boolean;
  /** tx accepts GSO_TCPV4 / GSO_TCPV6 superframes (segmented by the kernel). */
  readonly txTso: boolean;
  /** tx accepts GSO_UDP_L4 superframes (UDP: UDP_SEGMENT; TAP/AF_PACKET: USO). */
  readonly txUso: boolean;
  /** Largest packet rx can return (limited further by the pool's slot size). */
  readonly maxRxLen: number;
  /** A file descriptor the poller can wait on (-1 for event-driven back ends). */
  readonly fd: number;
}

export interface IoBackend {
  /** Port name for counters and logs (device name, or address:port). */
  readonly name: string;
  /** 'tap' | 'af-packet' | 'udp' | 'udp-dgram' | 'udp-frames' (a guest's frames over node:dgram) */
  readonly kind: string;
  readonly caps: IoCaps;
  /** The pool rx allocates from; the caller frees received packets here. */
  readonly pool: Pool;
  readonly counters: Counters;
  rxBurst(out: Batch): number;
  txBurst(b: Batch, from?: number): number;
  /**
   * Calls `cb` whenever rx may have something (level-triggered: again and again while it does), or
   * stops with null. Used by the poller; the callback must call rxBurst until it returns short.
   */
  onReadable(cb: (() => void) | null): void;
  /** Optional, cold: pulls in counters the kernel keeps for the device (called about once a second). */
  refreshCounters?(): void;
  /** Closes the device/socket; idempotent. Packets held in the rx reserve go back to the pool. */
  close(): void;
}

/** Counter names every back end defines up front (so snapshots list them even at zero). */
export const BASE_COUNTERS = [
  'rx-packets',
  'rx-bytes',
  'rx-superframes',
  'tx-packets',
  'tx-bytes',
  'tx-superframes',
  'tx-queue-full',
  'rx-drop-truncated',
  'rx-drop-no-buffer',
] as const;
