// Loader for the C addon (native/nvo_io.c, built by `npm install` through node-gyp). When it is missing
// (no compiler, not built yet) or cannot load, `loadNative()` returns null and `nativeUnavailable()`
// says why in one line; callers then use the pure-Node back ends (udp-dgram.ts) or refuse politely.
// The addon is N-API (ABI-stable): built against the system Node's headers, it loads in Node 24 too.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Descriptor table layout, DESC_WORDS int32 per frame (must match the enum in native/nvo_io.c).
 * rx: OFF/LEN in give where frame i may land (LEN = capacity); out: LEN, virtio fields, address.
 * tx: OFF/LEN/virtio fields/address in; ERR out (errno, 0 = sent).
 */
export const D_OFF = 0;
export const D_LEN = 1;
export const D_VFLAGS = 2;
export const D_GSO_TYPE = 3;
export const D_GSO_SIZE = 4;
export const D_CSUM_START = 5;
export const D_CSUM_OFF = 6;
export const D_HDR_LEN = 7;
/** Words 8..11: 16 address bytes (IPv4 in the first 4); read/written through a Uint8Array view. */
export const D_ADDR = 8;
export const D_FAMILY = 12;
export const D_PORT = 13;
export const D_ERR = 14;
export const D_RXFLAGS = 15;
export const DESC_WORDS = 16;
/** The addon's largest burst (its static scratch arrays): bigger requests are cut to this. */
export const MAX_BURST = 256;
export const RXF_TRUNCATED = 1;

export const KIND_TAP = 0;
export const KIND_PACKET = 1;
export const KIND_UDP = 2;

/** TUNSETOFFLOAD flags (linux/if_tun.h): what the kernel may hand a TAP reader. */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_UFO = 0x10;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;

/** The virtio_net_hdr size without (10) and with (12) num_buffers. */
export const VNET_HDR_LEN = 10;
export const VNET_HDR_MRG_LEN = 12;

export interface NativeIo {
  tapOpen(
    name: string,
    vnetHdrSize: number,
    offloads: number,
    netns?: string | null,
  ): {
    fd: number;
    name: string;
    offloads: number;
  };
  packetOpen(
    ifname: string,
    vnetHdr: boolean,
    netns: string | null | undefined,
    rcvbuf: number,
    /** A unicast MAC of nvo's own to accept too (PACKET_MR_UNICAST), or null. */
    mac?: Uint8Array | null,
    /** Read IPv4 datagrams whole: the kernel reassembles fragments (PACKET_FANOUT_FLAG_DEFRAG). */
    defrag?: boolean,
  ): { fd: number; ifindex: number };
  udpOpen(
    family: 4 | 6,
    addr: Uint8Array,
    port: number,
    gro: boolean,
    netns: string | null | undefined,
    bufSize: number,
  ): { fd: number; port: number };
  /** Frames received (>= 0) or -errno. */
  rxBurst(
    fd: number,
    kind: number,
    vnetHdrSize: number,
    slab: Uint8Array,
    desc: Int32Array,
    n: number,
  ): number;
  /** Frames consumed from the front, sent or failed (ERR set), or -errno; stops early when the queue is full. */
  txBurst(
    fd: number,
    kind: number,
    vnetHdrSize: number,
    slab: Uint8Array,
    desc: Int32Array,
    n: number,
  ): number;
  close(fd: number): number;
  pollStart(fd: number, events: number, cb: (status: number, events: number) => void): object;
  pollStop(handle: object): void;
  pollUpdate(handle: object, events: number): void;
  /** AF_PACKET: frames the kernel dropped on a full receive queue since the last call, or -errno. */
  packetDrops(fd: number): number;
  readonly DESC_WORDS: number;
  readonly MAX_BURST: number;
}

export const ADDON_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'native',
  'build',
  'Release',
  'nvo_io.node',
);

let cached: NativeIo | null | undefined;
let why = '';

/** The addon, or null (see nativeUnavailable()). Loads once. */
export function loadNative(): NativeIo | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (process.env['NVO_NO_NATIVE'] || process.env['NVO_NATIVE'] === 'off') {
    why = process.env['NVO_NO_NATIVE'] ? 'disabled by NVO_NO_NATIVE' : 'disabled by NVO_NATIVE=off';
  } else if (!existsSync(ADDON_PATH)) {
    why = `${ADDON_PATH} is missing (run 'npm install', which builds it with node-gyp; see native/build.log)`;
  } else {
    try {
      const m = createRequire(import.meta.url)(ADDON_PATH) as NativeIo;
      if (m.DESC_WORDS !== DESC_WORDS || m.MAX_BURST !== MAX_BURST) {
        why = `${ADDON_PATH} is stale (descriptor layout differs); rebuild with 'npm run install'`;
      } else {
        cached = m;
      }
    } catch (err) {
      why = `${ADDON_PATH} did not load: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  return cached;
}

/** One line saying why the addon is unavailable ('' when it is loaded). */
export function nativeUnavailable(): string {
  loadNative();
  return cached ? '' : `nvo: native I/O unavailable: ${why}; TAP, AF_PACKET and UDP GSO/GRO are off`;
}

/** Why the addon is unavailable, without the prefix ('' when it is loaded). */
export function nativeWhy(): string {
  loadNative();
  return cached ? '' : why;
}

/** The addon or an Error carrying the one-line reason (for back ends that have no fallback). */
export function requireNative(what: string): NativeIo {
  const n = loadNative();
  if (!n) throw new Error(`${what} needs the native addon: ${nativeUnavailable()}`);
  return n;
}

/** True when we may create TAP devices, AF_PACKET sockets and network namespaces. */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** errno numbers seen on the data path (x86-64/generic Linux), for drop-reason names. */
const ERRNO_NAMES: Record<number, string> = {
  1: 'eperm',
  5: 'eio',
  6: 'enxio',
  11: 'eagain',
  12: 'enomem',
  14: 'efault',
  19: 'enodev',
  22: 'einval',
  77: 'ebadfd',
  90: 'emsgsize',
  97: 'eafnosupport',
  100: 'enetdown',
  101: 'enetunreach',
  105: 'enobufs',
  111: 'econnrefused',
  113: 'ehostunreach',
};

export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno-${e}`;
}
