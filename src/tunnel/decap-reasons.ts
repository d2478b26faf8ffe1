// Why a frame was not decapsulated: one number per reason, for counters in a typed array. A codec's
// status becomes `<layer>-<status>` (vxlan-bad-flags, ipv4-bad-checksum: the `drop-<proto>-<status>`
// scheme of status.ts without the prefix), plus the few reasons no codec returns.
import { statusName } from '../wire/status.ts';

export const OK = 0;
/** Layers whose codec status can end a decap, in header order. */
export const LAYERS = [
  'ethernet',
  'vlan',
  'ipv4',
  'ipv6',
  'udp',
  'tcp',
  'gre',
  'vxlan',
  'vxlan-gpe',
  'vxlan-soe',
  'geneve',
  'stt',
  'inner',
] as const;
export const L_ETHERNET = 0;
export const L_VLAN = 1;
export const L_IPV4 = 2;
export const L_IPV6 = 3;
export const L_UDP = 4;
export const L_TCP = 5;
export const L_GRE = 6;
export const L_VXLAN = 7;
export const L_VXLAN_GPE = 8;
export const L_VXLAN_SOE = 9;
export const L_GENEVE = 10;
export const L_STT = 11;
export const L_INNER = 12;

const STATUS_SLOTS = 16;
/** Reason id for a codec status at a layer. */
export const layerReason = (layer: number, status: number): number => 1 + layer * STATUS_SLOTS + status;

const SPECIAL_BASE = 1 + LAYERS.length * STATUS_SLOTS;
/** No tunnel: not IP, or IP but no tunnel protocol/port we know. */
export const NOT_ENCAPSULATED = SPECIAL_BASE;
/** An outer IPv4/IPv6 fragment: reassembly is the offload engine's job (src/offload). */
export const OUTER_FRAGMENT = SPECIAL_BASE + 1;
/** One segment of a multi-segment STT frame (needs STT reassembly). */
export const STT_SEGMENT = SPECIAL_BASE + 2;
/** The link type of the capture is not one we parse (only Ethernet and raw IP are). */
export const UNSUPPORTED_LINKTYPE = SPECIAL_BASE + 3;
/** The captured bytes stop before the frame's own lengths say (snap length cut). */
export const SNAPLEN_CUT = SPECIAL_BASE + 4;
/** The encapsulated frame would exceed --mtu (encap). */
export const TOO_BIG = SPECIAL_BASE + 5;
/** The inner frame is not Ethernet or IP and cannot be carried by the requested encapsulation. */
export const INNER_UNSUPPORTED = SPECIAL_BASE + 6;
/** Taken into a reassembly in progress (not a drop: it comes out with the frame that completes it). */
export const HELD = SPECIAL_BASE + 7;
/** Dropped by a reassembler (frame-decapper.ts names the counter, e.g. ipv4-frag-overlap). */
export const REASSEMBLY_DROP = SPECIAL_BASE + 8;
export const REASON_COUNT = SPECIAL_BASE + 9;

const SPECIAL = [
  'not-encapsulated',
  'outer-fragment-not-reassembled',
  'stt-segment-not-reassembled',
  'unsupported-linktype',
  'snaplen-cut',
  'too-big',
  'inner-unsupported',
  'held-for-reassembly',
  'reassembly-drop',
];

export function reasonName(id: number): string {
  if (id === OK) return 'ok';
  if (id >= SPECIAL_BASE) return SPECIAL[id - SPECIAL_BASE] ?? `unknown(${id})`;
  const layer = Math.floor((id - 1) / STATUS_SLOTS);
  return `${LAYERS[layer]}-${statusName((id - 1) % STATUS_SLOTS)}`;
}
