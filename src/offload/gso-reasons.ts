// Outcome and drop reasons of software GSO, one counter each (see gso.ts). Index constants are what
// the hot path bumps; GSO_COUNTER_NAMES is what `nvo stats` prints.
export const GSO_COUNTER_NAMES = [
  'gso-in-superframes', //        superframes cut
  'gso-out-segments', //          packets produced
  'gso-pass', //                  not a superframe, or payload ≤ gso_size: sent as is (checksum completed)
  'gso-drop-truncated', //        a header or length field runs past the frame
  'gso-drop-bad-length', //       inconsistent length fields (IHL, total length, doff, UDP length)
  'gso-drop-bad-version', //      IP version nibble ≠ EtherType
  'gso-drop-unsupported', //      not IP / not TCP-UDP / jumbogram / GRE sequence numbers
  'gso-drop-too-many-headers', // more VLAN tags or IPv6 extension headers than we walk
  'gso-drop-fragment', //         an IP fragment marked for GSO
  'gso-drop-type-mismatch', //    gso_type disagrees with the headers (TCPV4 on IPv6, UDP_L4 on TCP…)
  'gso-drop-bad-gso-size', //     gso_size 0
  'gso-drop-too-many-segments', //more segments than the configured maximum
  'gso-drop-bad-csum-offsets', // NEEDS_CSUM with csum_start ≠ L4 header or csum_offset ≠ 16 (TCP) / 6 (UDP)
  'gso-drop-bad-tcp-flags', //    SYN or RST on a TCP superframe (never produced by a TCP stack)
  'gso-drop-segment-too-big', //  headers + gso_size do not fit a pool slot
  'gso-drop-no-buffers', //       output pool empty
  'gso-drop-batch-full', //       output batch has no room for all segments
  'gso-drop-bad-tunnel', //       tunnel superframe whose inner offsets / outer headers do not walk
] as const;

export const GSO_IN = 0;
export const GSO_OUT = 1;
export const GSO_PASS = 2;
export const DROP_TRUNCATED = 3;
export const DROP_BAD_LENGTH = 4;
export const DROP_BAD_VERSION = 5;
export const DROP_UNSUPPORTED = 6;
export const DROP_TOO_MANY_HEADERS = 7;
export const DROP_FRAGMENT = 8;
export const DROP_TYPE_MISMATCH = 9;
export const DROP_BAD_GSO_SIZE = 10;
export const DROP_TOO_MANY_SEGMENTS = 11;
export const DROP_BAD_CSUM_OFFSETS = 12;
export const DROP_BAD_TCP_FLAGS = 13;
export const DROP_SEGMENT_TOO_BIG = 14;
export const DROP_NO_BUFFERS = 15;
export const DROP_BATCH_FULL = 16;
export const DROP_BAD_TUNNEL = 17;

import { BAD_FIELD, BAD_LENGTH, BAD_VERSION, TOO_MANY, TRUNCATED } from '../wire/status.ts';

/** Maps a frame-layout status to its drop counter. */
export function layoutDrop(st: number): number {
  switch (st) {
    case TRUNCATED:
      return DROP_TRUNCATED;
    case BAD_LENGTH:
      return DROP_BAD_LENGTH;
    case BAD_VERSION:
      return DROP_BAD_VERSION;
    case TOO_MANY:
      return DROP_TOO_MANY_HEADERS;
    case BAD_FIELD:
      return DROP_FRAGMENT;
    default:
      return DROP_UNSUPPORTED;
  }
}
