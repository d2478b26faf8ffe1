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
  type Action,
  checkActions,
  FF_CHECK_OVERLAP,
  FF_NO_BYT_COUNTS,
  FF_NO_PKT_COUNTS,
  FF_RESET_COUNTS,
  FF_SEND_FLOW_REM,
  type FlowSpec,
  newFlowSpec,
  OFPP_IN_PORT,
  OFPP_UNRESOLVED,
  RESERVED_PORTS,
} from './actions.ts';
import { type Field, fieldByName, fieldMax } from './fields.ts';
import { FRAG_LATER, NW_FRAG, TCP_FLAGS, TP_DST, TP_SRC, VLAN_CFI, VLAN_TCI } from './key.ts';

// OVS's TCP/UDP/SCTP prerequisites exclude later fragments (ICMP's do not).
const L4_WORDS = new Set([TP_SRC, TP_DST, TCP_FLAGS]);

import { Match, prereqOk, prereqText } from './match.ts';

export interface ParseOptions {
  /** Resolves a port name (output:vx0, in_port=p1); undefined = unknown. */
  portByName?: (name: string) => number | undefined;
  /** Drop fields with unmet prerequisites instead of failing (ovs-ofctl's behaviour). */
  normalize?: boolean;
}

/** A flow-text error; `message` is what the user sees (ovs-ofctl's wording where it has one). */
export class FlowSyntaxError extends Error {
  override name = 'FlowSyntaxError';
}

const fail = (msg: string): never => {
  throw new FlowSyntaxError(msg);
};

// --- tokenizer -------------------------------------------------------------------------------------

interface Item {
  key: string;
  value: string;
}

/** Splits "k=v,k2:v2 k3(args)" at top-level commas/blanks (OVS ofputil_parse_key_value). */
export function splitItems(s: string): Item[] {
  const out: Item[] = [];
  let i = 0;
  const n = s.length;
  const sep = (c: string) => c === ',' || c === ' ' || c === '\t' || c === '\r' || c === '\n';
  while (i < n) {
    while (i < n && sep(s[i]!)) i++;
    if (i >= n) break;
    let k = i;
    while (k < n && !':=('.includes(s[k]!) && !sep(s[k]!)) k++;
    const key = s.slice(i, k);
    let value = '';
    if (k < n && s[k] === '(') {
      let depth = 1;
      let j = k + 1;
      while (j < n && depth > 0) {
        if (s[j] === '(') depth++;
        else if (s[j] === ')') depth--;
        j++;
      }
      if (depth !== 0) fail(`${s.slice(i)}: unbalanced parentheses`);
      value = s.slice(k + 1, j - 1);
      i = j;
    } else if (k < n && (s[k] === ':' || s[k] === '=')) {
      let j = k + 1;
      let depth = 0;
      while (j < n && (depth > 0 || !sep(s[j]!))) {
        const c = s[j]!;
        if (c === '(' || c === '[') depth++;
        else if (c === ')' || c === ']') depth--;
        j++;
      }
      value = s.slice(k + 1, j);
      i = j;
    } else i = k;
    out.push({ key, value });
  }
  return out;
}

// --- numbers and addresses -------------------------------------------------------------------------

export function parseInteger(text: string, what: string): bigint {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  if (/^[0-9]+$/.test(t)) return BigInt(t);
  return fail(`${text}: invalid numeric format for ${what}`);
}

function macBig(text: string): bigint {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p)))
    fail(`${text}: invalid Ethernet address`);
  let v = 0n;
  for (const p of parts) v = (v << 8n) | BigInt(Number.parseInt(p, 16));
  return v;
}

function ipv4Big(text: string): bigint {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    fail(`${text}: invalid IP address`);
  let v = 0n;
  for (const p of parts) v = (v << 8n) | BigInt(p);
  return v;
}

