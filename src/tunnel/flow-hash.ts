// A hash of the inner flow for tunnel entropy (UDP/TCP source port, NVGRE FlowID), constant per flow
// as RFC 7348 §5, RFC 8926 §3.3 and draft-davie-stt §3.1 ask. Like Linux's flow dissector it covers
// the inner addresses, protocol and (for TCP/UDP/SCTP, on unfragmented or first fragments) ports;
// for non-IP frames the MAC pair (Linux falls back to jhash of the Ethernet addresses). The mixing is
// MurmurHash3's 32-bit block step and finaliser, so the values are not Linux's, only equally spread.
import { u16, u32 } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import * as ipProto from '../wire/ip-proto.ts';

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const hasPorts = (p: number): boolean => p === ipProto.TCP || p === ipProto.UDP || p === ipProto.SCTP;

/** Hash of the flow in b[o, end): an Ethernet frame (isEth) or a bare IP packet. Never reads past end. */
export function innerFlowHash(b: Uint8Array, o: number, end: number, isEth: boolean): number {
  let h = 0x9747b28c;
  let l3 = o;
  let type: number;
  if (isEth) {
    if (end - o < 14) return fmix(h);
    type = u16(b, o + 12);
    l3 = o + 14;
    while (etherType.isVlanTpid(type) && end - l3 >= 4) {
      type = u16(b, l3 + 2);
      l3 += 4;
    }
  } else {
    type = end > o && b[o]! >>> 4 === 6 ? etherType.IPV6 : etherType.IPV4;
  }
  let l4 = -1;
  let proto = -1;
  if (type === etherType.IPV4 && end - l3 >= 20) {
    h = mix(h, u32(b, l3 + 12));
    h = mix(h, u32(b, l3 + 16));
    proto = b[l3 + 9]!;
    const firstFragment = (u16(b, l3 + 6) & 0x1fff) === 0;
    if (firstFragment) l4 = l3 + ((b[l3]! & 0x0f) << 2);
  } else if (type === etherType.IPV6 && end - l3 >= 40) {
    for (let i = 8; i < 40; i += 4) h = mix(h, u32(b, l3 + i));
    proto = b[l3 + 6]!;
    l4 = l3 + 40;
  } else if (isEth) {
    // Not IP: the MAC pair (and the EtherType, so ARP and LLDP between two hosts spread apart).
    h = mix(h, u32(b, o));
    h = mix(h, u32(b, o + 4));
    h = mix(h, u32(b, o + 8));
    h = mix(h, type);
    return fmix(h);
  }
  h = mix(h, proto);
  if (l4 >= 0 && hasPorts(proto) && end - l4 >= 4) h = mix(h, u32(b, l4));
  return fmix(h);
}
