// ovs-ofctl flow text → FlowSpec (cf. OVS lib/ofp-flow.c parse_ofp_str, lib/ofp-actions.c, ovs-fields(7)).
//
//   [table=T,][priority=P,][cookie=C[/M],][idle_timeout=I,][hard_timeout=H,][flags…,]
//   [ip|tcp|udp|…,][field=value[/mask],…] actions=action[,action…]
//
// Items are separated by commas or spaces; `actions=` takes the rest of the line. Values are decimal or
// 0x-hex; masks are value/mask, CIDR for addresses, or field[a..b]=v for bit ranges. Semantics follow
// ovs-ofctl -O OpenFlow13 (what it prints after a FLOW_MOD round trip): vlan_tci masks narrow to what OF1.3
// can carry, mod_vlan_vid pushes a tag when the match has none, mod_tp_* picks tcp/udp/sctp from the match.
// Where ovs-ofctl silently drops a field whose prerequisites are missing ("normalization changed
// ofp_match"), nvo by default refuses with an error naming the field; { normalize: true } copies ovs-ofctl.
import {
  checkActions,
  FF_CHECK_OVERLAP,
  FF_NO_BYT_COUNTS,
  FF_NO_PKT_COUNTS,
  FF_RESET_COUNTS,
  FF_SEND_FLOW_REM,
  type FlowSpec,
  newFlowSpec,
} from './actions.ts';
import { type Field, fieldByName } from './fields.ts';
import { FRAG_LATER, NW_FRAG, TCP_FLAGS, TP_DST, TP_SRC, VLAN_CFI, VLAN_TCI } from './key.ts';
import { Match, prereqOk, prereqText } from './match.ts';
import { parseActions } from './ofctl-actions.ts';
import {
  fail,
  type ParseOptions,
  parseFieldValue,
  parseInteger,
  parsePort,
  parseSubfield,
  splitItems,
} from './ofctl-values.ts';

export { parseActions } from './ofctl-actions.ts';
export {
  FlowSyntaxError,
  type ParseOptions,
  parseFieldValue,
  parseInteger,
  parsePort,
  parseSubfield,
  type Subfield,
  splitItems,
  TCP_FLAG_NAMES,
} from './ofctl-values.ts';

// OVS's TCP/UDP/SCTP prerequisites exclude later fragments (ICMP's do not).
const L4_WORDS = new Set([TP_SRC, TP_DST, TCP_FLAGS]);

// --- match fields ----------------------------------------------------------------------------------

/** Protocol shorthands: dl_type and, for some, nw_proto (OVS parse_protocol). */
export const PROTOCOLS: Record<string, [number, number]> = {
  ip: [0x0800, -1],
  ipv4: [0x0800, -1],
  icmp: [0x0800, 1],
  tcp: [0x0800, 6],
  udp: [0x0800, 17],
  sctp: [0x0800, 132],
  ipv6: [0x86dd, -1],
  ip6: [0x86dd, -1],
  icmp6: [0x86dd, 58],
  tcp6: [0x86dd, 6],
  udp6: [0x86dd, 17],
  sctp6: [0x86dd, 132],
  arp: [0x0806, -1],
  rarp: [0x8035, -1],
};

/** Fields ovs-ofctl knows but nvo does not implement: refused with a clear message. */
const UNSUPPORTED_FIELDS =
  /^(tun_metadata\d+|tun_gbp_id|tun_gbp_flags|tun_tos|tun_ttl|tun_erspan_\w+|tun_gtpu_\w+|ct_\w+|mpls_\w+|skb_priority|recirc_id|dp_hash|conj_id|actset_output|packet_type|nsh_\w+|igmp_\w+|vlan_tci2)$/;

