// A Packet is a fixed slot cut once from a pool's slab (cf. Snabb packet, VPP vlib_buffer): bytes live in
// buf[start, end); headers go on by moving `start` back into headroom, never by copying the payload.
// Every field is initialised in the constructor in one fixed order so all packets share a hidden class.
// Header offsets are absolute indexes into `buf` (-1 = absent).

/** Offload flags (virtio_net_hdr semantics, see encapsulations.md §10). */
export const NEEDS_CSUM = 1; //  L4 checksum partial: fold sum over [csumStart, end) into csumStart+csumOffset
export const CSUM_VALID = 2; //  inner checksum(s) already verified (rx) or known good (tx local offload)
export const SUPERFRAME = 4; //  larger than the MTU; gsoType/gsoSize say how to cut it
/** GSO keeps the (inner) IPv4 ID on every segment: a GRO'd DF flow with constant IDs (Linux
 * SKB_GSO_TCP_FIXEDID, RFC 6864 atomic datagrams). No virtio equivalent: a vnet port increments. */
export const FIXED_ID = 8;

/** gso types, numerically equal to VIRTIO_NET_HDR_GSO_* so a vnet header maps with no table. */
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_UDP_L4 = 5;
export const GSO_ECN = 0x80;

/** Encapsulation kinds carried in tunnel metadata (0 = not from / not for a tunnel). */
export const ENCAP_NONE = 0;
export const ENCAP_VXLAN = 1;
export const ENCAP_VXLAN_GPE = 2;
export const ENCAP_VXLAN_SOE = 3;
export const ENCAP_GENEVE = 4;
export const ENCAP_GRE = 5;
export const ENCAP_NVGRE = 6;
export const ENCAP_STT = 7;
export const ENCAP_NAMES = [
  'none',
  'vxlan',
  'vxlan-gpe',
  'vxlan-soe',
  'geneve',
  'gre',
  'nvgre',
  'stt',
] as const;

/** What a Packet needs of its pool (an interface, so packet.ts does not import pool.ts). */
export interface PacketOwner {
  free(p: Packet): void;
}

export class Packet {
  /** The slot: a view of the pool's slab (made once, at pool creation). */
  readonly buf: Uint8Array;
  /** The same slot as a DataView (same offsets as buf): header words in one load each (flow key extraction). */
  readonly view: DataView;
  /** Index of the slot in its pool (for free lists and traces). */
  readonly slot: number;
  /** The pool the slot belongs to: whoever ends a packet's life frees it here (`p.owner.free(p)`). */
  readonly owner: PacketOwner | null;
  start: number;
  end: number;
  inPort: number;
  // Header offsets. l2/l3/l4 are the outermost headers; inner* are set by decap or by encap.
  l2: number;
  l3: number;
  l4: number;
  innerL2: number;
  innerL3: number;
  innerL4: number;
  /** 5-tuple hash of the (inner) flow: STT / VXLAN source port, ECMP, cache index. 0 = not computed. */
  flowHash: number;
  // Offload metadata
  flags: number;
  gsoType: number;
  gsoSize: number;
  /** csumStart is absolute in buf; csumOffset is relative to csumStart (as virtio). */
  csumStart: number;
  csumOffset: number;
  // Tunnel metadata: set on decap (rx) or by set_field before a tunnel output (tx).
  tunEncap: number;
  tunIdHi: number; //   STT context is 64 bits; VNI/VSID/GRE key use tunIdLo
  tunIdLo: number;
  tunFlags: number;
  tunTos: number;
  tunTtl: number;
  tunSrcPort: number;
  tunDstPort: number;
  /** 4 for IPv4 (addresses in the first 4 bytes of tunSrc/tunDst), 6 for IPv6, 0 none. */
  tunIpVersion: number;
  /**
   * The tunnel addresses mean something only as tunIpVersion says (the first 4 bytes for 4, all 16 for
   * 6, nothing for 0): reset and clearTunnel zero the version, not these bytes, as OVS's
   * pkt_metadata_init zeroes only tunnel.ip_dst. Every reader tests the version first; whoever sets it
   * writes the addresses. Zeroing the 32 bytes on every alloc was ≈ 10 ns a packet (a third of
   * alloc + free), the cost of a 64-B frame's whole copy.
   */
  readonly tunSrc: Uint8Array;
  readonly tunDst: Uint8Array;
  /**
   * The same 32 bytes as a DataView: an IPv4 tunnel address (tunSrc at 0, tunDst at 16) in one
   * big-endian load or store instead of four byte accesses (decap, flow key extraction).
   */
  readonly tunView: DataView;
  /** Set by `nvo trace`; the hot path only tests it. */
  traced: boolean;

