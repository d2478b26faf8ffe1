// pcapng reader (draft-ietf-opsawg-pcapng; pcapng.com). A file is a run of blocks:
//
//    0  block type (32)            SHB 0x0a0d0d0a | IDB 1 | obsolete PB 2 | SPB 3 | EPB 6 | others skipped
//    4  block total length (32)    whole block incl. these 12 framing bytes; multiple of 4
//    8  body ...
//   -4  block total length again
//
//   SHB body:  8 byte-order magic 1a2b3c4d (read big-endian; 4d3c2b1a = little-endian section)
//             12 major (1) | 14 minor | 16 section length (64, -1 = unknown) | 24 options
//   IDB body:  8 linktype (16) | 10 reserved | 12 snaplen | 16 options (if_tsresol 9, if_tsoffset 14)
//   EPB body:  8 interface id | 12 ts high | 16 ts low | 20 captured len | 24 original len | 28 data…
//   SPB body:  8 original len | 12 data… (interface 0, no timestamp; captured = min(orig, snaplen, room))
//   PB (obsolete, type 2): 8 interface id (16) | 10 drops (16) | then as EPB from offset 12
//
//   option: code (16) | length (16) | value padded to 4 | … | opt_endofopt (0, 0)
//
// Each SHB starts a section with its own byte order and its own interface numbering. Unknown block
// types are skipped by their length without reading them in (only the trailing length is checked).
import { u16, u16le, u32, u32le } from '../wire/bytes.ts';
import {
  type CaptureInterface,
  type CaptureReader,
  type CaptureRecord,
  newRecord,
} from './capture-record.ts';
import { type ByteSource, MAX_RECORD } from './capture-source.ts';

export const SHB = 0x0a0d0d0a;
export const IDB = 1;
export const PB_OBSOLETE = 2;
export const SPB = 3;
export const EPB = 6;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const OPT_ENDOFOPT = 0;
export const OPT_IF_TSRESOL = 9;
export const OPT_IF_TSOFFSET = 14;
const SHB_MIN = 28;
const IDB_MIN = 20;
const EPB_MIN = 32;
const SPB_MIN = 16;

export class PcapngReader implements CaptureReader {
  readonly format = 'pcapng';
  interfaces: CaptureInterface[] = [];
  /** Number of sections (SHBs) seen so far. */
  sections = 0;
  littleEndian = false;
  private readonly src: ByteSource;
  private readonly rec: CaptureRecord = newRecord();

  private constructor(src: ByteSource) {
    this.src = src;
  }

  /** The source cursor must be at the first SHB. */
  static async open(src: ByteSource): Promise<PcapngReader> {
    const r = new PcapngReader(src);
    await r.readShb();
    return r;
  }

  private u16(b: Uint8Array, o: number): number {
    return this.littleEndian ? u16le(b, o) : u16(b, o);
  }
  private u32(b: Uint8Array, o: number): number {
    return this.littleEndian ? u32le(b, o) : u32(b, o);
  }

  private async readShb(): Promise<void> {
    const src = this.src;
    const at = src.pos;
    if (!(await src.need(12))) throw src.error(`truncated section header block (${src.available} bytes)`, at);
    const b = src.buf;
    const bom = u32(b, src.start + 8);
    if (bom === BYTE_ORDER_MAGIC) this.littleEndian = false;
    else if (u32le(b, src.start + 8) === BYTE_ORDER_MAGIC) this.littleEndian = true;
    else throw src.error(`bad byte-order magic 0x${bom.toString(16).padStart(8, '0')} in section header`, at);
    const len = await this.needBlock(at, SHB_MIN, 'section header block');
    const o = src.start;
    const major = this.u16(b, o + 12);
    if (major !== 1) throw src.error(`unsupported pcapng version ${major}.${this.u16(b, o + 14)}`, at);
    this.walkOptions(o + 24, o + len - 4, at, () => {});
    this.interfaces = [];
    this.sections++;
    src.skip(len);
  }

  /** Reads a whole block of at least `min` bytes into the buffer; returns its length. */
  private async needBlock(at: number, min: number, what: string): Promise<number> {
    const src = this.src;
    if (!(await src.need(8))) throw src.error(`truncated block header (${src.available} of 8 bytes)`, at);
    const len = this.u32(src.buf, src.start + 4);
    if (len < min || len % 4 !== 0) throw src.error(`bad ${what} length ${len}`, at);
    if (len > MAX_RECORD)
      throw src.error(`${what} length ${len} is larger than the maximum ${MAX_RECORD} (corrupt file?)`, at);
    if (!(await src.need(len))) throw src.error(`truncated ${what} (${src.available} of ${len} bytes)`, at);
    if (this.u32(src.buf, src.start + len - 4) !== len)
      throw src.error(`${what}: trailing length ${this.u32(src.buf, src.start + len - 4)} != ${len}`, at);
    return len;
  }

  /** Calls fn(code, valueOffset, valueLen) for each option in [o, end); corrupt options throw. */
  private walkOptions(o: number, end: number, at: number, fn: (code: number, v: number, n: number) => void) {
    const b = this.src.buf;
    while (o + 4 <= end) {
      const code = this.u16(b, o);
      const n = this.u16(b, o + 2);
      if (code === OPT_ENDOFOPT) return;
      if (o + 4 + n > end)
        throw this.src.error(`option ${code} (length ${n}) runs past the end of its block`, at);
      fn(code, o + 4, n);
      o += 4 + ((n + 3) & ~3);
    }
  }