function applyField(m: Match, fl: Field, key: string, text: string, opts: ParseOptions): void {
  // field[a..b]=v: a bit range of the field.
  const br = key.indexOf('[');
  if (br >= 0) {
    const sf = parseSubfield(key);
    const v = parseInteger(text, sf.field.name);
    if (v >= 1n << BigInt(sf.nBits)) fail(`${text}: value too large for ${sf.nBits}-bit subfield ${key}`);
    if (!sf.field.maskable && sf.nBits !== sf.field.bits)
      fail(`${key}: field ${sf.field.name} is not maskable`);
    m.setBits(sf.field, v << BigInt(sf.ofs), ((1n << BigInt(sf.nBits)) - 1n) << BigInt(sf.ofs));
    return;
  }
  if (fl.name === 'dl_vlan') {
    if (text.includes('/')) fail(`${text}: invalid mask for field dl_vlan`);
    // OVS match_set_dl_vlan: 0xffff (OFP10_VLAN_NONE) = untagged; else the low 12 bits + present bit.
    const raw = parseInteger(text, 'dl_vlan');
    if (raw === 0xffffn) m.set(TCI, 0n, 0xffffn);
    else m.setBits(TCI, (raw & 0xfffn) | BigInt(VLAN_CFI), 0x1fffn);
    return;
  }
  const { value, mask } = parseFieldValue(fl, text, opts);
  if (fl.name === 'vlan_pcp') {
    // match_set_dl_vlan_pcp: the tag must be present too.
    m.setBits(TCI, (value << 13n) | BigInt(VLAN_CFI), 0xf000n);
    return;
  }
  m.set(fl, value, mask);
}

const TCI = fieldByName('vlan_tci')!;

/**
 * What OF1.3 can carry of a vlan_tci match (OVS nx_put_raw + decode): VLAN_VID covers VID|CFI (maskable),
 * VLAN_PCP is exact and only sent when the VID value is non-zero.
 */
export function narrowVlanToOf13(m: Match): void {
  const v = m.value[VLAN_TCI]!;
  const mk = m.mask[VLAN_TCI]!;
  const vidMask = mk & 0x1fff;
  const vid = v & vidMask;
  let nv = vid;
  let nm = vidMask;
  if (vid !== 0 && mk & 0xe000) {
    // OXM VLAN_PCP requires VLAN_VID with the present bit (OFPBMC_BAD_PREREQ otherwise).
    if (!(vidMask & VLAN_CFI && v & VLAN_CFI))
      fail(
        'vlan_tci: matching the PCP needs the VLAN present bit 0x1000 in value and mask (OF1.3 VLAN_PCP prerequisite)',
      );
    nm |= 0xf000;
    nv = (nv & 0x0fff) | (v & 0xe000) | VLAN_CFI;
  }
  m.value[VLAN_TCI] = nv;
  m.mask[VLAN_TCI] = nm;
}

// --- whole flows -----------------------------------------------------------------------------------

/** Where "actions=" / "action=" starts (OVS ofp_extract_actions), or -1. */
function findActions(s: string): [number, number] {
  const re = /(^|[\s,])actions?=/g;
  const m = re.exec(s);
  if (!m) return [-1, -1];
  const at = m.index + m[1]!.length;
  return [at, at + m[0].length - m[1]!.length];
}

/**
 * Parses one flow line. `command` changes what is required: 'add' and 'modify' need actions; 'delete'
 * forbids them and accepts out_port / out_group / cookie masks.
 */
