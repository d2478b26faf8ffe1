// FlowSpec / Match / actions → ovs-ofctl text, normalized exactly as `ovs-ofctl -O OpenFlow13 parse-flow`
// prints a FLOW_MOD ADD (OVS lib/match.c match_format, lib/ofp-flow.c ofputil_flow_mod_format,
// lib/ofp-actions.c format_*). Field order, shorthand protocols and number styles follow OVS 3.1.
import { formatIpv6, setU32 } from '../wire/bytes.ts';
import {
  type Action,
  DEFAULT_PRIORITY,
  FF_CHECK_OVERLAP,
  FF_NO_BYT_COUNTS,
  FF_NO_PKT_COUNTS,
  FF_RESET_COUNTS,
  FF_SEND_FLOW_REM,
  type FlowSpec,
  OFPP_IN_PORT,
  OFPP_MAX,
  OFPP_UNRESOLVED,
  RESERVED_PORTS,
} from './actions.ts';
import { type Field, fieldMax } from './fields.ts';
import * as K from './key.ts';
import type { Match } from './match.ts';
import { TCP_FLAG_NAMES } from './ofctl-values.ts';

export interface FormatOptions {
  /** Port number → name for in_port and output (ovs-ofctl --names). */
  portName?: (port: number) => string | undefined;
}

const hex = (v: number | bigint): string => (v === 0 || v === 0n ? '0' : `0x${v.toString(16)}`);

export function formatPort(port: number, opts: FormatOptions = {}): string {
  for (const [n, name] of RESERVED_PORTS) if (n === port) return name;
  return opts.portName?.(port) ?? String(port);
}

function macText(hi: number, lo: number): string {
  const b = [hi >>> 8, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function ipv4Text(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** RFC 5952 text of 4 key words (src/wire/bytes.ts formatIpv6, as glibc inet_ntop prints it). */
const v6scratch = new Uint8Array(16);
function ipv6Text(w: ArrayLike<number>, o: number): string {
  for (let i = 0; i < 4; i++) setU32(v6scratch, 4 * i, w[o + i]!);
  return formatIpv6(v6scratch, 0);
}

/** Prefix length of a CIDR mask, or -1 if the mask is not contiguous from the top. */
function cidrLen(m: bigint, bits: number): number {
  for (let len = 0; len <= bits; len++) {
    const pm = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(bits - len);
    if (pm === m) return len;
  }
  return -1;
}

function big(w: ArrayLike<number>, o: number, n: number): bigint {
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 32n) | BigInt(w[o + i]!);
  return v;
}

function words(v: bigint, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffffffffn);
    v >>= 32n;
  }
  return out;
}

/** A value of a field, in its own style (decimal, 0x-hex, MAC, IPv4, IPv6), as OVS mf_format. */
export function formatFieldValue(fl: Field, v: bigint, opts: FormatOptions = {}): string {
  switch (fl.format) {
    case 'mac':
      return macText(Number(v >> 32n), Number(v & 0xffffffffn));
    case 'ipv4':
      return ipv4Text(Number(v));
    case 'ipv6':
      return ipv6Text(words(v, 4), 0);
    case 'port':
      return formatPort(Number(v), opts);
    case 'hex':
      return hex(v);
    case 'tcpflags':
    case 'tunflags':
      return formatFlags(
        fl.format === 'tcpflags' ? TCP_FLAG_NAMES : ['oam'],
        Number(v),
        Number(fieldMax(fl)),
        Number(fieldMax(fl)),
      );
    default:
      return (v << BigInt(fl.textShift)).toString();
  }
}

/** OVS format_flags_masked: "+syn-ack" per mask bit, or "syn|ack" when fully masked. */
function formatFlags(names: string[], v: number, m: number, max: number): string {
  const nm = (bit: number) => names[31 - Math.clz32(bit)] ?? `[${bit.toString(16)}]`;
  if (m === max) {
    if (v === 0) return '0';
    const out: string[] = [];
    for (let f = v; f; f &= f - 1) out.push(nm(f & -f));
    return out.join('|');
  }
  if (m === 0) return '0/0';
  let s = '';
  for (let mm = m; mm; mm &= mm - 1) {
    const bit = mm & -mm;
    s += (v & bit ? '+' : '-') + nm(bit);
  }
  return s;
}

