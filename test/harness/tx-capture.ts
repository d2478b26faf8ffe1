// A port sink for tests: records what the switch transmits on a port (bytes and the offload metadata
// a back end would see), and takes every packet, as a NIC with room would.
import type { PortSink } from '../../src/datapath/port.ts';
import type { Batch } from '../../src/packet/batch.ts';

export interface Sent {
  bytes: Uint8Array;
  gsoType: number;
  gsoSize: number;
  flags: number;
  /** Relative to the frame's start. */
  csumStart: number;
  csumOffset: number;
  /** The socket underlay's destination (dotted IPv4) and UDP port. */
  tunDst: string;
  tunDstPort: number;
}

export class TxCapture implements PortSink {
  readonly sent: Sent[] = [];
  txBurst(b: Batch, from = 0): number {
    for (let i = from; i < b.count; i++) {
      const p = b.packets[i]!;
      this.sent.push({
        bytes: p.bytes(),
        gsoType: p.gsoType,
        gsoSize: p.gsoSize,
        flags: p.flags,
        csumStart: p.csumStart - p.start,
        csumOffset: p.csumOffset,
        tunDst: [...p.tunDst.subarray(0, 4)].join('.'),
        tunDstPort: p.tunDstPort,
      });
    }
    return b.count - from;
  }
}
