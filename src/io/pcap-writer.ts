// Classic libpcap writer (layout in pcap-reader.ts): µs (a1b2c3d4) or ns (a1b23c4d) magic, either byte
// order (default little-endian, what tcpdump writes on x86), version 2.4, one link type per file.
// Frames longer than the snap length are cut, with orig_len keeping the wire length.
import { setU16, setU16le, setU32, setU32le } from '../wire/bytes.ts';
import { type ByteSink, FileSink } from './capture-sink.ts';
import { MAX_PACKET } from './capture-source.ts';
import { FILE_HEADER_LEN, MAGIC_NS, MAGIC_US, RECORD_HEADER_LEN } from './pcap-reader.ts';

export interface PcapWriterOptions {
  linktype: number;
  nanosecond?: boolean;
  bigEndian?: boolean;
  /** Default 262144 (MAX_PACKET), as tcpdump and Wireshark write. */
  snaplen?: number;
}

export class PcapWriter {
  readonly linktype: number;
  readonly nanosecond: boolean;
  readonly snaplen: number;
  private readonly sink: ByteSink;
  private readonly w16: (b: Uint8Array, o: number, v: number) => void;
  private readonly w32: (b: Uint8Array, o: number, v: number) => void;
  records = 0;

  private constructor(sink: ByteSink, opts: PcapWriterOptions) {
    this.sink = sink;
    this.linktype = opts.linktype;
    this.nanosecond = opts.nanosecond ?? false;
    this.snaplen = Math.min(opts.snaplen ?? MAX_PACKET, MAX_PACKET);
    this.w16 = opts.bigEndian ? setU16 : setU16le;
    this.w32 = opts.bigEndian ? setU32 : setU32le;
  }

  static async create(sink: ByteSink, opts: PcapWriterOptions): Promise<PcapWriter> {
    const w = new PcapWriter(sink, opts);
    const o = await sink.reserve(FILE_HEADER_LEN);
    const b = sink.buf;
    w.w32(b, o, w.nanosecond ? MAGIC_NS : MAGIC_US);
    w.w16(b, o + 4, 2);
    w.w16(b, o + 6, 4);
    w.w32(b, o + 8, 0); //  thiszone: timestamps are UTC
    w.w32(b, o + 12, 0); // sigfigs
    w.w32(b, o + 16, w.snaplen);
    w.w32(b, o + 20, w.linktype);
    return w;
  }

  static async createFile(path: string, opts: PcapWriterOptions): Promise<PcapWriter> {
    return PcapWriter.create(await FileSink.create(path), opts);
  }

  /** Writes data[o, end) as one record; origLen defaults to its length. */
  async write(
    data: Uint8Array,
    sec: number,
    nsec: number,
    origLen = data.length,
    o = 0,
    end = data.length,
  ): Promise<void> {
    const cap = Math.min(end - o, this.snaplen);
    const at = await this.sink.reserve(RECORD_HEADER_LEN + cap);
    const b = this.sink.buf;
    this.w32(b, at, sec);
    this.w32(b, at + 4, this.nanosecond ? nsec : Math.floor(nsec / 1000));
    this.w32(b, at + 8, cap);
    this.w32(b, at + 12, Math.max(origLen, cap));
    b.set(data.subarray(o, o + cap), at + RECORD_HEADER_LEN);
    this.records++;
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
