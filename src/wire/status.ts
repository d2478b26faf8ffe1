// Parse status codes shared by every codec. `check`/`parse` return OK or one of these; the caller turns a
// status into a named drop counter, `drop-<proto>-<status name>` (e.g. drop-ipv4-bad-checksum).
// Codecs never throw on hostile bytes: throwing is for programmer errors only.

export const OK = 0;
export const TRUNCATED = 1; //         fewer bytes than the header (or a length field) needs
export const BAD_VERSION = 2; //       version field not the one this codec speaks
export const BAD_LENGTH = 3; //        a length field inconsistent with the buffer or the header
export const BAD_CHECKSUM = 4;
export const BAD_FLAGS = 5; //         a flag combination the spec forbids (e.g. VXLAN I bit clear)
export const BAD_OPTION = 6; //        a malformed option / TLV / extension header
export const UNSUPPORTED = 7; //       well-formed but not something we handle (e.g. GRE routing)
export const BAD_FIELD = 8; //         a field value out of its allowed range
export const TOO_MANY = 9; //          a chain or list longer than our bound (IPv6 extension headers, VLAN tags)

export type Status = number;

const NAMES = [
  'ok',
  'truncated',
  'bad-version',
  'bad-length',
  'bad-checksum',
  'bad-flags',
  'bad-option',
  'unsupported',
  'bad-field',
  'too-many',
];

export function statusName(s: Status): string {
  return NAMES[s] ?? `unknown(${s})`;
}