function ipv6Big(text: string): bigint {
  let t = text;
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const halves = t.split('::');
  if (halves.length > 2) fail(`${text}: invalid IPv6 address`);
  const grp = (h: string) => (h === '' ? [] : h.split(':'));
  const head = grp(halves[0]!);
  const tail = halves.length === 2 ? grp(halves[1]!) : [];
  // A trailing dotted quad counts as two groups.
  const expand = (g: string[]) => {
    const last = g[g.length - 1];
    if (last?.includes('.')) {
      const v = ipv4Big(last);
      g.splice(g.length - 1, 1, ((v >> 16n) & 0xffffn).toString(16), (v & 0xffffn).toString(16));
    }
    return g;
  };
  const h = halves.length === 2 ? head : expand(head);
  const tl = expand(tail);
  const fill = 8 - h.length - tl.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0))
    fail(`${text}: invalid IPv6 address`);
  const all = [...h, ...new Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tl];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) fail(`${text}: invalid IPv6 address`);
    v = (v << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return v;
}

const prefixMask = (len: number, bits: number): bigint =>
  len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(bits - len);

/** Parses one "value[/mask]" for a field; mask defaults to all ones. */
export function parseFieldValue(
  fl: Field,
  text: string,
  opts: ParseOptions = {},
): { value: bigint; mask: bigint } {
  const max = fieldMax(fl);
  const slash = fl.format === 'ipv6' ? text.lastIndexOf('/') : text.indexOf('/');
  const vt = slash >= 0 ? text.slice(0, slash) : text;
  const mt = slash >= 0 ? text.slice(slash + 1) : undefined;
  let value: bigint;
  let mask = max;
  switch (fl.format) {
    case 'mac':
      value = macBig(vt);
      if (mt !== undefined) mask = macBig(mt);
      break;
    case 'ipv4':
    case 'ipv6': {
      const v6 = fl.format === 'ipv6';
      const bits = v6 ? 128 : 32;
      value = v6 ? ipv6Big(vt) : ipv4Big(vt);
      if (mt !== undefined) {
        if (/^\d+$/.test(mt)) {
          const len = Number(mt);
          if (len > bits) fail(`${text}: invalid prefix length`);
          mask = prefixMask(len, bits);
        } else mask = v6 ? ipv6Big(mt) : ipv4Big(mt);
      }
      break;
    }
    case 'port':
      if (mt !== undefined) fail(`${text}: invalid mask for field ${fl.name}`);
      value = BigInt(parsePort(vt, opts, false));
      break;
    case 'frag': {
      const t = FRAG_TEXT[vt];
      if (!t)
        return fail(
          `${vt}: unknown fragment type (valid types are "no", "yes", "first", "later", "not_later")`,
        );
      return { value: BigInt(t[0]), mask: BigInt(t[1]) };
    }
    case 'tcpflags':
    case 'tunflags':
      return parseFlags(fl, text);
    default: {
      value = parseInteger(vt, fl.name) >> BigInt(fl.textShift);
      if (mt !== undefined) mask = parseInteger(mt, fl.name) >> BigInt(fl.textShift);
    }
  }
  if (mt !== undefined && !fl.maskable) fail(`${text}: invalid mask for field ${fl.name}`);
  if (value > max) fail(`${vt}: value too large for ${fl.bits}-bit field ${fl.name}`);
  if (mask > max) fail(`${mt}: mask too large for ${fl.bits}-bit field ${fl.name}`);
  return { value, mask };
}

const FRAG_TEXT: Record<string, [number, number]> = {
  no: [0, 3],
  yes: [1, 1],
  first: [1, 3],
  later: [3, 3],
  not_later: [0, 2],
};

export const TCP_FLAG_NAMES = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr', 'ns'];

