// The USO transmit path as nvo had it before offload/uso-pack.ts (kept as a reference for tests and
// bench/offload/uso-pack.ts): the guest superframe is first cut into pool packets by the software
// segmenter (gso.ts), then each segment is copied behind a copy of the tunnel header into a
// superframe slot — two copies of every payload byte and a pool packet per segment.
import { GSO_DROPPED, GSO_PASSED, type Segmenter } from '../../src/offload/gso.ts';
import type { Batch } from '../../src/packet/batch.ts';
import type { Packet } from '../../src/packet/packet.ts';
import type { Pool } from '../../src/packet/pool.ts';

/**
 * Cuts src (gso fields set, MSS already lowered) with `gso` into `segs`, then packs groups of `per`
 * chunks [prefix + segment] into superPool slots starting `front` bytes in; returns those slots
 * (src is freed when cut). Null when the segmenter dropped src.
 */
export function oldUsoPack(
  gso: Segmenter,
  src: Packet,
  segs: Batch,
  prefix: Uint8Array,
  superPool: Pool,
  front: number,
  per: number,
): Packet[] | null {
  segs.clear();
  const n = gso.segment(src, segs);
  if (n === GSO_DROPPED) return null;
  if (n === GSO_PASSED) segs.push(src);
  else src.owner?.free(src);
  const out: Packet[] = [];
  for (let from = 0; from < segs.count; from += per) {
    const to = Math.min(segs.count, from + per);
    const q = superPool.alloc()!;
    q.start += front;
    let at = q.start;
    for (let i = from; i < to; i++) {
      const s = segs.packets[i]!;
      q.buf.set(prefix, at);
      at += prefix.length;
      q.buf.set(s.buf.subarray(s.start, s.end), at);
      at += s.end - s.start;
      s.owner?.free(s);
    }
    q.end = at;
    out.push(q);
  }
  segs.clear();
  return out;
}
