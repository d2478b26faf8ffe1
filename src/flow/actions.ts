// Actions and instructions as plain data (cf. OVS struct ofpact): the text parser and the OpenFlow codec
// produce them, the datapath executes them, the printer turns them back into ovs-ofctl text.
// Port numbers are OpenFlow 1.3's 32-bit ones; reserved ports keep their OF1.3 values (openflow-etcd.md §6).
import type { Field } from './fields.ts';
import { FRAG_LATER, NW_FRAG, TP_DST, TP_SRC, VLAN_CFI, VLAN_TCI } from './key.ts';
import { type Match, prereqOk } from './match.ts';

export const OFPP_MAX = 0xffffff00; //    last regular port + 1
export const OFPP_IN_PORT = 0xfffffff8;
export const OFPP_TABLE = 0xfffffff9;
export const OFPP_NORMAL = 0xfffffffa;
export const OFPP_FLOOD = 0xfffffffb;
export const OFPP_ALL = 0xfffffffc;
export const OFPP_CONTROLLER = 0xfffffffd;
export const OFPP_LOCAL = 0xfffffffe;
export const OFPP_ANY = 0xffffffff; //    "no port" (out_port filter wildcard)
/** A port written by name that is not resolved yet (see OutputAction.portName). */
export const OFPP_UNRESOLVED = 0xffffff00;

export const RESERVED_PORTS: ReadonlyArray<readonly [number, string]> = [
  [OFPP_IN_PORT, 'IN_PORT'],
  [OFPP_TABLE, 'TABLE'],
  [OFPP_NORMAL, 'NORMAL'],
  [OFPP_FLOOD, 'FLOOD'],
  [OFPP_ALL, 'ALL'],
  [OFPP_CONTROLLER, 'CONTROLLER'],
  [OFPP_LOCAL, 'LOCAL'],
  [OFPP_ANY, 'ANY'],
];

/** output:PORT, or output(port=P,max_len=N) when `trunc` (OVS ofpact_output_trunc). */
export interface OutputAction {
  kind: 'output';
  /** OF1.3 port number; OFPP_UNRESOLVED when given by a name the parser could not resolve. */
  port: number;
  /** The name the flow text used ('' when numeric / reserved), kept so the datapath can resolve it later. */
  portName: string;
  maxLen: number;
  trunc: boolean;
}
/** Send to the controller (PACKET_IN): CONTROLLER:max_len or controller(reason=…,max_len=…,id=…). */
export interface ControllerAction {
  kind: 'controller';
  maxLen: number;
  /** 'action' (the default), 'no_match' or 'invalid_ttl'. */
  reason: string;
  id: number;
}
/** set_field:value[/mask]->field (also what mod_dl_src, mod_nw_dst, set_tunnel … become). */
export interface SetFieldAction {
  kind: 'set_field';
  field: Field;
  value: bigint;
  mask: bigint;
}
/** load:value->FIELD[ofs..ofs+nBits-1] (Nicira REG_LOAD). */
export interface LoadAction {
  kind: 'load';
  field: Field;
  ofs: number;
  nBits: number;
  value: bigint;
}
/** move:SRC[a..b]->DST[c..d] (Nicira REG_MOVE). */
export interface MoveAction {
  kind: 'move';
  src: Field;
  srcOfs: number;
  dst: Field;
  dstOfs: number;
  nBits: number;
}
export interface PushVlanAction {
  kind: 'push_vlan';
  ethertype: number;
}
export interface SimpleAction {
  kind: 'pop_vlan' | 'dec_ttl' | 'pop_queue' | 'exit' | 'clear_actions';
}
/** mod_nw_ttl:N (OF1.1+ SET_NW_TTL). */
export interface SetNwTtlAction {
  kind: 'set_nw_ttl';
  ttl: number;
}
export interface SetQueueAction {
  kind: 'set_queue';
  queue: number;
}
/** resubmit([port],[table]): run the pipeline again as if from `port` (IN_PORT = unchanged) in `table` (255 = this one). */
export interface ResubmitAction {
  kind: 'resubmit';
  port: number;
  table: number;
}
/** Instruction GOTO_TABLE: continue in a later table after this flow's actions. */
export interface GotoTableAction {
  kind: 'goto_table';
  table: number;
}
/** Instruction WRITE_METADATA. */
export interface WriteMetadataAction {
  kind: 'write_metadata';
  value: bigint;
  mask: bigint;
}
/**
 * NORMAL resolved at translation for a known unicast destination (xlate-normal in the datapath; OVS
 * xlate_normal): output to `port`, and when it is a tunnel, with tun_id's low word = `tunIdLo` and the
 * learned VTEP written at key word `dstWord` (TUN_DST: 1 word, TUN_IPV6_DST: 4; -1 = none) for that
 * output only. Made by translation, never parsed or printed as ovs-ofctl text.
 */
export interface NormalOutputAction {
  kind: 'normal_output';
  port: number;
  /** -1: not a tunnel port (no tunnel words are set). */
  tunIdLo: number;
  dstWord: number;
  dst: readonly number[];
}
/** note:hex.bytes — carries opaque bytes, does nothing (as OVS NXAST_NOTE). */
export interface NoteAction {
  kind: 'note';
  data: Uint8Array;
}

