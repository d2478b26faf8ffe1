// One writer interface over pcap and pcapng, chosen by the output file name: `.pcapng` / `.ntar`
// (Wireshark's names for the format) give pcapng, anything else classic pcap. pcapng adds one
// interface per link type on first use; classic pcap holds one link type, so a frame of another link
// type is refused (returns false) and the caller counts it.
import { LINKTYPE_ETHERNET } from './capture-record.ts';
import { PcapWriter } from './pcap-writer.ts';
import { PcapngWriter } from './pcapng-writer.ts';

export interface CaptureWriter {
  readonly format: 'pcap' | 'pcapng';
  /** Writes data[o, end); false if this file cannot hold that link type. */
  write(
    linktype: number,
    data: Uint8Array,
    o: number,
    end: number,
    sec: number,
    nsec: number,
  ): Promise<boolean>;
  close(): Promise<void>;
}

export function formatForPath(path: string): 'pcap' | 'pcapng' {
  return /\.(pcapng|ntar)$/i.test(path) ? 'pcapng' : 'pcap';
}

export async function createCaptureWriter(
  path: string,
  opts: { linktype: number; nanosecond: boolean; format?: 'pcap' | 'pcapng' },
): Promise<CaptureWriter> {
  const format = opts.format ?? formatForPath(path);
  if (format === 'pcap') {
    const w = await PcapWriter.createFile(path, { linktype: opts.linktype, nanosecond: opts.nanosecond });
    return {
      format,
      async write(linktype, data, o, end, sec, nsec) {
        if (linktype !== w.linktype) return false;
        await w.write(data, sec, nsec, end - o, o, end);
        return true;
      },
      close: () => w.close(),
    };
  }
  const w = await PcapngWriter.createFile(path, { nanosecond: opts.nanosecond });
  const ifaces = new Map<number, number>();
  return {
    format,
    async write(linktype, data, o, end, sec, nsec) {
      let id = ifaces.get(linktype);
      if (id === undefined) {
        id = await w.addInterface(linktype);
        ifaces.set(linktype, id);
      }
      await w.write(id, data, sec, nsec, end - o, o, end);
      return true;
    },
    close: () => w.close(),
  };
}

/**
 * An Ethernet capture writer matched to what a reader is reading: nanosecond timestamps if any of its
 * interfaces has them. Called at the first record, when a pcapng reader knows its interfaces.
 */
export function createWriterLike(
  reader: { interfaces: readonly { unitsPerSec: number }[] },
  path: string,
): Promise<CaptureWriter> {
  const nanosecond = reader.interfaces.some((i) => i.unitsPerSec > 1e6);
  return createCaptureWriter(path, { linktype: LINKTYPE_ETHERNET, nanosecond });
}
