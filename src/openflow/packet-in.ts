// OFPT_PACKET_IN, OpenFlow 1.3.5 §7.4.1, with OVS's tunnel fields in the match (NXM_NX_TUN_*), as
// OVS sends it so controllers see the VNI and the remote VTEP:
//
//   ofp_header (8): version 4, type 10, length, xid
//   buffer_id u32 = 0xffffffff (OFP_NO_BUFFER: the frame is in the message)
//   total_len u16 | reason u8 (0 NO_MATCH, 1 ACTION, 2 INVALID_TTL) | table_id u8 | cookie u64
//   ofp_match: type 1 (OXM), length (header + OXMs, without padding), OXMs, zero pad to 8 bytes
//     OXM_OF_IN_PORT (0x8000, field 0, 4 bytes); from a tunnel also OXM_OF_TUNNEL_ID (field 38, 8)
//     and NXM_NX_TUN_IPV4_SRC/DST (0x0001, fields 31/32, 4) or NXM_NX_TUN_IPV6_SRC/DST (109/110, 16)
//   2 bytes of zero padding, then the frame (data_len = what follows, ≤ total_len)
//
// The future OpenFlow channel sends these; today `ovs-ofctl ofp-print` reads them in the tests, as
// an independent decoder of what `nvo monitor` prints.

export const OFP_VERSION_13 = 4;
export const OFPT_PACKET_IN = 10;
export const OFP_NO_BUFFER = 0xffffffff;

export interface PacketIn {
  reason: number;
  tableId: number;
  cookie: bigint;
  inPort: number;
  totalLen: number;
  data: Uint8Array;
  tunnel?: { id: bigint; src: Uint8Array; dst: Uint8Array; ipv6: boolean };
  xid?: number;
}

export function encodePacketIn(m: PacketIn): Uint8Array {
  const oxms: Uint8Array[] = [oxm(0x8000, 0, u32(m.inPort))];
  if (m.tunnel) {
    const t = m.tunnel;
    oxms.push(oxm(0x8000, 38, u64(t.id)));
    const n = t.ipv6 ? 16 : 4;
    oxms.push(oxm(0x0001, t.ipv6 ? 109 : 31, t.src.subarray(0, n)));
    oxms.push(oxm(0x0001, t.ipv6 ? 110 : 32, t.dst.subarray(0, n)));
  }
  const oxmLen = oxms.reduce((s, x) => s + x.length, 0);
  const matchLen = 4 + oxmLen;
  const matchPadded = (matchLen + 7) & ~7;
  const len = 8 + 16 + matchPadded + 2 + m.data.length;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  b[0] = OFP_VERSION_13;
  b[1] = OFPT_PACKET_IN;
  v.setUint16(2, len);
  v.setUint32(4, m.xid ?? 0);
  v.setUint32(8, OFP_NO_BUFFER);
  v.setUint16(12, m.totalLen);
  b[14] = m.reason;
  b[15] = m.tableId;
  v.setBigUint64(16, m.cookie);
  v.setUint16(24, 1); // OFPMT_OXM
  v.setUint16(26, matchLen);
  let o = 28;
  for (const x of oxms) {
    b.set(x, o);
    o += x.length;
  }
  b.set(m.data, 24 + matchPadded + 2);
  return b;
}

/** One OXM TLV: class (16) | field (7) << 1 | hasmask 0 | length (8), then the value. */
function oxm(cls: number, field: number, value: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + value.length);
  b[0] = cls >>> 8;
  b[1] = cls & 0xff;
  b[2] = field << 1;
  b[3] = value.length;
  b.set(value, 4);
  return b;
}

function u32(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0);
  return b;
}

function u64(x: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, x);
  return b;
}
