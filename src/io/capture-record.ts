// What the capture readers hand out and the writers take: one frame with its link type and timestamp.
import { nameSet } from '../wire/registry.ts';

/** Link-layer header types (tcpdump.org/linktypes.html), an open set. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101; //        raw IPv4/IPv6, version from the first nibble
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
export const linktypeNames = nameSet(
  {
    [LINKTYPE_NULL]: 'null',
    [LINKTYPE_ETHERNET]: 'ethernet',
    [LINKTYPE_RAW]: 'raw',
    [LINKTYPE_LINUX_SLL]: 'linux-sll',
    [LINKTYPE_IPV4]: 'ipv4',
    [LINKTYPE_IPV6]: 'ipv6',
    [LINKTYPE_LINUX_SLL2]: 'linux-sll2',
  },
  4,
);

/**
 * One captured frame. `data` is a view into the reader's buffer: valid until the next `next()` call;
 * copy it (`data.slice()`) to keep it. Timestamps are seconds + nanoseconds whatever the file's
 * resolution (pcapng binary resolutions 2^-k are rounded down to the nanosecond).
 */
export interface CaptureRecord {
  data: Uint8Array;
  /** Length on the wire; > data.length when the capture was cut at the snap length. */
  origLen: number;
  sec: number;
  nsec: number;
  linktype: number;
  /** pcapng interface number within its section (0 for pcap). */
  ifIndex: number;
  /** File offset of the record header (for error messages and `nvo pcap` reports). */
  offset: number;
}

export interface CaptureInterface {
  linktype: number;
  snaplen: number;
  /** Timestamp units per second: 10^6 for µs, 10^9 for ns, 2^k for binary resolutions. */
  unitsPerSec: number;
  /** pcapng if_tsoffset: seconds added to every timestamp. */
  tsOffset: number;
}

export interface CaptureReader extends AsyncIterable<CaptureRecord> {
  readonly format: 'pcap' | 'pcapng';
  /** Interfaces seen so far (pcap: exactly one; pcapng: grows as IDBs are read, per section). */
  readonly interfaces: readonly CaptureInterface[];
  next(): Promise<CaptureRecord | null>;
  close(): Promise<void>;
}

export function newRecord(): CaptureRecord {
  return { data: new Uint8Array(0), origLen: 0, sec: 0, nsec: 0, linktype: 0, ifIndex: 0, offset: 0 };
}
