// A match: per key word, a value and a mask (1 = this bit must equal value). Canonical form keeps
// value & ~mask == 0, so two matches are the same rule iff their words are equal (OpenFlow "strict"
// identity is match + priority, compared on this parsed form, never on message bytes).
import { type Field, fieldMax, getField, type Prereq, setField } from './fields.ts';
import * as K from './key.ts';
import { type FlowKey, KEY_WORDS } from './key.ts';

// Matches are carved out of shared slabs: a Uint32Array of 304 bytes gets its own off-heap backing store
// in V8, and 100k of those made adding flows GC-bound (≈50 µs each). A slab serves 32 matches; it stays
// alive while any of them does (at most 32× overhead for a pathological survivor pattern).
const SLAB_MATCHES = 32;
let slab = new Uint32Array(0);
let slabUsed = 0;
function carve(): Uint32Array {
  if (slabUsed + 2 * KEY_WORDS > slab.length) {
    slab = new Uint32Array(SLAB_MATCHES * 2 * KEY_WORDS);
    slabUsed = 0;
  }
  const v = slab.subarray(slabUsed, slabUsed + 2 * KEY_WORDS);
  slabUsed += 2 * KEY_WORDS;
  return v;
}

export class Match {
  /** Per key word, the value bits (already ANDed with the mask). */
  readonly value: Uint32Array;
  /** Per key word, 1 = bit must equal value. */
  readonly mask: Uint32Array;

  constructor() {
    const both = carve();
    this.value = both.subarray(0, KEY_WORDS);
    this.mask = both.subarray(KEY_WORDS);
  }

  static catchAll(): Match {
    return new Match();
  }

  clone(): Match {
    const m = new Match();
    m.value.set(this.value);
    m.mask.set(this.mask);
    return m;
  }

  /**
   * Sets the field to value/mask, replacing what was there (OVS mf_set: a field given twice keeps the
   * last). The stored value is value & mask.
   */
  set(fl: Field, value: bigint, mask: bigint = fieldMax(fl)): this {
    mask &= fieldMax(fl);
    setField(this.mask, fl, mask);
    setField(this.value, fl, value & mask);
    return this;
  }

  /** Sets only the bits in mask, keeping the field's other matched bits (field[a..b]=v, OVS mf_write_subfield). */
  setBits(fl: Field, value: bigint, mask: bigint): this {
    const max = fieldMax(fl);
    mask &= max;
    const oldV = getField(this.value, fl);
    const oldM = getField(this.mask, fl);
    setField(this.mask, fl, oldM | mask);
    setField(this.value, fl, (oldV & ~mask) | (value & mask));
    return this;
  }

  /** Clears (wildcards) the field's bits. */
  clear(fl: Field): this {
    setField(this.mask, fl, 0n);
    setField(this.value, fl, 0n);
    return this;
  }

  getValue(fl: Field): bigint {
    return getField(this.value, fl);
  }

  getMask(fl: Field): bigint {
    return getField(this.mask, fl);
  }

  /** The field is matched on all of its bits and equals v. */
  isExact(fl: Field, v: bigint): boolean {
    return getField(this.mask, fl) === fieldMax(fl) && getField(this.value, fl) === v;
  }

  /** Exact dl_type. */
  dlType(): number {
    return this.mask[K.DL_TYPE] === 0xffff ? this.value[K.DL_TYPE]! : -1;
  }

  /** Exact nw_proto. */
  nwProto(): number {
    return this.mask[K.NW_PROTO] === 0xff ? this.value[K.NW_PROTO]! : -1;
  }

  /** Does the packet key satisfy this match? (Reference path; the classifier does the same per subtable.) */
  matches(k: FlowKey): boolean {
    const v = this.value;
    const m = this.mask;
    for (let i = 0; i < KEY_WORDS; i++) if ((k[i]! & m[i]!) >>> 0 !== v[i]) return false;
    return true;
  }

  equals(o: Match): boolean {
    for (let i = 0; i < KEY_WORDS; i++)
      if (this.value[i] !== o.value[i] || this.mask[i] !== o.mask[i]) return false;
    return true;
  }

