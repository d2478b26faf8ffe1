// Opens a capture file of either format, chosen by its first four bytes (not by the file name):
// a pcap magic in either byte order, or the pcapng SHB type 0a0d0d0a.
import { u32 } from '../wire/bytes.ts';
import type { CaptureReader } from './capture-record.ts';
import { ByteSource, CaptureError, memoryAccess } from './capture-source.ts';
import { isPcapMagic, PcapReader } from './pcap-reader.ts';
import { PcapngReader, SHB } from './pcapng-reader.ts';

export async function openCaptureSource(src: ByteSource): Promise<CaptureReader> {
  try {
    if (!(await src.need(4))) throw src.error(`too short for a capture file (${src.available} bytes)`, 0);
    const b = src.buf;
    if (u32(b, src.start) === SHB) return await PcapngReader.open(src);
    if (isPcapMagic(b, src.start)) return await PcapReader.open(src);
    throw src.error(
      `not a pcap or pcapng file (starts with 0x${u32(b, src.start).toString(16).padStart(8, '0')})`,
      0,
    );
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** Opens a capture file. Corrupt or truncated input rejects with a CaptureError naming file and offset. */
export async function openCapture(path: string): Promise<CaptureReader> {
  let src: ByteSource;
  try {
    src = await ByteSource.openFile(path);
  } catch (e) {
    throw new CaptureError(path, 0, (e as Error).message.replace(/^[A-Z]+: /, ''));
  }
  return openCaptureSource(src);
}

/** Reads a capture held in memory (tests, fuzzing). */
export function openCaptureBytes(bytes: Uint8Array, name = '<memory>'): Promise<CaptureReader> {
  return openCaptureSource(new ByteSource(name, memoryAccess(bytes)));
}