export type Action =
  | OutputAction
  | ControllerAction
  | SetFieldAction
  | LoadAction
  | MoveAction
  | PushVlanAction
  | SimpleAction
  | SetNwTtlAction
  | SetQueueAction
  | ResubmitAction
  | GotoTableAction
  | WriteMetadataAction
  | NoteAction
  | NormalOutputAction;

/** FLOW_MOD flags (OF1.3 ofp_flow_mod_flags). */
export const FF_SEND_FLOW_REM = 1;
export const FF_CHECK_OVERLAP = 2;
export const FF_RESET_COUNTS = 4;
export const FF_NO_PKT_COUNTS = 8;
export const FF_NO_BYT_COUNTS = 16;

export const DEFAULT_PRIORITY = 32768;

/** One flow as the control plane hands it to the tables (the parsed form of an ovs-ofctl flow / FLOW_MOD). */
export interface FlowSpec {
  table: number;
  priority: number;
  match: Match;
  cookie: bigint;
  /** Only for modify/delete filters: which cookie bits must equal `cookie` (0 = any cookie). */
  cookieMask: bigint;
  idleTimeout: number;
  hardTimeout: number;
  importance: number;
  flags: number;
  /** Delete filter: only flows with an output to this port (OFPP_ANY = no filter). */
  outPort: number;
  outGroup: number;
  actions: Action[];
}

export function newFlowSpec(match: Match): FlowSpec {
  return {
    table: 0,
    priority: DEFAULT_PRIORITY,
    match,
    cookie: 0n,
    cookieMask: 0n,
    idleTimeout: 0,
    hardTimeout: 0,
    importance: 0,
    flags: 0,
    outPort: OFPP_ANY,
    outGroup: OFPP_ANY,
    actions: [],
  };
}

/**
 * OVS ofpacts_check: every field an action reads or writes must have its prerequisites in the match
 * (set_field:…->ip_src needs ip). Returns null or ovs-ofctl's message. Instruction order: goto_table last.
 */
export function checkActions(actions: readonly Action[], match: Match): string | null {
  const bad = 'actions are invalid with specified match (OFPBAC_MATCH_INCONSISTENT)';
  // OF1.1+ VLAN actions need a tag to act on: one in the match (present bit) or pushed earlier; and
  // at most 2 tags exist (OVS FLOW_MAX_VLAN_HEADERS).
  // A later fragment has no L4 header, so its ports cannot be written.
  const laterFrag = (match.value[NW_FRAG]! & FRAG_LATER) !== 0;
  let tags = (match.value[VLAN_TCI]! & VLAN_CFI) !== 0 ? 1 : 0;
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i]!;
    switch (a.kind) {
      case 'push_vlan':
        if (++tags > 2)
          return `push_vlan: more than 2 VLAN tags: actions are invalid with specified match (OFPBAC_BAD_TAG)`;
        break;
      case 'pop_vlan':
        if (tags === 0) return `pop_vlan without a VLAN tag in the match or a push_vlan before it: ${bad}`;
        tags--;
        break;
      case 'dec_ttl':
      case 'set_nw_ttl':
        if (!prereqOk(match, 'ip'))
          return `${a.kind === 'dec_ttl' ? 'dec_ttl' : 'mod_nw_ttl'} needs ip or ipv6: ${bad}`;
        break;
      case 'set_field':
      case 'load':
        if (!prereqOk(match, a.field.prereq)) return `set_field/load destination ${a.field.name}: ${bad}`;
        if (laterFrag && (a.field.word === TP_SRC || a.field.word === TP_DST))
          return `${a.field.name} of a later fragment: ${bad}`;
        if (
          a.kind === 'set_field' &&
          (a.field.name === 'vlan_vid' || a.field.name === 'vlan_pcp') &&
          tags === 0
        )
          return `set_field:…->${a.field.name} without a VLAN tag: ${bad}`;
        break;
      case 'move':
        if (!prereqOk(match, a.src.prereq) || !prereqOk(match, a.dst.prereq))
          return `move ${a.src.name}->${a.dst.name}: ${bad}`;
        if (laterFrag && [a.src.word, a.dst.word].some((w) => w === TP_SRC || w === TP_DST))
          return `move on the ports of a later fragment: ${bad}`;
        break;
      case 'goto_table':
        if (i !== actions.length - 1) return 'goto_table must be the last instruction';
        break;
      case 'write_metadata': {
        const next = actions[i + 1];
        if (next && next.kind !== 'goto_table') return 'write_metadata must come after all actions';
        break;
      }
      default:
        break;
    }
  }
  return null;
}

/** Does any action output to `port` (DELETE's out_port filter)? */
export function outputsTo(actions: readonly Action[], port: number): boolean {
  for (const a of actions) {
    if (a.kind === 'output' && a.port === port) return true;
    if (a.kind === 'controller' && port === OFPP_CONTROLLER) return true;
  }
  return false;
}