/** "+syn-ack", "syn|ack", "0x12", "0x12/0x12" (OVS parse_flags). */
function parseFlags(fl: Field, text: string): { value: bigint; mask: bigint } {
  const names = fl.format === 'tcpflags' ? TCP_FLAG_NAMES : ['oam'];
  const max = fieldMax(fl);
  if (/^[0-9]/.test(text)) {
    const [v, m] = text.split('/');
    const value = parseInteger(v!, fl.name);
    const mask = m === undefined ? max : parseInteger(m, fl.name);
    if (value > max || mask > max) fail(`${text}: value too large for field ${fl.name}`);
    return { value: value & mask, mask };
  }
  let value = 0n;
  let mask = 0n;
  if (text.startsWith('+') || text.startsWith('-')) {
    const re = /([+-])([a-z_]+)/gy;
    let m: RegExpExecArray | null;
    let at = 0;
    while ((m = re.exec(text)) !== null) {
      at = re.lastIndex;
      const bit = names.indexOf(m[2]!);
      if (bit < 0) fail(`${m[2]}: unknown ${fl.name.replace('_flags', '')} flag`);
      const b = 1n << BigInt(bit);
      if (mask & b)
        fail(`${m[2]}: Each ${fl.format === 'tcpflags' ? 'TCP' : 'tunnel'} flag can be specified only once`);
      mask |= b;
      if (m[1] === '+') value |= b;
    }
    if (at !== text.length) fail(`${text}: invalid flags syntax for ${fl.name}`);
    return { value, mask };
  }
  for (const part of text.split('|')) {
    const bit = names.indexOf(part);
    if (bit < 0) fail(`${part}: unknown ${fl.name} flag`);
    value |= 1n << BigInt(bit);
  }
  return { value, mask: max };
}

/** Port number from text: a number, a reserved name, or a name the resolver knows. */
export function parsePort(text: string, opts: ParseOptions, allowUnresolved: boolean): number {
  const up = text.toUpperCase();
  for (const [n, name] of RESERVED_PORTS) if (up === name) return n;
  if (/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) {
    const n = Number(text);
    // OF1.0 16-bit reserved ports (0xfff8..0xffff) mean their OF1.3 counterparts, as ovs-ofctl maps them.
    if (n >= 0xfff8 && n <= 0xffff) return (0xffff0000 | n) >>> 0;
    if (n > 0xffffffff) fail(`${text}: port number out of range`);
    return n;
  }
  const r = opts.portByName?.(text);
  if (r !== undefined) return r;
  if (allowUnresolved && /^[A-Za-z_][\w.-]*$/.test(text)) return OFPP_UNRESOLVED;
  return fail(`${text}: unknown port`);
}

// --- subfields: NAME[], NAME[a..b], NAME[a] --------------------------------------------------------

export interface Subfield {
  field: Field;
  ofs: number;
  nBits: number;
}

export function parseSubfield(text: string): Subfield {
  const m = /^([A-Za-z_][\w]*)(?:\[(?:(\d+)(?:\.\.(\d+))?)?\])?$/.exec(text.trim());
  if (!m) return fail(`${text}: invalid field syntax`);
  const field = fieldByName(m[1]!);
  if (!field) return fail(`${m[1]}: unknown or unsupported field`);
  if (m[2] === undefined) return { field, ofs: 0, nBits: field.bits };
  const a = Number(m[2]);
  const b = m[3] === undefined ? a : Number(m[3]);
  if (b < a || b >= field.bits)
    fail(`${text}: bit range ${a}..${b} out of range for ${field.bits}-bit field ${field.name}`);
  return { field, ofs: a, nBits: b - a + 1 };
}

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

// --- actions ---------------------------------------------------------------------------------------

const UNSUPPORTED_ACTIONS = new Set([
  'ct',
  'ct_clear',
  'sample',
  'multipath',
  'bundle',
  'bundle_load',
  'fin_timeout',
  'push',
  'pop',
  'set_mpls_label',
  'set_mpls_tc',
  'set_mpls_ttl',
  'push_mpls',
  'pop_mpls',
  'dec_mpls_ttl',
  'learn',
  'enqueue',
  'group',
  'clone',
  'conjunction',
  'meter',
  'write_actions',
  'nat',
  'check_pkt_larger',
  'encap',
  'decap',
  'dec_nsh_ttl',
  'delete_field',
  'debug_recirc',
  'debug_slow',
  'mod_dl_vlan',
]);

