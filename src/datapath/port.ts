// A switch port: an OpenFlow port number and name, a kind, and where its transmitted packets go.
//
//   guest     a VM/container NIC (TAP, AF_PACKET on a veth, or memory): frames in and out
//   tunnel    a virtual port per encapsulation (OVS "flow-based" tunnel port): output encapsulates
//             and sends on the underlay; decapsulated packets arrive with in_port = this port
//   underlay  the physical side: carries tunnel packets, ARP/ND for nvo's own underlay address
//   internal  the switch's LOCAL port
//
// Output is staged in a per-port Batch and handed to the sink once per switch batch (flush), so a
// back end sees bursts, never single packets.
import { Batch } from '../packet/batch.ts';
import type { Packet } from '../packet/packet.ts';
import type { TunnelPort } from '../tunnel/tunnel-port.ts';
import { EncapRoutes } from './encap-routes.ts';

export const KIND_GUEST = 1;
export const KIND_TUNNEL = 2;
export const KIND_UNDERLAY = 3;
export const KIND_INTERNAL = 4;
export const KIND_NAMES = ['', 'guest', 'tunnel', 'underlay', 'internal'] as const;

/** Where a port's packets go: the tx half of src/io/io-backend.ts, or a test's memory wire. */
export interface PortSink {
  /** Takes b.packets[from..count); returns how many it consumed from the front (sent or dropped). */
  txBurst(b: Batch, from?: number): number;
}

export class Port {
  readonly no: number;
  readonly name: string;
  readonly kind: number;
  mtu: number;
  /** NORMAL's L2 domain for an access port: the VNI its frames belong to (guest ports). */
  vni: number;
  sink: PortSink | null;
  readonly tunnel: TunnelPort | null;
  /** Tunnel ports: (remote, key) → template, next hop and underlay port, resolved once (encap-routes.ts). */
  readonly encapRoutes: EncapRoutes | null;
  /** Accepts superframes (TSO/GSO) and partial checksums on tx: a TAP/AF_PACKET with vnet_hdr. */
  txOffload: boolean;
  /**
   * Underlay only: the far side copes with UDP GSO superframes (USO), so a UDP tunnel may send a guest
   * superframe as one outer UDP superframe of complete tunnel packets. Right for a NIC that segments
   * USO, and for peers that read vnet_hdr or are the kernel's UDP stack; wrong for a veth whose far end
   * reads raw frames (OVS userspace's AF_PACKET ports), hence off by default.
   */
  txUso: boolean;
  readonly out: Batch;
  // Per-port counters (plain fields: read by `nvo stats`, bumped on the hot path).
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;
  txDrops = 0;

  constructor(
    no: number,
    name: string,
    kind: number,
    opts: {
      mtu?: number;
      vni?: number;
      sink?: PortSink | null;
      tunnel?: TunnelPort | null;
      txOffload?: boolean;
      txUso?: boolean;
    },
  ) {
    this.no = no;
    this.name = name;
    this.kind = kind;
    this.mtu = opts.mtu ?? 1500;
    this.vni = opts.vni ?? 0;
    this.sink = opts.sink ?? null;
    this.tunnel = opts.tunnel ?? null;
    this.encapRoutes = this.tunnel !== null ? new EncapRoutes() : null;
    this.txOffload = opts.txOffload ?? false;
    this.txUso = opts.txUso ?? false;
    this.out = new Batch(256);
  }

  /** Stages a packet for tx; false when the staging batch is full (caller drops and counts). */
  stage(p: Packet): boolean {
    return this.out.push(p);
  }

  /** Hands the staged batch to the sink; frees whatever was consumed or can't be sent. */
  flush(): void {
    const b = this.out;
    if (b.count === 0) return;
    let sent = 0;
    if (this.sink) sent = this.sink.txBurst(b, 0);
    // One pass: count, free and clear each slot (Batch.clear would walk the batch a second time).
    const n = b.count;
    const packets = b.packets;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const p = packets[i]!;
      packets[i] = null;
      if (i < sent) bytes += p.end - p.start;
      p.owner?.free(p);
    }
    b.count = 0;
    const ok = Math.min(sent, n);
    this.txPackets += ok;
    this.txBytes += bytes;
    this.txDrops += n - ok;
  }
}
