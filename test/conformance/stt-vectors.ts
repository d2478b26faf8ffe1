// STT test vectors from /work/shared/reference/stt.md §6 (built by the team's research notes from the
// draft-davie-stt-08 layout and checked there with tshark 4.0.17: STT fields, and outer IPv4/TCP plus
// inner IPv4/UDP checksums all "good"). Full frames, outer Ethernet included.
import { fromHex } from '../../src/wire/bytes.ts';

const payload32 = Array.from({ length: 32 }, (_, k) => k.toString(16).padStart(2, '0')).join('');

/** V1: single segment, no offload; 146 bytes. TCP at 0x22, STT header at 0x36, inner Ethernet at 0x48. */
export const V1 = fromHex(
  '020000000002020000000001 0800' +
    '4500008420004000400696 70c0000201c0000202' +
    'c0011d2f005c000000000001501800 00b7e00000' +
    '000000000000000001234567 89abcdef0000' +
    '02000000000b02000000000a0800' +
    '4500003c01014000401125ae0a0000010a000002' +
    '04d2162e0028df9a' +
    payload32,
);

/** V5: single segment with offload flags P|V|T, L4 offset 34, MSS 1448; 138 bytes (Ethernet added). */
export const V5 = fromHex(
  '020000000002020000000001 0800' +
    '4500007c2000400040069678c0000201c0000202 c0201d2f 00540000 00000020 5018 0000 4f1c 0000' +
    '000e2200 05a80000 0123456789abcdef 0000' +
    '02000000000b02000000000a0800 4500003402024000400624c00a0000010a000002' +
    '9c400050000003e8000007d0501801f614290000 000102030405060708090a0b',
);

export const TCP_AT = 0x22;
export const STT_AT = 0x36;
export const INNER_AT = 0x48;