function hexBig(v: bigint): string {
  return v === 0n ? '0' : `0x${v.toString(16)}`;
}

function parseNote(text: string): Uint8Array {
  const out: number[] = [];
  for (const part of text.split('.')) {
    if (part === '') continue;
    if (!/^[0-9a-f]{1,2}$/i.test(part)) fail(`${text}: bad hex digit in note`);
    out.push(Number.parseInt(part, 16));
  }
  // NXAST_NOTE is a 10-byte header + the bytes, padded to a multiple of 8 (minimum 16): the padding
  // zeros become part of the note, which is why ovs-ofctl prints note:41.42.43 back as 41.42.43.00.00.00.
  const len = Math.max(16, Math.ceil((10 + out.length) / 8) * 8) - 10;
  const data = new Uint8Array(len);
  data.set(out);
  return data;
}

/** Parses the text after "actions=". `match` decides mod_tp_* and mod_vlan_* forms and action prerequisites. */
export function parseActions(text: string, match: Match, opts: ParseOptions = {}): Action[] {
  const acts: Action[] = [];
  const items = splitItems(text);
  // mod_vlan_* pushes a tag first unless the match guarantees one (OVS push_vlan_if_needed).
  let tags = (match.value[VLAN_TCI]! & VLAN_CFI) !== 0 ? 1 : 0;
  const needVlan = () => {
    if (tags === 0) {
      acts.push({ kind: 'push_vlan', ethertype: 0x8100 });
      tags = 1;
    }
  };
  const setf = (name: string, value: bigint, mask?: bigint) => {
    const fl = fieldByName(name)!;
    acts.push({ kind: 'set_field', field: fl, value, mask: mask ?? fieldMax(fl) });
  };
  for (const it of items) {
    const k = it.key.toLowerCase();
    const v = it.value;
    if (/^\d+$/.test(it.key) && v === '') {
      acts.push({ kind: 'output', port: Number(it.key), portName: '', maxLen: 0, trunc: false });
      continue;
    }
    switch (k) {
      case 'drop':
        if (items.length !== 1) fail('"drop" must not be accompanied by any other action or instruction');
        break;
      case 'output': {
        if (it.value.includes('=') || /^port=/.test(v)) {
          // output(port=P,max_len=N)
          let port = -1;
          let name = '';
          let maxLen = -1;
          for (const sub of splitItems(v)) {
            if (sub.key === 'port') {
              port = parsePort(sub.value, opts, true);
              if (port === OFPP_UNRESOLVED) name = sub.value;
            } else if (sub.key === 'max_len') maxLen = Number(parseInteger(sub.value, 'max_len'));
            else fail(`${sub.key}: unknown output option`);
          }
          if (port < 0) fail('output: missing port');
          if (maxLen < 0) fail('output: missing max_len');
          // An Ethernet header is the least that can be kept (OVS ETH_HEADER_LEN).
          if (maxLen < 14) fail(`max_len ${maxLen} is less than the minimum value 14`);
          acts.push({ kind: 'output', port, portName: name, maxLen, trunc: true });
          break;
        }
        if (/^(NXM_|OXM_|reg|xreg|tun_|[a-z_]+\[)/i.test(v) && fieldByName(v.split('[')[0]!))
          fail(`output:${v}: output to a field is not supported by nvo`);
        const port = parsePort(v, opts, true);
        acts.push({
          kind: 'output',
          port,
          portName: port === OFPP_UNRESOLVED ? v : '',
          maxLen: 0,
          trunc: false,
        });
        break;
      }
      case 'in_port':
      case 'normal':
      case 'flood':
      case 'all':
      case 'local':
      case 'table':
        acts.push({ kind: 'output', port: parsePort(k, opts, false), portName: '', maxLen: 0, trunc: false });
        break;
      case 'controller': {
        let maxLen = 65535;
        let reason = 'action';
        let id = 0;
        if (/^\d/.test(v)) maxLen = Number(parseInteger(v, 'controller max_len'));
        else if (v !== '') {
          for (const sub of splitItems(v)) {
            if (sub.key === 'max_len') maxLen = Number(parseInteger(sub.value, 'max_len'));
            else if (sub.key === 'reason') {
              if (!['action', 'no_match', 'invalid_ttl'].includes(sub.value))
                fail(`${sub.value}: unknown reason`);
              reason = sub.value;
            } else if (sub.key === 'id') id = Number(parseInteger(sub.value, 'controller id'));
            else fail(`${sub.key}: controller option not supported by nvo`);
          }
        }
        if (maxLen > 65535) fail(`${maxLen}: max_len out of range`);
        acts.push({ kind: 'controller', maxLen, reason, id });
        break;
      }
      case 'set_field': {
        const arrow = v.lastIndexOf('->');
        if (arrow < 0) fail(`${v}: missing \`->'`);
        const fl = fieldByName(v.slice(arrow + 2).trim());
        if (!fl) fail(`${v.slice(arrow + 2)}: unknown or unsupported field`);
        if (!fl!.writable) fail(`${fl!.name} is read-only`);
        const { value, mask } = parseFieldValue(fl!, v.slice(0, arrow), opts);
        acts.push({ kind: 'set_field', field: fl!, value: value & mask, mask });
        break;
      }
      case 'load': {
        const arrow = v.lastIndexOf('->');
        if (arrow < 0) fail(`${v}: missing \`->'`);
        const sf = parseSubfield(v.slice(arrow + 2));
        const value = parseInteger(v.slice(0, arrow), 'load');
        if (value >= 1n << BigInt(sf.nBits)) fail(`${v}: value does not fit in ${sf.nBits}-bit destination`);
        acts.push({ kind: 'load', field: sf.field, ofs: sf.ofs, nBits: sf.nBits, value });
        break;
      }
      case 'move': {
        const arrow = v.indexOf('->');
        if (arrow < 0) fail(`${v}: missing \`->'`);
        const src = parseSubfield(v.slice(0, arrow));
        const dst = parseSubfield(v.slice(arrow + 2));
        if (src.nBits !== dst.nBits)
          fail(`${v}: source field is ${src.nBits} bits wide but destination is ${dst.nBits} bits wide`);
        acts.push({
          kind: 'move',
          src: src.field,
          srcOfs: src.ofs,
          dst: dst.field,
          dstOfs: dst.ofs,
          nBits: src.nBits,
        });
        break;
      }
      case 'mod_dl_src':
      case 'mod_dl_dst':
        setf(k === 'mod_dl_src' ? 'eth_src' : 'eth_dst', macBig(v));
        break;
      case 'mod_nw_src':
      case 'mod_nw_dst':
        setf(k === 'mod_nw_src' ? 'ip_src' : 'ip_dst', ipv4Big(v));
        break;
      case 'mod_nw_tos': {
        const tos = Number(parseInteger(v, 'mod_nw_tos'));
        if (tos > 255 || tos & 3) fail(`${v}: not a valid TOS`);
        setf('ip_dscp', BigInt(tos >> 2));
        break;
      }
      case 'mod_nw_ecn': {
        const ecn = Number(parseInteger(v, 'mod_nw_ecn'));
        if (ecn > 3) fail(`${v}: not a valid ECN`);
        setf('nw_ecn', BigInt(ecn));
        break;
      }
      case 'mod_nw_ttl': {
        const ttl = Number(parseInteger(v, 'mod_nw_ttl'));
        if (ttl > 255) fail(`${v}: not a valid TTL`);
        acts.push({ kind: 'set_nw_ttl', ttl });
        break;
      }
      case 'mod_tp_src':
      case 'mod_tp_dst': {
        const p = match.nwProto();
        const pre = p === 17 ? 'udp' : p === 132 ? 'sctp' : p === 6 ? 'tcp' : 'tp';
        const port = parseInteger(v, k);
        if (port > 0xffffn) fail(`${v}: not a valid port`);
        setf(`${pre}_${k.slice(-3)}`, port);
        break;
      }
      case 'mod_vlan_vid': {
        const vid = parseInteger(v, k);
        if (vid > 4095n) fail(`${v}: not a valid VLAN VID`);
        needVlan();
        setf('vlan_vid', vid | BigInt(VLAN_CFI));
        break;
      }
      case 'mod_vlan_pcp': {
        const pcp = parseInteger(v, k);
        if (pcp > 7n) fail(`${v}: not a valid VLAN PCP`);
        needVlan();
        setf('vlan_pcp', pcp);
        break;
      }
      case 'strip_vlan':
      case 'pop_vlan':
        acts.push({ kind: 'pop_vlan' });
        if (tags > 0) tags--;
        break;
      case 'push_vlan': {
        const et = Number(parseInteger(v, 'push_vlan'));
        if (et !== 0x8100 && et !== 0x88a8) fail(`${v}: not a valid VLAN ethertype`);
        acts.push({ kind: 'push_vlan', ethertype: et });
        tags++;
        break;
      }
      case 'dec_ttl':
        if (v !== '') fail('dec_ttl with controller ids is not supported by nvo');
        acts.push({ kind: 'dec_ttl' });
        break;
      case 'set_tunnel':
      case 'set_tunnel64': {
        const id = parseInteger(v, k);
        if (id > 0xffffffffffffffffn) fail(`${v}: tunnel id out of range`);
        setf('tun_id', id);
        break;
      }
      case 'set_queue':
        acts.push({ kind: 'set_queue', queue: Number(parseInteger(v, 'set_queue')) });
        break;
      case 'pop_queue':
      case 'exit':
      case 'clear_actions':
        acts.push({ kind: k });
        break;
      case 'goto_table': {
        const t = Number(parseInteger(v, 'goto_table'));
        if (t > 254) fail(`${v}: invalid table id`);
        acts.push({ kind: 'goto_table', table: t });
        break;
      }
      case 'write_metadata': {
        const [a, b] = v.split('/');
        const value = parseInteger(a!, 'write_metadata');
        const mask = b === undefined ? 0xffffffffffffffffn : parseInteger(b, 'write_metadata');
        acts.push({ kind: 'write_metadata', value, mask });
        break;
      }
      case 'resubmit': {
        let port = OFPP_IN_PORT;
        let table = 255;
        if (v.includes(',')) {
          const [p, t, extra] = v.split(',');
          if (extra !== undefined) fail(`resubmit(${v}): only (port,table) is supported by nvo`);
          if (p) port = parsePort(p.trim(), opts, false);
          if (t) table = Number(parseInteger(t.trim(), 'resubmit table'));
          if (table > 255) fail(`${t}: invalid table id`);
          if (!p && !t) fail('at least one "in_port" or "table" must be specified on resubmit');
        } else port = parsePort(v, opts, false);
        acts.push({ kind: 'resubmit', port, table });
        break;
      }
      case 'note':
        acts.push({ kind: 'note', data: parseNote(v) });
        break;
      default:
        if (UNSUPPORTED_ACTIONS.has(k)) fail(`${k}: action not supported by nvo`);
        // A bare port name ("actions=vx0").
        if (v === '' && opts.portByName?.(it.key) !== undefined) {
          acts.push({
            kind: 'output',
            port: opts.portByName(it.key)!,
            portName: '',
            maxLen: 0,
            trunc: false,
          });
          break;
        }
        fail(`unknown action ${it.key}`);
    }
  }
  return acts;
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

export { hexBig };
