// Per-destination transmitters for the encapsulations that are more than a header template: STT's
// segmenter (outer headers + frame ids per remote) and VXLAN-SOE's transmitter (outer headers + VNI).
// Made on first use; all dropped when a neighbour MAC changes (the outer Ethernet header is in them).
import { SoeTransmitter } from '../offload/soe-tx.ts';
import { SttSegmenter } from '../offload/stt-segment.ts';
import { Batch } from '../packet/batch.ts';
import type { TunnelPort } from '../tunnel/tunnel-port.ts';
import type { Switch } from './switch.ts';

export class TunnelTransmitters {
  private readonly sw: Switch;
  private readonly sttTx = new Map<string, SttSegmenter>();
  private readonly soeTx = new Map<string, SoeTransmitter>();
  private generation = 0;

  constructor(sw: Switch) {
    this.sw = sw;
  }

  private key(t: TunnelPort, remote: Uint8Array, extra: number): string {
    if (this.generation !== this.sw.neighbours.generation) {
      this.sttTx.clear();
      this.soeTx.clear();
      this.generation = this.sw.neighbours.generation;
    }
    return `${t.name}|${remote.subarray(0, t.ipVersion === 4 ? 4 : 16).join('.')}|${extra}`;
  }

  stt(t: TunnelPort, remote: Uint8Array, mac: Uint8Array): SttSegmenter {
    const key = this.key(t, remote, 0);
    let s = this.sttTx.get(key);
    if (!s) {
      const l2 = new Uint8Array(14);
      l2.set(mac.subarray(0, 6), 0);
      l2.set(this.sw.underlayMac, 6);
      l2[12] = t.ipVersion === 4 ? 0x08 : 0x86;
      l2[13] = t.ipVersion === 4 ? 0x00 : 0xdd;
      const n = t.ipVersion === 4 ? 4 : 16;
      s = new SttSegmenter({
        l2,
        ipVersion: t.ipVersion === 4 ? 4 : 6,
        src: t.local.slice(0, n),
        dst: remote.slice(0, n),
        ttl: t.ttl < 0 ? 64 : t.ttl,
        tos: Math.max(t.tos, 0),
        df: t.df !== 'clear',
        dstPort: t.dstPort || 7471,
      });
      this.sttTx.set(key, s);
    }
    return s;
  }

  soe(t: TunnelPort, remote: Uint8Array, vni: number, mac: Uint8Array): SoeTransmitter {
    const key = this.key(t, remote, vni);
    let s = this.soeTx.get(key);
    if (!s) {
      const l2 = new Uint8Array(14);
      l2.set(mac.subarray(0, 6), 0);
      l2.set(this.sw.underlayMac, 6);
      l2[12] = 0x08;
      s = new SoeTransmitter(
        {
          l2,
          src: t.local.slice(0, 4),
          dst: remote.slice(0, 4),
          ttl: t.ttl < 0 ? 64 : t.ttl,
          tos: Math.max(t.tos, 0),
          vni: vni & 0xffffff,
          dstPort: t.dstPort || 4789,
          udpCsum: t.csum,
        },
        this.sw.pool,
        this.sw.gso,
        new Batch(256),
      );
      this.soeTx.set(key, s);
    }
    return s;
  }
}