/** The match part of a flow (OVS match_format), priority first when not the default. */
export function formatMatch(m: Match, priority = DEFAULT_PRIORITY, opts: FormatOptions = {}): string {
  const v = m.value;
  const k = m.mask;
  const out: string[] = [];
  if (priority !== DEFAULT_PRIORITY) out.push(`priority=${priority}`);
  const u32m = (name: string, w: number) => {
    if (k[w] === 0) return;
    out.push(`${name}=${hex(v[w]!)}${k[w] === 0xffffffff ? '' : `/${hex(k[w]!)}`}`);
  };
  const u64m = (name: string, w: number) => {
    const mk = big(k, w, 2);
    if (mk === 0n) return;
    out.push(`${name}=${hex(big(v, w, 2))}${mk === 0xffffffffffffffffn ? '' : `/${hex(mk)}`}`);
  };
  const ipm = (name: string, w: number) => {
    if (k[w] === 0) return;
    const len = cidrLen(BigInt(k[w]!), 32);
    out.push(`${name}=${ipv4Text(v[w]!)}${len === 32 ? '' : len >= 0 ? `/${len}` : `/${ipv4Text(k[w]!)}`}`);
  };
  const ip6m = (name: string, w: number) => {
    const mk = big(k, w, 4);
    if (mk === 0n) return;
    const len = cidrLen(mk, 128);
    out.push(`${name}=${ipv6Text(v, w)}${len === 128 ? '' : len >= 0 ? `/${len}` : `/${ipv6Text(k, w)}`}`);
  };
  const ethm = (name: string, w: number) => {
    if (k[w] === 0 && k[w + 1] === 0) return;
    const exact = k[w] === 0xffff && k[w + 1] === 0xffffffff;
    out.push(`${name}=${macText(v[w]!, v[w + 1]!)}${exact ? '' : `/${macText(k[w]!, k[w + 1]!)}`}`);
  };
  const u16m = (name: string, w: number, full: number) => {
    if (k[w] === 0) return;
    out.push(k[w] === full ? `${name}=${v[w]}` : `${name}=0x${v[w]!.toString(16)}/0x${k[w]!.toString(16)}`);
  };

  u32m('pkt_mark', K.PKT_MARK);
  const typeKnown = k[K.DL_TYPE] === 0xffff;
  const dlType = typeKnown ? v[K.DL_TYPE]! : -1;
  const protoKnown = k[K.NW_PROTO] !== 0;
  const proto = v[K.NW_PROTO]!;
  let skipType = false;
  let skipProto = false;
  if (typeKnown) {
    skipType = true;
    const ipName = (names: Record<number, string>, plain: string) => {
      if (protoKnown && names[proto]) {
        skipProto = true;
        out.push(names[proto]!);
      } else out.push(plain);
    };
    if (dlType === 0x0800) ipName({ 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' }, 'ip');
    else if (dlType === 0x86dd) ipName({ 58: 'icmp6', 6: 'tcp6', 17: 'udp6', 132: 'sctp6' }, 'ipv6');
    else if (dlType === 0x8035) out.push('rarp');
    else if (dlType === 0x0806) out.push('arp');
    else skipType = false;
  }
  for (let i = 0; i < K.N_REGS; i++) u32m(`reg${i}`, K.REG0 + i);
  // format_flow_tunnel
  u64m('tun_id', K.TUN_ID);
  ipm('tun_src', K.TUN_SRC);
  ipm('tun_dst', K.TUN_DST);
  ip6m('tun_ipv6_src', K.TUN_IPV6_SRC);
  ip6m('tun_ipv6_dst', K.TUN_IPV6_DST);
  if (k[K.TUN_FLAGS]! & 1)
    out.push(`tun_flags=${formatFlags(['oam'], v[K.TUN_FLAGS]!, k[K.TUN_FLAGS]! & 1, 0xf)}`);
  u64m('metadata', K.METADATA);
  if (k[K.IN_PORT] !== 0) out.push(`in_port=${formatPort(v[K.IN_PORT]!, opts)}`);
  vlanText(v[K.VLAN_TCI]!, k[K.VLAN_TCI]!, out);
  ethm('dl_src', K.DL_SRC);
  ethm('dl_dst', K.DL_DST);
  if (!skipType && typeKnown) out.push(`dl_type=0x${dlType.toString(16).padStart(4, '0')}`);
  const isArp = dlType === 0x0806 || dlType === 0x8035;
  if (dlType === 0x86dd) {
    ip6m('ipv6_src', K.IPV6_SRC);
    ip6m('ipv6_dst', K.IPV6_DST);
    if (k[K.IPV6_LABEL] !== 0) {
      const l = (x: number) => `0x${x.toString(16).padStart(5, '0')}`;
      out.push(
        `ipv6_label=${l(v[K.IPV6_LABEL]!)}${k[K.IPV6_LABEL] === 0xfffff ? '' : `/${l(k[K.IPV6_LABEL]!)}`}`,
      );
    }
  } else if (isArp) {
    ipm('arp_spa', K.ARP_SPA);
    ipm('arp_tpa', K.ARP_TPA);
  } else {
    ipm('nw_src', K.NW_SRC);
    ipm('nw_dst', K.NW_DST);
  }
  if (isArp && k[K.ARP_OP] !== 0) out.push(`arp_op=${v[K.ARP_OP]}`);
  else if (!skipProto && protoKnown) out.push(`nw_proto=${proto}`);
  if (isArp) {
    ethm('arp_sha', K.ARP_SHA);
    ethm('arp_tha', K.ARP_THA);
  }
  if (k[K.NW_TOS]! & 0xfc) out.push(`nw_tos=${v[K.NW_TOS]! & 0xfc}`);
  if (k[K.NW_TOS]! & 0x03) out.push(`nw_ecn=${v[K.NW_TOS]! & 0x03}`);
  if (k[K.NW_TTL] !== 0) out.push(`nw_ttl=${v[K.NW_TTL]}`);
  const fm = k[K.NW_FRAG]!;
  const fv = v[K.NW_FRAG]!;
  if (fm === 3) out.push(`nw_frag=${fv & 1 ? (fv & 2 ? 'later' : 'first') : fv & 2 ? '<error>' : 'no'}`);
  else if (fm === 1) out.push(`nw_frag=${fv & 1 ? 'yes' : 'no'}`);
  else if (fm === 2) out.push(`nw_frag=${fv & 2 ? 'later' : 'not_later'}`);
  const icmp = (dlType === 0x0800 && proto === 1) || (dlType === 0x86dd && proto === 58);
  if (icmp) {
    u16m('icmp_type', K.ICMP_TYPE, 0xff);
    u16m('icmp_code', K.ICMP_CODE, 0xff);
    if (dlType === 0x86dd) {
      ip6m('nd_target', K.ND_TARGET);
      ethm('nd_sll', K.ND_SLL);
      ethm('nd_tll', K.ND_TLL);
    }
  } else {
    u16m('tp_src', K.TP_SRC, 0xffff);
    u16m('tp_dst', K.TP_DST, 0xffff);
  }
  if ((dlType === 0x0800 || dlType === 0x86dd) && proto === 6 && k[K.TCP_FLAGS] !== 0)
    out.push(`tcp_flags=${formatFlags(TCP_FLAG_NAMES, v[K.TCP_FLAGS]!, k[K.TCP_FLAGS]!, 0x0fff)}`);
  return out.join(',');
}

/** OVS match_format's vlan_tci branch: dl_vlan/dl_vlan_pcp when it can, else vlan_tci=value/mask. */
function vlanText(v: number, m: number, out: string[]): void {
  if (m === 0) return;
  const vidMask = m & 0x0fff;
  const pcpMask = m & 0xe000;
  if (
    m & K.VLAN_CFI &&
    v & K.VLAN_CFI &&
    (!vidMask || vidMask === 0x0fff) &&
    (!pcpMask || pcpMask === 0xe000) &&
    (vidMask || pcpMask)
  ) {
    if (vidMask) out.push(`dl_vlan=${v & 0x0fff}`);
    if (pcpMask) out.push(`dl_vlan_pcp=${v >>> 13}`);
  } else if (m === 0xffff) out.push(`vlan_tci=0x${v.toString(16).padStart(4, '0')}`);
  else out.push(`vlan_tci=0x${v.toString(16).padStart(4, '0')}/0x${m.toString(16).padStart(4, '0')}`);
}

function subfieldText(fl: Field, ofs: number, nBits: number): string {
  const name = fl.nxm || fl.name;
  if (ofs === 0 && nBits === fl.bits) return `${name}[]`;
  if (nBits === 1) return `${name}[${ofs}]`;
  return `${name}[${ofs}..${ofs + nBits - 1}]`;
}

export function formatAction(a: Action, opts: FormatOptions = {}): string {
  switch (a.kind) {
    case 'output': {
      const port = a.port === OFPP_UNRESOLVED ? a.portName : formatPort(a.port, opts);
      if (a.trunc) return `output(port=${port},max_len=${a.maxLen})`;
      return a.port < OFPP_MAX || a.port === OFPP_UNRESOLVED ? `output:${port}` : port;
    }
    case 'normal_output': {
      // A datapath action (NORMAL resolved at translation), printed like OVS's dpctl flows.
      const out = `output:${formatPort(a.port, opts)}`;
      if (a.tunIdLo < 0) return out;
      const dst =
        a.dstWord < 0
          ? ''
          : a.dst.length === 1
            ? `,dst=${a.dst[0]! >>> 24}.${(a.dst[0]! >>> 16) & 255}.${(a.dst[0]! >>> 8) & 255}.${a.dst[0]! & 255}`
            : `,ipv6_dst=${a.dst.map((w) => (w >>> 0).toString(16).padStart(8, '0')).join('')}`;
      return `set(tunnel(tun_id=0x${a.tunIdLo.toString(16)}${dst})),${out}`;
    }
    case 'controller': {
      if (a.reason === 'action' && a.id === 0) return `CONTROLLER:${a.maxLen}`;
      const parts: string[] = [];
      if (a.reason !== 'action') parts.push(`reason=${a.reason}`);
      if (a.maxLen !== 65535) parts.push(`max_len=${a.maxLen}`);
      if (a.id !== 0) parts.push(`id=${a.id}`);
      return `controller(${parts.join(',')})`;
    }
    case 'set_field': {
      if (a.mask === fieldMax(a.field))
        return `set_field:${formatFieldValue(a.field, a.value, opts)}->${a.field.name}`;
      // OF1.3 has no masked SET_FIELD: ovs-ofctl sends one Nicira load per run of contiguous mask bits,
      // lowest bits first.
      if (a.field.shift === 0 && a.field.nxm) {
        const loads: string[] = [];
        for (let ofs = 0; ofs < a.field.bits; ) {
          if (((a.mask >> BigInt(ofs)) & 1n) === 0n) {
            ofs++;
            continue;
          }
          let n = 0;
          while (ofs + n < a.field.bits && ((a.mask >> BigInt(ofs + n)) & 1n) === 1n) n++;
          const bits = (a.value >> BigInt(ofs)) & ((1n << BigInt(n)) - 1n);
          loads.push(`load:${hex(bits)}->${subfieldText(a.field, ofs, n)}`);
          ofs += n;
        }
        return loads.join(',');
      }
      return `set_field:${formatFieldValue(a.field, a.value, opts)}/${formatFieldValue(a.field, a.mask, opts)}->${a.field.name}`;
    }
    case 'load':
      return `load:${hex(a.value)}->${subfieldText(a.field, a.ofs, a.nBits)}`;
    case 'move':
      return `move:${subfieldText(a.src, a.srcOfs, a.nBits)}->${subfieldText(a.dst, a.dstOfs, a.nBits)}`;
    case 'push_vlan':
      return `push_vlan:0x${a.ethertype.toString(16)}`;
    case 'set_nw_ttl':
      return `mod_nw_ttl:${a.ttl}`;
    case 'set_queue':
      return `set_queue:${a.queue}`;
    case 'resubmit':
      if (a.port !== OFPP_IN_PORT && a.table === 255) return `resubmit:${formatPort(a.port, opts)}`;
      return `resubmit(${a.port !== OFPP_IN_PORT ? formatPort(a.port, opts) : ''},${a.table !== 255 ? a.table : ''})`;
    case 'goto_table':
      return `goto_table:${a.table}`;
    case 'write_metadata':
      return `write_metadata:${hex(a.value)}${a.mask === 0xffffffffffffffffn ? '' : `/${hex(a.mask)}`}`;
    case 'note':
      return `note:${Array.from(a.data, (b) => b.toString(16).padStart(2, '0')).join('.')}`;
    default:
      return a.kind;
  }
}

export function formatActions(actions: readonly Action[], opts: FormatOptions = {}): string {
  // A set_field with an all-zero mask changes nothing and prints as nothing (as ovs-ofctl); a list of
  // only those is then empty, which ovs-ofctl prints as drop.
  const text = actions
    .map((a) => formatAction(a, opts))
    .filter((t) => t !== '')
    .join(',');
  return text === '' ? 'drop' : text;
}

/** A whole flow as `ovs-ofctl -O OpenFlow13 parse-flow` prints an ADD (without the "ADD " prefix). */
export function formatFlow(f: FlowSpec, opts: FormatOptions = {}): string {
  const parts: string[] = [];
  if (f.table !== 0) parts.push(`table:${f.table}`);
  const m = formatMatch(f.match, f.priority, opts);
  if (m) parts.push(m);
  // All-ones is OpenFlow's "no cookie" (OVS prints neither 0 nor that).
  if (f.cookie !== 0n && f.cookie !== 0xffffffffffffffffn) parts.push(`cookie:${hex(f.cookie)}`);
  if (f.cookieMask !== 0n) parts[parts.length - 1] += `/${hex(f.cookieMask)}`;
  if (f.idleTimeout) parts.push(`idle:${f.idleTimeout}`);
  if (f.hardTimeout) parts.push(`hard:${f.hardTimeout}`);
  if (f.flags & FF_SEND_FLOW_REM) parts.push('send_flow_rem');
  if (f.flags & FF_CHECK_OVERLAP) parts.push('check_overlap');
  if (f.flags & FF_RESET_COUNTS) parts.push('reset_counts');
  if (f.flags & FF_NO_PKT_COUNTS) parts.push('no_packet_counts');
  if (f.flags & FF_NO_BYT_COUNTS) parts.push('no_byte_counts');
  parts.push(`actions=${formatActions(f.actions, opts)}`);
  return parts.join(' ');
}

/** What a dump line needs from an installed flow (FlowEntry has all of it). */
export interface DumpableFlow {
  table: number;
  priority: number;
  match: Match;
  cookie: bigint;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  actions: readonly Action[];
  packets?: number;
  bytes?: number;
  /** ms */
  created?: number;
}

/**
 * One line of `ovs-ofctl -O OpenFlow13 dump-flows` (OVS ofputil_flow_stats_format). With `now` (ms) the
 * stats are shown (cookie, duration, table, n_packets, n_bytes), as plain dump-flows does; without, the
 * `--no-stats` form. OF1.3 carries no importance and no idle_age/hard_age, so neither is printed.
 */
export function formatFlowDump(f: DumpableFlow, opts: FormatOptions & { now?: number } = {}): string {
  const stats = opts.now !== undefined;
  let s = '';
  if (stats || f.cookie !== 0n) s += `cookie=0x${f.cookie.toString(16)}, `;
  if (stats) {
    const ms = Math.max(0, opts.now! - (f.created ?? opts.now!));
    const sec = Math.floor(ms / 1000);
    // ofp_print_duration: seconds, then the nanoseconds with trailing zeros dropped.
    const frac =
      ms % 1000
        ? `.${String((ms % 1000) * 1_000_000)
            .padStart(9, '0')
            .replace(/0+$/, '')}`
        : '';
    s += `duration=${sec}${frac}s, `;
  }
  if (stats || f.table !== 0) s += `table=${f.table}, `;
  if (stats) s += `n_packets=${f.packets ?? 0}, n_bytes=${f.bytes ?? 0}, `;
  if (f.idleTimeout) s += `idle_timeout=${f.idleTimeout}, `;
  if (f.hardTimeout) s += `hard_timeout=${f.hardTimeout}, `;
  if (f.flags & FF_SEND_FLOW_REM) s += 'send_flow_rem ';
  if (f.flags & FF_CHECK_OVERLAP) s += 'check_overlap ';
  if (f.flags & FF_RESET_COUNTS) s += 'reset_counts ';
  if (f.flags & FF_NO_PKT_COUNTS) s += 'no_packet_counts ';
  if (f.flags & FF_NO_BYT_COUNTS) s += 'no_byte_counts ';
  const m = formatMatch(f.match, f.priority, opts);
  if (m) s += `${m} `;
  return `${s}actions=${formatActions(f.actions, opts)}`;
}
