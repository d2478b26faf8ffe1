// The byte sink under the capture writers: one fixed buffer flushed to the file when it fills, so
// writing a capture costs no allocation per record and a bounded amount of memory.
import { type FileHandle, open } from 'node:fs/promises';
import { MAX_RECORD } from './capture-source.ts';

const SIZE = 2 * MAX_RECORD;

export interface ByteSink {
  /** Makes room for n bytes (n <= MAX_RECORD) and returns the offset in `buf` to write them at. */
  reserve(n: number): Promise<number>;
  readonly buf: Uint8Array;
  /** Bytes written so far, flushed or not. */
  readonly written: number;
  close(): Promise<void>;
}

export class FileSink implements ByteSink {
  readonly buf = new Uint8Array(SIZE);
  private used = 0;
  private flushed = 0;
  private readonly fh: FileHandle;

  private constructor(fh: FileHandle) {
    this.fh = fh;
  }

  static async create(path: string): Promise<FileSink> {
    return new FileSink(await open(path, 'w'));
  }

  get written(): number {
    return this.flushed + this.used;
  }

  async reserve(n: number): Promise<number> {
    if (n > MAX_RECORD) throw new Error(`FileSink.reserve(${n}) above MAX_RECORD`);
    if (this.used + n > this.buf.length) await this.flush();
    const o = this.used;
    this.used += n;
    return o;
  }

  async flush(): Promise<void> {
    let o = 0;
    while (o < this.used) o += (await this.fh.write(this.buf, o, this.used - o)).bytesWritten;
    this.flushed += this.used;
    this.used = 0;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.fh.close();
    }
  }
}

/** Collects everything in memory (tests). */
export class MemorySink implements ByteSink {
  readonly buf = new Uint8Array(SIZE);
  private used = 0;
  private readonly parts: Uint8Array[] = [];
  private total = 0;

  get written(): number {
    return this.total + this.used;
  }

  async reserve(n: number): Promise<number> {
    if (this.used + n > this.buf.length) {
      this.parts.push(this.buf.slice(0, this.used));
      this.total += this.used;
      this.used = 0;
    }
    const o = this.used;
    this.used += n;
    return o;
  }

  async close(): Promise<void> {
    this.parts.push(this.buf.slice(0, this.used));
    this.total += this.used;
    this.used = 0;
  }

  /** The bytes written, after close(). */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
