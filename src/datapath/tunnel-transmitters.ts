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
  // The last transmitter of each kind and what it was made for: a stream of superframes to one remote
  // finds it without building the Map's string key (a subarray, a join and a string per superframe
  // were ~20 % of nvo's CPU in page faults of V8's young generation under STT iperf).
  private readonly lastStt = new LastHit<SttSegmenter>();
  private readonly lastSoe = new LastHit<SoeTransmitter>();

  constructor(sw: Switch) {
    this.sw = sw;
  }

  private key(t: TunnelPort, remote: Uint8Array, extra: number): string {
    return `${t.name}|${remote.subarray(0, t.ipVersion === 4 ? 4 : 16).join('.')}|${extra}`;
  }

  /** Drops every transmitter when a neighbour changed (their outer Ethernet headers may be stale). */
  private revalidate(): void {
    if (this.generation === this.sw.neighbours.generation) return;
    this.sttTx.clear();
    this.soeTx.clear();
    this.lastStt.clear();
    this.lastSoe.clear();
    this.generation = this.sw.neighbours.generation;
  }

  stt(t: TunnelPort, remote: Uint8Array, mac: Uint8Array): SttSegmenter {
    this.revalidate();
    const hit = this.lastStt.get(t, remote, 0);
    if (hit !== null) return hit;
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
    this.lastStt.set(t, remote, 0, s);
    return s;
  }

  soe(t: TunnelPort, remote: Uint8Array, vni: number, mac: Uint8Array): SoeTransmitter {
    this.revalidate();
    const hit = this.lastSoe.get(t, remote, vni);
    if (hit !== null) return hit;
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
    this.lastSoe.set(t, remote, vni, s);
    return s;
  }
}

/** One remembered (tunnel, remote address, extra) → value; the address is copied, not referenced. */
class LastHit<T> {
  private t: TunnelPort | null = null;
  private readonly remote = new Uint8Array(16);
  private extra = 0;
  private value: T | null = null;

  get(t: TunnelPort, remote: Uint8Array, extra: number): T | null {
    if (t !== this.t || extra !== this.extra) return null;
    const n = t.ipVersion === 4 ? 4 : 16;
    for (let i = 0; i < n; i++) if (remote[i] !== this.remote[i]) return null;
    return this.value;
  }

  set(t: TunnelPort, remote: Uint8Array, extra: number, value: T): void {
    this.t = t;
    this.remote.set(remote.subarray(0, t.ipVersion === 4 ? 4 : 16));
    this.extra = extra;
    this.value = value;
  }

  clear(): void {
    this.t = null;
    this.value = null;
  }
}