export function parseFlow(
  text: string,
  opts: ParseOptions = {},
  command: 'add' | 'modify' | 'delete' = 'add',
): FlowSpec {
  const [aStart, aValue] = findActions(text);
  if (command !== 'delete' && aStart < 0) fail('must specify an action');
  if (command === 'delete' && aStart >= 0) fail('actions are not allowed when deleting flows');
  const matchText = aStart >= 0 ? text.slice(0, aStart) : text;
  const match = new Match();
  const spec = newFlowSpec(match);
  const set: { fl: Field; key: string }[] = [];
  let proto = -1;
  for (const it of splitItems(matchText)) {
    const k = it.key;
    const v = it.value;
    const p = PROTOCOLS[k];
    if (p && v === '') {
      match.set(fieldByName('eth_type')!, BigInt(p[0]));
      if (p[1] >= 0) proto = p[1];
      continue;
    }
    switch (k) {
      case 'table':
        spec.table = Number(parseInteger(v, 'table'));
        if (spec.table > 255 || (spec.table === 255 && command !== 'delete')) fail(`${v}: invalid table id`);
        continue;
      case 'priority': {
        const pr = Number(parseInteger(v, 'priority'));
        if (pr > 65535) fail(`${v}: priority is out of range`);
        spec.priority = pr;
        continue;
      }
      case 'cookie': {
        const [c, cm] = v.split('/');
        spec.cookie = parseInteger(c!, 'cookie');
        if (cm !== undefined) {
          if (command === 'add') fail('cannot set cookie mask when adding a flow');
          spec.cookieMask = cm === '-1' ? 0xffffffffffffffffn : parseInteger(cm, 'cookie');
        }
        if (spec.cookie > 0xffffffffffffffffn) fail(`${v}: cookie out of range`);
        continue;
      }
      case 'idle_timeout':
      case 'hard_timeout':
      case 'importance': {
        const n = Number(parseInteger(v, k));
        if (n > 65535) fail(`${v}: ${k} out of range`);
        if (k === 'idle_timeout') spec.idleTimeout = n;
        else if (k === 'hard_timeout') spec.hardTimeout = n;
        else spec.importance = n;
        continue;
      }
      case 'send_flow_rem':
        spec.flags |= FF_SEND_FLOW_REM;
        continue;
      case 'check_overlap':
        spec.flags |= FF_CHECK_OVERLAP;
        continue;
      case 'reset_counts':
        spec.flags |= FF_RESET_COUNTS;
        continue;
      case 'no_packet_counts':
        spec.flags |= FF_NO_PKT_COUNTS;
        continue;
      case 'no_byte_counts':
        spec.flags |= FF_NO_BYT_COUNTS;
        continue;
      case 'out_port':
        spec.outPort = parsePort(v, opts, false);
        continue;
      case 'out_group':
        spec.outGroup = Number(parseInteger(v, 'out_group'));
        continue;
      // What dump-flows prints and ovs-ofctl ignores on input.
      case 'duration':
      case 'n_packets':
      case 'n_bytes':
      case 'idle_age':
      case 'hard_age':
        continue;
    }
    if (k === 'mpls' || k === 'mplsm') fail(`${k}: MPLS is not supported by nvo`);
    const base = k.split('[')[0]!;
    const fl = fieldByName(base);
    if (!fl) {
      if (UNSUPPORTED_FIELDS.test(base)) fail(`${base}: field not supported by nvo`);
      fail(`unknown keyword ${k}`);
    }
    if (v === '' && !k.includes('[')) fail(`field ${k} missing value`);
    applyField(match, fl!, k, v, opts);
    set.push({ fl: fl!, key: k });
  }
  if (proto >= 0) match.set(fieldByName('nw_proto')!, BigInt(proto));
  // Prerequisites per field name, once the whole match is known (field order does not matter).
  const laterFrag = (match.value[NW_FRAG]! & FRAG_LATER) !== 0;
  for (const { fl, key } of set) {
    // A later fragment has no L4 header: OVS refuses L4 fields with nw_frag=later even when normalizing.
    if (laterFrag && L4_WORDS.has(fl.word))
      fail(`${key}: L4 fields cannot be matched with nw_frag=later (OFPBMC_BAD_PREREQ)`);
    let ok = prereqOk(match, fl.prereq);
    let need = fl.prereq;
    if (fl.prereq === 'icmpv4' && !ok && prereqOk(match, 'icmpv6')) ok = true; // icmp6,icmp_type=…
    if (fl.prereq === 'icmpv6' && !ok) need = 'icmpv6';
    if (ok) continue;
    if (opts.normalize) match.clear(fl);
    else fail(`${key}: field requires ${prereqText(need)} in the match (OFPBMC_BAD_PREREQ)`);
  }
  narrowVlanToOf13(match);
  if (aStart >= 0) {
    spec.actions = parseActions(text.slice(aValue), match, opts);
    const err = checkActions(spec.actions, match);
    if (err) fail(err);
  }
  return spec;
}