  private async readIdb(at: number): Promise<void> {
    const src = this.src;
    const len = await this.needBlock(at, IDB_MIN, 'interface description block');
    const b = src.buf;
    const o = src.start;
    const iface: CaptureInterface = {
      linktype: this.u16(b, o + 8),
      snaplen: this.u32(b, o + 12),
      unitsPerSec: 1e6,
      tsOffset: 0,
    };
    this.walkOptions(o + 16, o + len - 4, at, (code, v, n) => {
      if (code === OPT_IF_TSRESOL && n >= 1) {
        const r = b[v]!;
        // MSB clear: 10^-r seconds; MSB set: 2^-(r & 0x7f). Beyond ns precision we round down to ns.
        const units = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
        if ((r & 0x80 && (r & 0x7f) > 63) || (!(r & 0x80) && r > 18))
          throw src.error(`unsupported if_tsresol 0x${r.toString(16)}`, at);
        iface.unitsPerSec = units;
      } else if (code === OPT_IF_TSOFFSET && n >= 8) {
        const hi = this.u32(b, v + (this.littleEndian ? 4 : 0));
        const lo = this.u32(b, v + (this.littleEndian ? 0 : 4));
        iface.tsOffset = (hi | 0) * 2 ** 32 + lo;
      }
    });
    this.interfaces.push(iface);
    src.skip(len);
  }

  private setTime(rec: CaptureRecord, iface: CaptureInterface, hi: number, lo: number): void {
    // Timestamps are 64-bit counts of 1/unitsPerSec: ns since 1970 is ~2^60, beyond a double's 2^53,
    // so the split into seconds + nanoseconds is done in bigint.
    const t = (BigInt(hi) << 32n) | BigInt(lo);
    const u = BigInt(iface.unitsPerSec);
    rec.sec = Number(t / u) + iface.tsOffset;
    rec.nsec = Number(((t % u) * 1_000_000_000n) / u);
  }

  async next(): Promise<CaptureRecord | null> {
    const src = this.src;
    for (;;) {
      if (await src.atEnd()) return null;
      const at = src.pos;
      if (!(await src.need(8))) throw src.error(`truncated block header (${src.available} of 8 bytes)`, at);
      const type = this.u32(src.buf, src.start);
      if (u32(src.buf, src.start) === SHB) {
        await this.readShb();
        continue;
      }
      if (type === IDB) {
        await this.readIdb(at);
        continue;
      }
      if (type === EPB || type === PB_OBSOLETE) return this.readEpb(at, type);
      if (type === SPB) return this.readSpb(at);
      await this.skipBlock(at);
    }
  }

  private async skipBlock(at: number): Promise<void> {
    const src = this.src;
    const len = this.u32(src.buf, src.start + 4);
    if (len < 12 || len % 4 !== 0) throw src.error(`bad block length ${len}`, at);
    src.skip(len - 4);
    if (!(await src.need(4))) throw src.error(`truncated block (length ${len})`, at);
    const trail = this.u32(src.buf, src.start);
    if (trail !== len) throw src.error(`block trailing length ${trail} != ${len}`, at);
    src.skip(4);
  }

  private iface(id: number, at: number): CaptureInterface {
    const iface = this.interfaces[id];
    if (!iface)
      throw this.src.error(
        `packet for interface ${id}, but the section defines ${this.interfaces.length}`,
        at,
      );
    return iface;
  }

  private async readEpb(at: number, type: number): Promise<CaptureRecord> {
    const src = this.src;
    const what = type === EPB ? 'enhanced packet block' : 'packet block';
    const len = await this.needBlock(at, EPB_MIN, what);
    const b = src.buf;
    const o = src.start;
    const id = type === EPB ? this.u32(b, o + 8) : this.u16(b, o + 8);
    const iface = this.iface(id, at);
    const cap = this.u32(b, o + 20);
    if (cap > len - EPB_MIN)
      throw src.error(`${what}: captured length ${cap} exceeds the block (${len})`, at);
    const rec = this.rec;
    rec.offset = at;
    rec.ifIndex = id;
    rec.linktype = iface.linktype;
    rec.origLen = this.u32(b, o + 24);
    this.setTime(rec, iface, this.u32(b, o + 12), this.u32(b, o + 16));
    rec.data = b.subarray(o + 28, o + 28 + cap);
    src.skip(len);
    return rec;
  }

  private async readSpb(at: number): Promise<CaptureRecord> {
    const src = this.src;
    const len = await this.needBlock(at, SPB_MIN, 'simple packet block');
    const b = src.buf;
    const o = src.start;
    const iface = this.iface(0, at);
    const orig = this.u32(b, o + 8);
    let cap = Math.min(orig, len - SPB_MIN);
    if (iface.snaplen > 0) cap = Math.min(cap, iface.snaplen);
    const rec = this.rec;
    rec.offset = at;
    rec.ifIndex = 0;
    rec.linktype = iface.linktype;
    rec.origLen = orig;
    rec.sec = 0;
    rec.nsec = 0;
    rec.data = b.subarray(o + 12, o + 12 + cap);
    src.skip(len);
    return rec;
  }

  close(): Promise<void> {
    return this.src.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<CaptureRecord> {
    for (let r = await this.next(); r; r = await this.next()) yield r;
  }
}
