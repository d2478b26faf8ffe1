// Builds a frame from a flow description, as `ovs-appctl ofproto/trace` accepts one:
//   "tcp,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_dst=80"
// Fields not given get neutral defaults (TTL 64, ports 0, a 26-byte zero payload for L4). The result is
// a well-formed frame with correct checksums, for `nvo trace`.

import * as K from '../flow/key.ts';
import { parseFlow } from '../flow/ofctl-parse.ts';
import { setU16, setU32 } from '../wire/bytes.ts';
import { checksum } from '../wire/checksum.ts';
import * as l4sum from '../wire/l4-checksum.ts';

export function frameFromFlow(text: string, portByName?: (n: string) => number | undefined): Uint8Array {
  const spec = parseFlow(`${text},actions=drop`, { portByName });
  const v = spec.match.value;
  const type = v[K.DL_TYPE] || 0x0800;
  const vlan = v[K.VLAN_TCI]! & K.VLAN_CFI ? v[K.VLAN_TCI]! : 0;
  const b = new Uint8Array(1600);
  setU16(b, 0, v[K.DL_DST]!);
  setU32(b, 2, v[K.DL_DST + 1]!);
  setU16(b, 6, v[K.DL_SRC]!);
  setU32(b, 8, v[K.DL_SRC + 1]!);
  let o = 12;
  if (vlan) {
    setU16(b, o, 0x8100);
    setU16(b, o + 2, vlan & ~K.VLAN_CFI & 0xffff);
    o += 4;
  }
  setU16(b, o, type);
  o += 2;
  const l3 = o;
  const proto = v[K.NW_PROTO]!;
  if (type === 0x0806) {
    setU16(b, o, 1);
    setU16(b, o + 2, 0x0800);
    b[o + 4] = 6;
    b[o + 5] = 4;
    setU16(b, o + 6, v[K.ARP_OP] || 1);
    setU16(b, o + 8, v[K.ARP_SHA]!);
    setU32(b, o + 10, v[K.ARP_SHA + 1]!);
    setU32(b, o + 14, v[K.ARP_SPA]!);
    setU16(b, o + 18, v[K.ARP_THA]!);
    setU32(b, o + 20, v[K.ARP_THA + 1]!);
    setU32(b, o + 24, v[K.ARP_TPA]!);
    return b.slice(0, Math.max(60, o + 28));
  }
  let l4: number;
  if (type === 0x0800) {
    b[o] = 0x45;
    b[o + 1] = v[K.NW_TOS]!;
    b[o + 8] = v[K.NW_TTL] || 64;
    b[o + 9] = proto;
    setU32(b, o + 12, v[K.NW_SRC]!);
    setU32(b, o + 16, v[K.NW_DST]!);
    l4 = o + 20;
  } else if (type === 0x86dd) {
    b[o] = 0x60;
    b[o + 6] = proto;
    b[o + 7] = v[K.NW_TTL] || 64;
    for (let i = 0; i < 4; i++) {
      setU32(b, o + 8 + 4 * i, v[K.IPV6_SRC + i]!);
      setU32(b, o + 24 + 4 * i, v[K.IPV6_DST + i]!);
    }
    l4 = o + 40;
  } else return b.slice(0, 60);
  let end: number;
  if (proto === 6) {
    setU16(b, l4, v[K.TP_SRC]!);
    setU16(b, l4 + 2, v[K.TP_DST]!);
    b[l4 + 12] = 0x50;
    b[l4 + 13] = v[K.TCP_FLAGS]! & 0xff || 0x10;
    setU16(b, l4 + 14, 65535);
    end = l4 + 20 + 26;
  } else if (proto === 17) {
    setU16(b, l4, v[K.TP_SRC]!);
    setU16(b, l4 + 2, v[K.TP_DST]!);
    setU16(b, l4 + 4, 8 + 26);
    end = l4 + 8 + 26;
  } else if (proto === 1 || proto === 58) {
    b[l4] = v[K.ICMP_TYPE] || (proto === 1 ? 8 : 128);
    b[l4 + 1] = v[K.ICMP_CODE]!;
    end = l4 + 8 + 26;
  } else end = l4 + 26;
  if (type === 0x0800) {
    setU16(b, l3 + 2, end - l3);
    setU16(b, l3 + 10, checksum(b, l3, l3 + 20));
  } else setU16(b, l3 + 4, end - l4);
  if (proto === 6 || proto === 17 || proto === 58)
    l4sum.fill(b, l3, l4, end, proto, proto === 6 ? 16 : proto === 17 ? 6 : 2, proto === 17);
  else if (proto === 1) setU16(b, l4 + 2, checksum(b, l4, end));
  return b.slice(0, Math.max(60, end));
}
