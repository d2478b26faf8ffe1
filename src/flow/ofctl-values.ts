// ovs-ofctl flow text, the value level: tokenizer, numbers, addresses with masks, flags, ports and
// subfields (cf. OVS lib/ofp-parse.c ofputil_parse_key_value, lib/meta-flow.c mf_parse, lib/flow.c
// parse_flags). Shared by the match parser (ofctl-parse.ts) and the action parser (ofctl-actions.ts).
import { OFPP_UNRESOLVED, RESERVED_PORTS } from './actions.ts';
import { type Field, fieldByName, fieldMax } from './fields.ts';

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

export const fail = (msg: string): never => {
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

export function macBig(text: string): bigint {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p)))
    fail(`${text}: invalid Ethernet address`);
  let v = 0n;
  for (const p of parts) v = (v << 8n) | BigInt(Number.parseInt(p, 16));
  return v;
}

export function ipv4Big(text: string): bigint {
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
