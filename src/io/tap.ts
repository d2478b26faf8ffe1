// TAP port: /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (encapsulations.md §10). With the
// vnet header each read/write carries a virtio_net_hdr, so the kernel hands us TSO superframes with
// partial checksums and accepts them back: a C TAP↔TAP forwarder went 2.7 → 19.3 Gbit/s on this
// machine with it (performance.md §6.1). TUNSETOFFLOAD says what the kernel may *send us*; we may
// always write GSO / NEEDS_CSUM frames.
//
// The device is created in `netns` when given (the fd keeps working when the device is later moved
// with `ip link set … netns`). It disappears when the fd is closed, unless made persistent elsewhere.
import { type Pool, SUPER_SLOT } from '../packet/pool.ts';
import {
  KIND_TAP,
  requireNative,
  TUN_F_CSUM,
  TUN_F_TSO_ECN,
  TUN_F_TSO4,
  TUN_F_TSO6,
  TUN_F_USO4,
  TUN_F_USO6,
  VNET_HDR_LEN,
} from './native.ts';
import { NativePort, type NativePortOptions } from './native-port.ts';

export const TAP_DEFAULT_OFFLOADS =
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6;

export interface TapOptions extends NativePortOptions {
  /** Device name ('' or a pattern like 'nvo%d' lets the kernel choose). */
  name: string;
  /** Rx pool; use SUPER_SLOT slots when offloads let the kernel send superframes. */
  pool: Pool;
  /** virtio_net_hdr on every frame (default true). */
  vnetHdr?: boolean;
  /** TUN_F_* the kernel may send us (default TAP_DEFAULT_OFFLOADS; USO dropped if the kernel lacks it). */
  offloads?: number;
  /** /run/netns/NAME (or any netns file) to create the device in. */
  netns?: string;
}

export class TapPort extends NativePort {
  /** TUN_F_* the kernel accepted. */
  readonly offloads: number;

  constructor(o: TapOptions) {
    const native = requireNative('TAP');
    const vnet = o.vnetHdr ?? true;
    const want = vnet ? (o.offloads ?? TAP_DEFAULT_OFFLOADS) : 0;
    const t = native.tapOpen(o.name, vnet ? VNET_HDR_LEN : 0, want, o.netns ?? null);
    const superOk = vnet && (t.offloads & (TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6)) !== 0;
    super(
      native,
      t.fd,
      KIND_TAP,
      vnet ? VNET_HDR_LEN : 0,
      t.name,
      'tap',
      {
        l2: true,
        rxOffloadMeta: vnet,
        rxSuperframes: superOk,
        txCsumPartial: vnet,
        txTso: vnet,
        txUso: vnet,
        maxRxLen: superOk ? SUPER_SLOT : 65535,
      },
      o.pool,
      o,
    );
    this.offloads = t.offloads;
  }
}