  constructor(buf: Uint8Array, slot: number, headroom: number, owner: PacketOwner | null = null) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.slot = slot;
    this.owner = owner;
    this.start = headroom;
    this.end = headroom;
    this.inPort = 0;
    this.l2 = -1;
    this.l3 = -1;
    this.l4 = -1;
    this.innerL2 = -1;
    this.innerL3 = -1;
    this.innerL4 = -1;
    this.flowHash = 0;
    this.flags = 0;
    this.gsoType = GSO_NONE;
    this.gsoSize = 0;
    this.csumStart = 0;
    this.csumOffset = 0;
    this.tunEncap = ENCAP_NONE;
    this.tunIdHi = 0;
    this.tunIdLo = 0;
    this.tunFlags = 0;
    this.tunTos = 0;
    this.tunTtl = 0;
    this.tunSrcPort = 0;
    this.tunDstPort = 0;
    this.tunIpVersion = 0;
    const tun = new ArrayBuffer(32);
    this.tunSrc = new Uint8Array(tun, 0, 16);
    this.tunDst = new Uint8Array(tun, 16, 16);
    this.tunView = new DataView(tun);
    this.traced = false;
  }

  get length(): number {
    return this.end - this.start;
  }

  get headroom(): number {
    return this.start;
  }

  get tailroom(): number {
    return this.buf.length - this.end;
  }

  /** Makes room for n header bytes in front; returns the new start. Caller checks headroom >= n. */
  prepend(n: number): number {
    this.start -= n;
    return this.start;
  }

  /** Drops n bytes from the front (decap). */
  strip(n: number): void {
    this.start += n;
  }

  /** Appends n bytes at the end; returns the offset where they go. Caller checks tailroom >= n. */
  append(n: number): number {
    const o = this.end;
    this.end += n;
    return o;
  }

  /** Resets every field for reuse, keeping `start` at `headroom` and the data empty. */
  reset(headroom: number): void {
    this.start = headroom;
    this.end = headroom;
    this.inPort = 0;
    this.l2 = -1;
    this.l3 = -1;
    this.l4 = -1;
    this.innerL2 = -1;
    this.innerL3 = -1;
    this.innerL4 = -1;
    this.flowHash = 0;
    this.flags = 0;
    this.gsoType = GSO_NONE;
    this.gsoSize = 0;
    this.csumStart = 0;
    this.csumOffset = 0;
    this.clearTunnel();
    this.traced = false;
  }

  clearTunnel(): void {
    this.tunEncap = ENCAP_NONE;
    this.tunIdHi = 0;
    this.tunIdLo = 0;
    this.tunFlags = 0;
    this.tunTos = 0;
    this.tunTtl = 0;
    this.tunSrcPort = 0;
    this.tunDstPort = 0;
    this.tunIpVersion = 0;
  }

  /** Copies data and metadata from another packet (slow path: cloning for flood / head-end replication). */
  copyFrom(p: Packet): void {
    const len = p.end - p.start;
    const delta = this.start - p.start;
    this.end = this.start + len;
    this.buf.set(p.buf.subarray(p.start, p.end), this.start);
    const move = (x: number) => (x < 0 ? -1 : x + delta);
    this.inPort = p.inPort;
    this.l2 = move(p.l2);
    this.l3 = move(p.l3);
    this.l4 = move(p.l4);
    this.innerL2 = move(p.innerL2);
    this.innerL3 = move(p.innerL3);
    this.innerL4 = move(p.innerL4);
    this.flowHash = p.flowHash;
    this.flags = p.flags;
    this.gsoType = p.gsoType;
    this.gsoSize = p.gsoSize;
    this.csumStart = p.csumStart + delta;
    this.csumOffset = p.csumOffset;
    this.tunEncap = p.tunEncap;
    this.tunIdHi = p.tunIdHi;
    this.tunIdLo = p.tunIdLo;
    this.tunFlags = p.tunFlags;
    this.tunTos = p.tunTos;
    this.tunTtl = p.tunTtl;
    this.tunSrcPort = p.tunSrcPort;
    this.tunDstPort = p.tunDstPort;
    this.tunIpVersion = p.tunIpVersion;
    this.tunSrc.set(p.tunSrc);
    this.tunDst.set(p.tunDst);
    this.traced = p.traced;
  }

  /** The data as a fresh copy (tests, pcap writers). */
  bytes(): Uint8Array {
    return this.buf.slice(this.start, this.end);
  }
}
