// The two encapsulations that carry a guest superframe whole: STT (one TCP-like frame, cut by the
// underlay's TSO or offload/stt-segment.ts) and VXLAN-SOE (one datagram, outer IPv4 fragments,
// offload/soe-tx.ts). Both keep per-destination state in Switch.transmitters.

import * as soeTx from '../offload/soe-tx.ts';
import * as sttTx from '../offload/stt-segment.ts';
import type { Batch } from '../packet/batch.ts';
import { CSUM_VALID, GSO_NONE, NEEDS_CSUM, type Packet, SUPERFRAME } from '../packet/packet.ts';
import type { TunnelPort } from '../tunnel/tunnel-port.ts';
import * as stt from '../wire/stt.ts';
import type { Port } from './port.ts';
import type { Switch } from './switch.ts';

const sttRepr = stt.newRepr();

/** Stages every packet of `out` on `underlay` and empties it. */
export function stageAll(sw: Switch, underlay: Port, out: Batch): void {
  for (let i = 0; i < out.count; i++) sw.stage(underlay, out.packets[i]!);
  out.clear();
}

/**
 * STT: the guest's offload state goes in the STT header (draft-davie-stt-08 §3.2) so the far end can
 * hand its guest the same superframe: P + L4 offset for a partial checksum, MSS for a TSO frame, C
 * when the checksum is known good.
 */
export function sttOutput(
  sw: Switch,
  t: TunnelPort,
  underlay: Port,
  p: Packet,
  remote: Uint8Array,
  idHi: number,
  idLo: number,
  mac: Uint8Array,
): void {
  if (p.start < stt.HEADER_LEN + 80) {
    sw.drop(p, sw.counters.id('drop-no-headroom'));
    return;
  }
  const r = sttRepr;
  r.version = 0;
  r.flags = 0;
  r.l4Offset = 0;
  r.mss = 0;
  r.tci = 0;
  r.ctxHi = idHi;
  r.ctxLo = idLo;
  const b = p.buf;
  const innerL2 = p.start;
  if ((p.flags & NEEDS_CSUM) !== 0) {
    r.flags = stt.FLAG_CSUM_PARTIAL | (p.csumOffset === 16 ? stt.FLAG_TCP : 0);
    r.l4Offset = p.csumStart - innerL2;
    if (b[innerL2 + 12] === 0x08 && b[innerL2 + 13] === 0x00) r.flags |= stt.FLAG_IPV4;
    if (p.gsoType !== GSO_NONE) r.mss = p.gsoSize;
  } else if ((p.flags & CSUM_VALID) !== 0) r.flags = stt.FLAG_CSUM_VERIFIED;
  const h = p.start - stt.HEADER_LEN;
  stt.emit(r, b, h);
  p.start = h;
  // The STT frame is now the unit: the inner offload state travels in its header.
  p.flags &= ~(NEEDS_CSUM | CSUM_VALID | SUPERFRAME);
  p.gsoType = GSO_NONE;
  p.gsoSize = 0;
  const seg = sw.transmitters.stt(t, remote, mac);
  const out = sw.segOut;
  out.clear();
  const res = seg.segment(p, underlay.mtu, sw.pool, out, underlay.txOffload);
  if (res === sttTx.SEGMENTED) p.owner?.free(p);
  else if (res !== sttTx.IN_PLACE) {
    out.clear();
    sw.drop(p, sw.counters.id(`drop-stt-${STT_FAIL[res] ?? res}`));
    return;
  }
  stageAll(sw, underlay, out);
}

const STT_FAIL = ['', '', 'too-big', 'no-buffers', 'no-headroom', 'mtu-too-small'];
const SOE_FAIL = ['', '', '', 'too-big', 'no-headroom', 'no-buffers', 'bad-csum', 'fallback-failed'];

export function soeOutput(
  sw: Switch,
  t: TunnelPort,
  underlay: Port,
  p: Packet,
  remote: Uint8Array,
  vni: number,
  mac: Uint8Array,
): void {
  const tx = sw.transmitters.soe(t, remote, vni, mac);
  const out = sw.segOut;
  out.clear();
  // SOE sends DF clear and fragments the outer datagram: no frame is too big up to 65,499 bytes.
  const res = tx.send(p, underlay.mtu, out, underlay.txOffload);
  if (res === soeTx.FRAGMENTED || res === soeTx.FALLBACK) p.owner?.free(p);
  else if (res !== soeTx.IN_PLACE) {
    out.clear();
    sw.drop(p, sw.counters.id(`drop-soe-${SOE_FAIL[res] ?? res}`));
    return;
  }
  stageAll(sw, underlay, out);
}
