// EtherType values (IEEE 802 numbers, https://standards-oui.ieee.org/ethertype/ and IANA
// "ieee-802-numbers"). An open set: any 16-bit value is a valid EtherType; names are for humans.
// Values below 0x0600 are not types but IEEE 802.3 length fields (IEEE 802.3 §3.2.6).
import { nameSet } from './registry.ts';

export const IPV4 = 0x0800;
export const ARP = 0x0806;
export const WOL = 0x0842;
export const TEB = 0x6558; //      Transparent Ethernet Bridging (NVGRE, GRE-TAP)
export const RARP = 0x8035;
export const VLAN = 0x8100; //     IEEE 802.1Q C-tag
export const IPV6 = 0x86dd;
export const MPLS = 0x8847;
export const MPLS_MC = 0x8848;
export const PPPOE_DISC = 0x8863;
export const PPPOE_SESS = 0x8864;
export const EAPOL = 0x888e;
export const QINQ = 0x88a8; //     IEEE 802.1ad S-tag
export const LLDP = 0x88cc;
export const MACSEC = 0x88e5;
export const PBB = 0x88e7; //      IEEE 802.1ah I-tag
export const PTP = 0x88f7;
export const NSH = 0x894f;
export const QINQ_OLD = 0x9100; // pre-standard S-tag still seen on older switches

/** The smallest value that is an EtherType; anything below is an 802.3 length. */
export const MIN_TYPE = 0x0600;

export const etherTypes = nameSet({
  [IPV4]: 'IPv4',
  [ARP]: 'ARP',
  [WOL]: 'WoL',
  [TEB]: 'TEB',
  [RARP]: 'RARP',
  [VLAN]: '802.1Q',
  [IPV6]: 'IPv6',
  [MPLS]: 'MPLS',
  [MPLS_MC]: 'MPLS-multicast',
  [PPPOE_DISC]: 'PPPoE-discovery',
  [PPPOE_SESS]: 'PPPoE-session',
  [EAPOL]: 'EAPOL',
  [QINQ]: '802.1ad',
  [LLDP]: 'LLDP',
  [MACSEC]: 'MACsec',
  [PBB]: '802.1ah',
  [PTP]: 'PTP',
  [NSH]: 'NSH',
  [QINQ_OLD]: 'QinQ-9100',
});

export const name = (v: number): string => (v < MIN_TYPE ? `802.3-length(${v})` : etherTypes.name(v));

/** TPIDs that announce a VLAN tag (802.1Q, 802.1ad, and the old 0x9100). */
export const isVlanTpid = (v: number): boolean => v === VLAN || v === QINQ || v === QINQ_OLD;