  /**
   * OpenFlow "covers" (non-strict modify/delete): every bit this match constrains, `o` constrains to the
   * same value. An empty match covers everything.
   */
  covers(o: Match): boolean {
    for (let i = 0; i < KEY_WORDS; i++) {
      const m = this.mask[i]!;
      if ((o.mask[i]! & m) >>> 0 !== m) return false;
      if ((o.value[i]! & m) >>> 0 !== this.value[i]) return false;
    }
    return true;
  }

  /** Some packet could match both (CHECK_OVERLAP): no bit both constrain differently. */
  overlaps(o: Match): boolean {
    for (let i = 0; i < KEY_WORDS; i++) {
      if ((this.value[i]! ^ o.value[i]!) & this.mask[i]! & o.mask[i]!) return false;
    }
    return true;
  }

  isCatchAll(): boolean {
    for (let i = 0; i < KEY_WORDS; i++) if (this.mask[i] !== 0) return false;
    return true;
  }
}

// --- prerequisites (OVS mf_are_prereqs_ok) ----------------------------------------------------------

const isIp = (t: number) => t === 0x0800 || t === 0x86dd;

/** Is the prerequisite met by what the match pins down? */
export function prereqOk(m: Match, p: Prereq): boolean {
  const t = m.dlType();
  const proto = m.nwProto();
  switch (p) {
    case 'none':
      return true;
    case 'arp':
      return t === 0x0806 || t === 0x8035;
    case 'ipv4':
      return t === 0x0800;
    case 'ipv6':
      return t === 0x86dd;
    case 'ip':
      return isIp(t);
    case 'tcp':
      return isIp(t) && proto === 6;
    case 'udp':
      return isIp(t) && proto === 17;
    case 'sctp':
      return isIp(t) && proto === 132;
    case 'tp':
      return isIp(t) && (proto === 6 || proto === 17 || proto === 132);
    case 'icmpv4':
      return t === 0x0800 && proto === 1;
    case 'icmpv6':
      return t === 0x86dd && proto === 58;
    case 'nd':
    case 'nd_solicit':
    case 'nd_advert': {
      if (!(t === 0x86dd && proto === 58) || m.mask[K.ICMP_TYPE] !== 0xff) return false;
      const ty = m.value[K.ICMP_TYPE];
      if (p === 'nd') return ty === 135 || ty === 136;
      return ty === (p === 'nd_solicit' ? 135 : 136);
    }
  }
}

/** Human text for a prerequisite, for error messages. */
export function prereqText(p: Prereq): string {
  switch (p) {
    case 'none':
      return 'nothing';
    case 'arp':
      return 'arp or rarp (dl_type=0x0806 or 0x8035)';
    case 'ipv4':
      return 'ip (dl_type=0x0800)';
    case 'ipv6':
      return 'ipv6 (dl_type=0x86dd)';
    case 'ip':
      return 'ip or ipv6';
    case 'tcp':
      return 'tcp or tcp6';
    case 'udp':
      return 'udp or udp6';
    case 'sctp':
      return 'sctp or sctp6';
    case 'tp':
      return 'tcp, udp or sctp (or their v6 forms)';
    case 'icmpv4':
      return 'icmp';
    case 'icmpv6':
      return 'icmp6';
    case 'nd':
      return 'icmp6 with icmp_type=135 or 136';
    case 'nd_solicit':
      return 'icmp6 with icmp_type=135';
    case 'nd_advert':
      return 'icmp6 with icmp_type=136';
  }
}

