// The byte source under the pcap and pcapng readers: a file (or, for tests, a byte array) read through
// ONE bounded buffer, so a capture larger than memory streams through a few hundred KiB. A reader asks
// for `need(n)` bytes at the cursor; nothing ever allocates in proportion to a length field read from
// the file: a length above MAX_RECORD is a CaptureError, and unknown pcapng blocks are skipped by
// moving the file position, not by reading them in.
import { type FileHandle, open } from 'node:fs/promises';
import { MAX_PACKET } from '../packet/pool.ts';

// The capture readers and writers take MAX_PACKET from here; it lives in packet/ because the tunnel
// decapper sizes its scratch frame by it too, and tunnel/ sits below io/.
export { MAX_PACKET };
/**
 * Largest record (pcap record or parsed pcapng block) we buffer: MAX_PACKET (256 KiB) of packet data
 * plus 64 KiB for the pcapng block framing and options.
 */
export const MAX_RECORD = MAX_PACKET + 65536;
const CHUNK = 65536;

/** A corrupt or truncated capture: names the file and the byte offset where the bad record starts. */
export class CaptureError extends Error {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, what: string) {
    super(`${file}: offset ${offset}: ${what}`);
    this.file = file;
    this.offset = offset;
  }
}

/** Where bytes come from: positional reads, like FileHandle.read. */
export interface RandomAccess {
  read(into: Uint8Array, at: number, len: number, position: number): Promise<number>;
  close(): Promise<void>;
}

function fileAccess(fh: FileHandle): RandomAccess {
  return {
    read: async (into, at, len, position) => (await fh.read(into, at, len, position)).bytesRead,
    close: () => fh.close(),
  };
}

export function memoryAccess(bytes: Uint8Array): RandomAccess {
  return {
    read: async (into, at, len, position) => {
      const n = Math.max(0, Math.min(len, bytes.length - position));
      into.set(bytes.subarray(position, position + n), at);
      return n;
    },
    close: async () => {},
  };
}

export class ByteSource {
  readonly name: string;
  /** The read buffer; valid bytes are buf[start, end). Views handed out alias it until the next need(). */
  readonly buf = new Uint8Array(MAX_RECORD + CHUNK);
  start = 0;
  end = 0;
  /** File offset of buf[start]. */
  pos = 0;
  private eof = false;
  private readonly io: RandomAccess;

  constructor(name: string, io: RandomAccess) {
    this.name = name;
    this.io = io;
  }

  static async openFile(path: string): Promise<ByteSource> {
    return new ByteSource(path, fileAccess(await open(path, 'r')));
  }

  get available(): number {
    return this.end - this.start;
  }

  /**
   * Makes n bytes available at buf[start]; false when the file ends first (then `available` says how
   * many there were). n must be <= MAX_RECORD: callers check length fields before asking.
   */
  async need(n: number): Promise<boolean> {
    if (n > MAX_RECORD) throw new Error(`ByteSource.need(${n}) above MAX_RECORD`);
    while (this.end - this.start < n) {
      if (this.eof) return false;
      if (this.start > 0 && this.buf.length - this.start < n + CHUNK) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      const room = this.buf.length - this.end;
      const got = await this.io.read(this.buf, this.end, Math.min(room, CHUNK), this.pos + this.available);
      if (got === 0) this.eof = true;
      this.end += got;
    }
    return true;
  }

  /** Moves the cursor n bytes on; bytes not yet read are skipped by position, not read. */
  skip(n: number): void {
    const have = this.end - this.start;
    if (n <= have) {
      this.start += n;
    } else {
      this.start = this.end = 0;
      this.eof = false;
    }
    this.pos += n;
  }

  /** True when no byte is left (reads ahead to find out). */
  async atEnd(): Promise<boolean> {
    return !(await this.need(1));
  }

  error(what: string, offset = this.pos): CaptureError {
    return new CaptureError(this.name, offset, what);
  }

  close(): Promise<void> {
    return this.io.close();
  }
}
