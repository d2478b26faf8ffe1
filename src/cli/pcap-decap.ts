// `nvo pcap decap IN OUT`: every frame of IN whose encapsulation is recognised (tunnel/detect.ts) is
// written to OUT as its inner frame, with its original timestamp; every other frame is counted under a
// named drop reason. Inner bare IP packets (VXLAN-GPE NP 1/2, Geneve / GRE with an IP protocol type)
// get an Ethernet header 00:00:00:00:00:00 > 00:00:00:00:00:00 with the IPv4/IPv6 EtherType, written
// in place over the outer headers (there are always ≥ 14 outer bytes in front), so OUT has one link
// type, Ethernet, as a pcap must.

import { openCapture } from '../io/capture-reader.ts';
import { LINKTYPE_ETHERNET } from '../io/capture-record.ts';
import { type CaptureWriter, createWriterLike } from '../io/capture-writer.ts';
import { ENCAP_NAMES } from '../packet/packet.ts';
import { newDecap } from '../tunnel/decap-frame.ts';
import * as R from '../tunnel/decap-reasons.ts';
import { FrameDecapper } from '../tunnel/frame-decapper.ts';
import { setU16 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';

export interface DecapOptions {
  verifyChecksums: boolean;
}

export interface PcapSummary {
  in: number;
  out: number;
  /** decap: frames taken into an IP/STT reassembly (they come out with the frame that completes it). */
  held?: number;
  /** decap: reassemblies still incomplete at the end of the input (their held frames are lost). */
  incomplete?: number;
  byEncap: Record<string, number>;
  drops: Record<string, number>;
}

export async function runDecap(inPath: string, outPath: string, opts: DecapOptions): Promise<PcapSummary> {
  const reader = await openCapture(inPath);
  const d = newDecap();
  const dec = new FrameDecapper(opts);
  const reasmDrops: Record<string, number> = {};
  let held = 0;
  const byEncap = new Uint32Array(ENCAP_NAMES.length);
  const drops = new Uint32Array(R.REASON_COUNT);
  let nIn = 0;
  let nOut = 0;
  let writer: CaptureWriter | undefined;
  try {
    for (let rec = await reader.next(); rec; rec = await reader.next()) {
      nIn++;
      // Opened at the first record: a pcapng reader knows its interfaces (and timestamp units) by then.
      const w = (writer ??= await createWriterLike(reader, outPath));
      const b = rec.data;
      if (b.length < rec.origLen) {
        drops[R.SNAPLEN_CUT]!++;
        continue;
      }
      const r = dec.decap(b, 0, b.length, rec.linktype, rec.sec * 1000 + rec.nsec / 1e6, d);
      if (r !== R.OK) {
        if (r === R.HELD) held++;
        else if (r === R.REASSEMBLY_DROP) reasmDrops[dec.dropName] = (reasmDrops[dec.dropName] ?? 0) + 1;
        else drops[r]!++;
        continue;
      }
      const ob = dec.buf;
      let start = d.inner;
      if (d.innerType !== etherType.TEB) {
        start -= 14;
        ob.fill(0, start, start + 12);
        setU16(ob, start + 12, d.innerType);
      }
      await w.write(LINKTYPE_ETHERNET, ob, start, d.innerEnd, rec.sec, rec.nsec);
      byEncap[d.encap]!++;
      nOut++;
    }
    await (writer ?? (await createWriterLike(reader, outPath))).close();
    writer = undefined;
  } finally {
    await writer?.close();
    await reader.close();
  }
  dec.releaseHeld();
  return {
    in: nIn,
    out: nOut,
    held,
    incomplete: dec.inProgress,
    byEncap: countsByName(byEncap, (i) => ENCAP_NAMES[i]!),
    drops: { ...countsByName(drops, R.reasonName), ...reasmDrops },
  };
}

export function countsByName(counts: Uint32Array, name: (i: number) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < counts.length; i++) if (counts[i]) out[name(i)] = counts[i]!;
  return out;
}

export function formatSummary(s: PcapSummary): string {
  const dropped = Object.values(s.drops).reduce((a, b) => a + b, 0);
  let head = `frames in ${s.in}, out ${s.out}, dropped ${dropped}`;
  if (s.held) head += `, held for reassembly ${s.held} (${s.incomplete ?? 0} incomplete at the end)`;
  const lines = [head];
  for (const [k, v] of Object.entries(s.byEncap)) lines.push(`  ${k.padEnd(32)} ${v}`);
  if (Object.keys(s.drops).length) lines.push('drops:');
  for (const [k, v] of Object.entries(s.drops)) lines.push(`  ${k.padEnd(32)} ${v}`);
  return `${lines.join('\n')}\n`;
}