// The loosest prerequisite of each key word (several field names share a word: tcp_src/udp_src/tp_src).
const WORD_PREREQ: Prereq[] = new Array(KEY_WORDS).fill('none');
const wp = (w: number, n: number, p: Prereq) => {
  for (let i = 0; i < n; i++) WORD_PREREQ[w + i] = p;
};
wp(K.NW_SRC, 2, 'ipv4');
wp(K.IPV6_SRC, 9, 'ipv6');
wp(K.NW_PROTO, 4, 'ip');
wp(K.ARP_OP, 7, 'arp');
wp(K.ND_TARGET, 4, 'nd');
wp(K.ND_SLL, 2, 'nd_solicit');
wp(K.ND_TLL, 2, 'nd_advert');
wp(K.TP_SRC, 2, 'tp');
wp(K.TCP_FLAGS, 1, 'tcp');
const WORD_NAME: string[] = new Array(KEY_WORDS).fill('');
WORD_NAME[K.NW_SRC] = 'nw_src';
WORD_NAME[K.NW_DST] = 'nw_dst';
for (let i = 0; i < 4; i++) {
  WORD_NAME[K.IPV6_SRC + i] = 'ipv6_src';
  WORD_NAME[K.IPV6_DST + i] = 'ipv6_dst';
  WORD_NAME[K.ND_TARGET + i] = 'nd_target';
}
WORD_NAME[K.IPV6_LABEL] = 'ipv6_label';
WORD_NAME[K.NW_PROTO] = 'nw_proto';
WORD_NAME[K.NW_TOS] = 'nw_tos';
WORD_NAME[K.NW_TTL] = 'nw_ttl';
WORD_NAME[K.NW_FRAG] = 'nw_frag';
WORD_NAME[K.ARP_OP] = 'arp_op';
WORD_NAME[K.ARP_SPA] = 'arp_spa';
WORD_NAME[K.ARP_TPA] = 'arp_tpa';
WORD_NAME[K.ARP_SHA] = WORD_NAME[K.ARP_SHA + 1] = 'arp_sha';
WORD_NAME[K.ARP_THA] = WORD_NAME[K.ARP_THA + 1] = 'arp_tha';
WORD_NAME[K.ND_SLL] = WORD_NAME[K.ND_SLL + 1] = 'nd_sll';
WORD_NAME[K.ND_TLL] = WORD_NAME[K.ND_TLL + 1] = 'nd_tll';
WORD_NAME[K.TP_SRC] = 'tp_src';
WORD_NAME[K.TP_DST] = 'tp_dst';
WORD_NAME[K.TCP_FLAGS] = 'tcp_flags';
WORD_NAME[K.ICMP_TYPE] = 'icmp_type';
WORD_NAME[K.ICMP_CODE] = 'icmp_code';

function icmpOk(m: Match): boolean {
  return prereqOk(m, 'icmpv4') || prereqOk(m, 'icmpv6');
}

/**
 * Checks every constrained word's prerequisite; returns null or an error like OVS's
 * "OFPBMC_BAD_PREREQ" with the field and what it needs. Used for flows that arrive as data (OpenFlow,
 * etcd); the text parser checks per field name with the same rules.
 */
export function checkPrereqs(m: Match): string | null {
  for (let i = 0; i < KEY_WORDS; i++) {
    if (m.mask[i] === 0) continue;
    if (i === K.ICMP_TYPE || i === K.ICMP_CODE) {
      if (!icmpOk(m)) return `${WORD_NAME[i]} requires icmp or icmp6 (OFPBMC_BAD_PREREQ)`;
      continue;
    }
    const p = WORD_PREREQ[i]!;
    if (!prereqOk(m, p)) return `${WORD_NAME[i]} requires ${prereqText(p)} (OFPBMC_BAD_PREREQ)`;
  }
  return null;
}

/** Wildcards every word whose prerequisite is not met (ovs-ofctl's silent "normalization changed ofp_match"). */
export function normalizePrereqs(m: Match): void {
  // Outer prerequisites first: dropping nw_proto can invalidate tp_*, and icmp_type can invalidate nd_*.
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < KEY_WORDS; i++) {
      if (m.mask[i] === 0) continue;
      const ok = i === K.ICMP_TYPE || i === K.ICMP_CODE ? icmpOk(m) : prereqOk(m, WORD_PREREQ[i]!);
      if (!ok) {
        m.mask[i] = 0;
        m.value[i] = 0;
      }
    }
  }
}
