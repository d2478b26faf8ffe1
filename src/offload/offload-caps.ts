// What an output port can finish itself, as data (smoltcp-style caps; code-style-anchors.md "Offloads
// and software fallbacks"), and the completion step in front of its tx: whatever the port cannot do is
// done here in software — segment superframes it cannot take, finish checksums it cannot finish.
//
// The field names match src/io/io-backend.ts IoCaps (an IoCaps is a TxOffloadCaps), so a port's caps
// are passed straight in; offload sits below io and does not import it.
//
//   const tx = new TxCompletion(port.caps, segPool);
//   for (…p of batch) tx.complete(p, out);   // p itself, or its segments, end up on out (or a counted drop)
import type { Batch } from '../packet/batch.ts';
import {
  GSO_ECN,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP_L4,
  NEEDS_CSUM,
  type Packet,
  SUPERFRAME,
} from '../packet/packet.ts';
import type { Pool } from '../packet/pool.ts';
import { OK } from '../wire/status.ts';
import { completeCsum } from './csum-complete.ts';
import { GSO_DROPPED, GSO_PASSED, Segmenter } from './gso.ts';
import { DROP_BAD_CSUM_OFFSETS, DROP_BATCH_FULL } from './gso-reasons.ts';
import { GSO_UDP_TUNNEL } from './tunnel-gso.ts';

export interface TxOffloadCaps {
  /** Port finishes NEEDS_CSUM checksums (TUN_F_CSUM, NETIF_F_HW_CSUM, vnet NEEDS_CSUM on tx). */
  readonly txCsumPartial: boolean;
  /** Port takes TCPV4/TCPV6 superframes. */
  readonly txTso: boolean;
  /** Port takes UDP_L4 superframes. */
  readonly txUso: boolean;
  /** Port takes UDP-tunnel superframes (virtio gso_type | 0x20 / 0x40; 2025 kernels). Default false. */
  readonly txUdpTunnelGso?: boolean;
}

export const NO_TX_OFFLOADS: TxOffloadCaps = { txCsumPartial: false, txTso: false, txUso: false };

/** True when the port can send p exactly as it is. */
export function portTakes(p: Packet, caps: TxOffloadCaps): boolean {
  if ((p.flags & NEEDS_CSUM) !== 0 && !caps.txCsumPartial) return false;
  if ((p.flags & SUPERFRAME) === 0 && p.gsoType === GSO_NONE) return true;
  if ((p.gsoType & GSO_UDP_TUNNEL) !== 0 && caps.txUdpTunnelGso !== true) return false;
  const base = p.gsoType & ~(GSO_ECN | GSO_UDP_TUNNEL);
  if (base === GSO_TCPV4 || base === GSO_TCPV6) return caps.txTso;
  if (base === GSO_UDP_L4) return caps.txUso;
  return false;
}

export class TxCompletion {
  readonly caps: TxOffloadCaps;
  readonly gso: Segmenter;

  constructor(caps: TxOffloadCaps, pool: Pool, maxSegments?: number) {
    this.caps = caps;
    this.gso = new Segmenter({ pool, partial: caps.txCsumPartial, maxSegments });
  }

  /**
   * Takes ownership of p: puts p itself (when the port takes it) or its segments on out, and frees p
   * to its pool (p.owner) when it was segmented or dropped. Returns the number of packets pushed
   * (0: a counted drop in gso.counters).
   */
  complete(p: Packet, out: Batch): number {
    if (portTakes(p, this.caps)) return this.pushSelf(p, out);
    if ((p.flags & SUPERFRAME) === 0 && p.gsoType === GSO_NONE) {
      // Only a checksum to finish.
      if (completeCsum(p) !== OK) return this.drop(p, DROP_BAD_CSUM_OFFSETS);
      return this.pushSelf(p, out);
    }
    const r = this.gso.segment(p, out);
    if (r === GSO_PASSED) return this.pushSelf(p, out);
    p.owner?.free(p);
    return r === GSO_DROPPED ? 0 : r;
  }

  private pushSelf(p: Packet, out: Batch): number {
    if (out.push(p)) return 1;
    return this.drop(p, DROP_BATCH_FULL);
  }

  private drop(p: Packet, reason: number): number {
    this.gso.counters.v[reason]!++;
    p.owner?.free(p);
    return 0;
  }
}
