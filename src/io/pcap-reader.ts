// Classic libpcap capture file reader (draft-ietf-opsawg-pcap; tcpdump.org/manpages/pcap-savefile.5).
//
//   file header (24 bytes)                         record header (16 bytes), then incl_len bytes
//    0  magic      a1b2c3d4 µs | a1b23c4d ns        0  ts_sec
//                  (bytes reversed: other order)    4  ts_usec, or ts_nsec with the ns magic
//                  a1b2cd34: Kuznetsov "modified"   8  incl_len  (bytes in the file)
//    4  version major (2) | 6 minor (4)            12  orig_len  (bytes on the wire)
//    8  thiszone   12 sigfigs (both 0 in practice)    modified pcap only: 16 ifindex, 20 protocol(2),
//   16  snaplen                                                           22 pkt_type(1), 23 pad(1)
//   20  linktype: bits 0-25 the LINKTYPE_ value, bit 26 F (FCS length present), bits 28-31 FCS length
//
// The magic is written in the writer's byte order, so reading it as big-endian tells us the order of
// every other field. incl_len above MAX_PACKET is corruption (a length we refuse to buffer), as in
// libpcap's "invalid packet capture length"; incl_len above snaplen is tolerated, as libpcap does.
import { u16, u16le, u32, u32le } from '../wire/bytes.ts';
import {
  type CaptureInterface,
  type CaptureReader,
  type CaptureRecord,
  newRecord,
} from './capture-record.ts';
import { type ByteSource, MAX_PACKET } from './capture-source.ts';

export const MAGIC_US = 0xa1b2c3d4;
export const MAGIC_NS = 0xa1b23c4d;
export const MAGIC_MODIFIED = 0xa1b2cd34;
export const FILE_HEADER_LEN = 24;
export const RECORD_HEADER_LEN = 16;
const MODIFIED_RECORD_HEADER_LEN = 24;

/** True if the first four bytes are a pcap magic in either byte order. */
export function isPcapMagic(b: Uint8Array, o: number): boolean {
  const be = u32(b, o);
  const le = u32le(b, o);
  for (const m of [MAGIC_US, MAGIC_NS, MAGIC_MODIFIED]) if (be === m || le === m) return true;
  return false;
}

export class PcapReader implements CaptureReader {
  readonly format = 'pcap';
  readonly interfaces: CaptureInterface[] = [];
  readonly littleEndian: boolean;
  readonly nanosecond: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  private readonly src: ByteSource;
  private readonly recLen: number;
  private readonly rec: CaptureRecord = newRecord();

  private constructor(src: ByteSource, le: boolean, ns: boolean, modified: boolean, iface: CaptureInterface) {
    this.src = src;
    this.littleEndian = le;
    this.nanosecond = ns;
    this.recLen = modified ? MODIFIED_RECORD_HEADER_LEN : RECORD_HEADER_LEN;
    this.interfaces.push(iface);
    const b = src.buf;
    this.versionMajor = le ? u16le(b, src.start + 4) : u16(b, src.start + 4);
    this.versionMinor = le ? u16le(b, src.start + 6) : u16(b, src.start + 6);
  }

  /** Reads the file header; the source cursor must be at offset 0. */
  static async open(src: ByteSource): Promise<PcapReader> {
    if (!(await src.need(FILE_HEADER_LEN)))
      throw src.error(`truncated pcap file header (${src.available} of ${FILE_HEADER_LEN} bytes)`);
    const b = src.buf;
    const o = src.start;
    const be = u32(b, o);
    const le = u32le(b, o);
    const little = le === MAGIC_US || le === MAGIC_NS || le === MAGIC_MODIFIED;
    const magic = little ? le : be;
    if (magic !== MAGIC_US && magic !== MAGIC_NS && magic !== MAGIC_MODIFIED)
      throw src.error(`not a pcap file (magic 0x${be.toString(16).padStart(8, '0')})`);
    const r32 = little ? u32le : u32;
    const major = little ? u16le(b, o + 4) : u16(b, o + 4);
    if (major !== 2) throw src.error(`unsupported pcap version ${major}`, 4);
    const iface: CaptureInterface = {
      linktype: r32(b, o + 20) & 0x03ffffff,
      snaplen: r32(b, o + 16),
      unitsPerSec: magic === MAGIC_NS ? 1e9 : 1e6,
      tsOffset: 0,
    };
    const reader = new PcapReader(src, little, magic === MAGIC_NS, magic === MAGIC_MODIFIED, iface);
    src.skip(FILE_HEADER_LEN);
    return reader;
  }

  async next(): Promise<CaptureRecord | null> {
    const src = this.src;
    if (await src.atEnd()) return null;
    const at = src.pos;
    if (!(await src.need(this.recLen)))
      throw src.error(`truncated record header (${src.available} of ${this.recLen} bytes)`, at);
    const b = src.buf;
    const o = src.start;
    const r32 = this.littleEndian ? u32le : u32;
    const incl = r32(b, o + 8);
    if (incl > MAX_PACKET)
      throw src.error(`record length ${incl} is larger than the maximum ${MAX_PACKET} (corrupt file?)`, at);
    if (!(await src.need(this.recLen + incl)))
      throw src.error(`truncated record (${src.available - this.recLen} of ${incl} bytes of data)`, at);
    const rec = this.rec;
    const s = src.start;
    rec.offset = at;
    rec.sec = r32(b, s);
    const sub = r32(b, s + 4);
    // A sub-second field at or above one second is out of spec; carry it rather than print 1.2000000s.
    const ns = this.nanosecond ? sub : sub * 1000;
    rec.sec += Math.floor(ns / 1e9);
    rec.nsec = ns % 1e9;
    rec.origLen = r32(b, s + 12);
    rec.linktype = this.interfaces[0]!.linktype;
    rec.ifIndex = 0;
    rec.data = b.subarray(s + this.recLen, s + this.recLen + incl);
    src.skip(this.recLen + incl);
    return rec;
  }

  close(): Promise<void> {
    return this.src.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<CaptureRecord> {
    for (let r = await this.next(); r; r = await this.next()) yield r;
  }
}
