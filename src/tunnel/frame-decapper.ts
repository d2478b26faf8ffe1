// decapFrame plus the reassembly a tunnel endpoint does before it can look inside (DESIGN.md: "IP
// reassembly / STT reassembly (bounded)"), using the offload engine's reassemblers:
//
//   outer IPv4 fragment   → offload/ipv4-reassemble.ts   (key src, dst, proto, id; RFC 791/5722 rules)
//   outer IPv6 fragment   → offload/ipv6-reassemble.ts   (atomic fragments unwrapped in place, RFC 6946)
//   STT segment           → offload/stt-reassemble.ts    (key src, dst, ACK; as OVS)
//
// and a reassembled IP datagram may itself be an STT segment (both steps run). Time is the capture's
// own (record timestamps in ms), so reassembly timeouts follow the traffic, not the wall clock.
// Results: R.OK with the inner frame at [d.inner, d.innerEnd) of `buf` (valid until the next call),
// R.HELD when the frame was taken into a reassembly in progress, or a drop reason; for a reassembler's
// own drop (overlap, duplicate, bad tail…) R.REASSEMBLY_DROP with its counter name in `dropName`.
// Memory is bounded by the reassemblers' shared cap (default 4 MiB) and one scratch frame.
import * as v4 from '../offload/ipv4-reassemble.ts';
import * as v6 from '../offload/ipv6-reassemble.ts';
import { ReassemblyMemory } from '../offload/reassembly-limits.ts';
import * as stt from '../offload/stt-reassemble.ts';
import { CSUM_VALID, Packet } from '../packet/packet.ts';
import { MAX_PACKET } from '../packet/pool.ts';
import { BAD_LENGTH } from '../wire/status.ts';
import { type Decap, decapFrame, sttFrame } from './decap-frame.ts';
import * as R from './decap-reasons.ts';
import type { DetectOptions } from './detect.ts';

export class FrameDecapper {
  readonly opts: DetectOptions;
  private readonly memory = new ReassemblyMemory(4 * 1024 * 1024);
  readonly ipv4 = new v4.Ipv4Reassembler({}, this.memory);
  readonly ipv6 = new v6.Ipv6Reassembler({}, this.memory);
  readonly stt = new stt.SttReassembler({}, this.memory);
  /** One frame copied in for the reassemblers (they take Packets); 256 B of headroom spare. */
  private readonly scratch = new Packet(new Uint8Array(MAX_PACKET + 256), 0, 0);
  private readonly held: Packet[] = [];
  /** The buffer the last R.OK result points into. */
  buf: Uint8Array = this.scratch.buf;
  /** Counter name of the last R.REASSEMBLY_DROP (e.g. ipv4-frag-overlap). */
  dropName = '';

  constructor(opts: DetectOptions) {
    this.opts = opts;
  }

  /** Frames held in reassemblies still incomplete (counted at end of input as lost). */
  get inProgress(): number {
    return this.ipv4.inProgress + this.ipv6.inProgress + this.stt.inProgress;
  }

  decap(b: Uint8Array, o: number, end: number, linktype: number, nowMs: number, d: Decap): number {
    this.releaseHeld();
    this.buf = b;
    let r = decapFrame(b, o, end, linktype, this.opts, d);
    if (r !== R.OUTER_FRAGMENT && r !== R.STT_SEGMENT) return r;
    if (end - o > this.scratch.buf.length)
      return R.layerReason(d.ipVersion === 6 ? R.L_IPV6 : R.L_IPV4, BAD_LENGTH);
    const p = this.scratch;
    p.reset(0);
    p.buf.set(b.subarray(o, end), 0);
    p.start = 0;
    p.end = end - o;
    p.l2 = 0;
    p.l3 = d.l3 - o;
    if (!this.opts.verifyChecksums) p.flags |= CSUM_VALID;
    let pkt = p;
    if (r === R.OUTER_FRAGMENT) {
      const re = d.ipVersion === 6 ? this.ipv6 : this.ipv4;
      const res = re.process(p, nowMs);
      if (res === v4.HELD) return R.HELD;
      if (res === v4.DROP) return this.reasmDrop(re.counters.names[re.lastDrop]!);
      if (res === v4.DONE) {
        pkt = re.out!;
        this.held.push(pkt);
      }
      // PASS: an atomic IPv6 fragment, unwrapped in place in the scratch packet.
      this.buf = pkt.buf;
      r = decapFrame(pkt.buf, pkt.start, pkt.end, linktype, this.opts, d);
      if (r !== R.STT_SEGMENT) return r;
      pkt.l3 = d.l3;
    }
    if (!this.opts.verifyChecksums) pkt.flags |= CSUM_VALID;
    const res = this.stt.process(pkt, nowMs);
    if (res === stt.HELD) return R.HELD;
    if (res === stt.DROP) return this.reasmDrop(this.stt.counters.names[this.stt.lastDrop]!);
    const f = this.stt.out!;
    if (res === stt.DONE) this.held.push(f);
    this.buf = f.buf;
    return sttFrame(f.buf, f.start, f.end, d);
  }

  private reasmDrop(counter: string): number {
    this.dropName = counter.replace(/^drop-/, '');
    return R.REASSEMBLY_DROP;
  }

  /** Gives completed reassembly buffers back (called at the next decap and at the end). */
  releaseHeld(): void {
    for (const p of this.held) this.memory.release(p);
    this.held.length = 0;
  }
}
