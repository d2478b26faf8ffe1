// pcapng writer (layout in pcapng-reader.ts): one section (SHB with shb_userappl "nvo"), one IDB per
// interface (if_name when given, if_tsresol 9 = ns or 6 = µs), then one EPB per frame. Any link type per
// interface, so frames of different link types can share a file. Byte order: little-endian unless asked.
import { setU16, setU16le, setU32, setU32le } from '../wire/bytes.ts';
import { type ByteSink, FileSink } from './capture-sink.ts';
import { MAX_PACKET } from './capture-source.ts';
import { BYTE_ORDER_MAGIC, EPB, IDB, OPT_IF_TSRESOL, SHB } from './pcapng-reader.ts';

const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const USERAPPL = new TextEncoder().encode('nvo');

export interface PcapngWriterOptions {
  bigEndian?: boolean;
  /** Timestamp resolution of the interfaces: ns (default) or µs. */
  nanosecond?: boolean;
}

const pad4 = (n: number) => (n + 3) & ~3;

export class PcapngWriter {
  readonly nanosecond: boolean;
  private readonly sink: ByteSink;
  private readonly w16: (b: Uint8Array, o: number, v: number) => void;
  private readonly w32: (b: Uint8Array, o: number, v: number) => void;
  private readonly snaplens: number[] = [];
  records = 0;

  private constructor(sink: ByteSink, opts: PcapngWriterOptions) {
    this.sink = sink;
    this.nanosecond = opts.nanosecond ?? true;
    this.w16 = opts.bigEndian ? setU16 : setU16le;
    this.w32 = opts.bigEndian ? setU32 : setU32le;
  }

  static async create(sink: ByteSink, opts: PcapngWriterOptions = {}): Promise<PcapngWriter> {
    const w = new PcapngWriter(sink, opts);
    // SHB: 28 bytes of framing/fields + shb_userappl (4 + pad4(3)) + opt_endofopt (4)
    const len = 28 + 4 + pad4(USERAPPL.length) + 4;
    const o = await sink.reserve(len);
    const b = sink.buf;
    b.fill(0, o, o + len);
    w.w32(b, o, SHB);
    w.w32(b, o + 4, len);
    w.w32(b, o + 8, BYTE_ORDER_MAGIC);
    w.w16(b, o + 12, 1);
    w.w16(b, o + 14, 0);
    w.w32(b, o + 16, 0xffffffff); // section length -1: not known while streaming
    w.w32(b, o + 20, 0xffffffff);
    w.w16(b, o + 24, OPT_SHB_USERAPPL);
    w.w16(b, o + 26, USERAPPL.length);
    b.set(USERAPPL, o + 28);
    w.w32(b, o + len - 4, len);
    return w;
  }

  static async createFile(path: string, opts: PcapngWriterOptions = {}): Promise<PcapngWriter> {
    return PcapngWriter.create(await FileSink.create(path), opts);
  }

  /** Adds an interface (IDB) and returns its number for write(). */
  async addInterface(linktype: number, opts: { snaplen?: number; name?: string } = {}): Promise<number> {
    const snaplen = Math.min(opts.snaplen ?? MAX_PACKET, MAX_PACKET);
    const name = opts.name ? new TextEncoder().encode(opts.name) : undefined;
    // 16 fixed + if_tsresol (4 + 4) + if_name (4 + pad) + opt_endofopt (4) + trailing length (4)
    const len = 16 + 8 + (name ? 4 + pad4(name.length) : 0) + 4 + 4;
    const o = await this.sink.reserve(len);
    const b = this.sink.buf;
    b.fill(0, o, o + len);
    this.w32(b, o, IDB);
    this.w32(b, o + 4, len);
    this.w16(b, o + 8, linktype);
    this.w32(b, o + 12, snaplen);
    let p = o + 16;
    this.w16(b, p, OPT_IF_TSRESOL);
    this.w16(b, p + 2, 1);
    b[p + 4] = this.nanosecond ? 9 : 6;
    p += 8;
    if (name) {
      this.w16(b, p, OPT_IF_NAME);
      this.w16(b, p + 2, name.length);
      b.set(name, p + 4);
      p += 4 + pad4(name.length);
    }
    this.w32(b, o + len - 4, len);
    this.snaplens.push(snaplen);
    return this.snaplens.length - 1;
  }

  /** Writes data[o, end) as an EPB on interface `ifIndex`. */
  async write(
    ifIndex: number,
    data: Uint8Array,
    sec: number,
    nsec: number,
    origLen = data.length,
    o = 0,
    end = data.length,
  ): Promise<void> {
    const snaplen = this.snaplens[ifIndex];
    if (snaplen === undefined) throw new Error(`pcapng: no interface ${ifIndex}`);
    const cap = Math.min(end - o, snaplen);
    const len = 32 + pad4(cap);
    const at = await this.sink.reserve(len);
    const b = this.sink.buf;
    // Units since 1970 at the interface resolution; ns timestamps pass 2^53, hence bigint.
    const t = this.nanosecond
      ? BigInt(sec) * 1_000_000_000n + BigInt(nsec)
      : BigInt(sec) * 1_000_000n + BigInt(Math.floor(nsec / 1000));
    this.w32(b, at, EPB);
    this.w32(b, at + 4, len);
    this.w32(b, at + 8, ifIndex);
    this.w32(b, at + 12, Number(t >> 32n));
    this.w32(b, at + 16, Number(t & 0xffffffffn));
    this.w32(b, at + 20, cap);
    this.w32(b, at + 24, Math.max(origLen, cap));
    b.set(data.subarray(o, o + cap), at + 28);
    b.fill(0, at + 28 + cap, at + len - 4);
    this.w32(b, at + len - 4, len);
    this.records++;
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
