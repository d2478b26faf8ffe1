// ovs-ofctl flow text, the action list (cf. OVS lib/ofp-actions.c ofpacts_parse): output, controller,
// set_field / load / move, the OF1.0 mod_* forms, VLAN push/pop, TTL, queues, resubmit, goto_table,
// write_metadata, note, exit. OVS actions outside an overlay switch (ct, learn, bundle, multipath, sample,
// MPLS, the register stack …) are refused with "not supported by nvo".
import { type Action, OFPP_IN_PORT, OFPP_UNRESOLVED } from './actions.ts';
import { fieldByName, fieldMax } from './fields.ts';
import { VLAN_CFI, VLAN_TCI } from './key.ts';
import type { Match } from './match.ts';
import {
  fail,
  ipv4Big,
  macBig,
  type ParseOptions,
  parseFieldValue,
  parseInteger,
  parsePort,
  parseSubfield,
  splitItems,
} from './ofctl-values.ts';

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
