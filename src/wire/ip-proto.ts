// IP protocol / IPv6 Next Header numbers (IANA "protocol-numbers", RFC 5237). One open set shared by
// IPv4 Protocol and IPv6 Next Header; the IPv6 extension headers are the ones IANA flags as such
// ("ipv6-parameters", RFC 7045 §4).
import { nameSet } from './registry.ts';

export const HOPOPT = 0; //      IPv6 Hop-by-Hop Options (RFC 8200 §4.3)
export const ICMP = 1;
export const IGMP = 2;
export const IPIP = 4; //        IPv4 in IP (RFC 2003)
export const TCP = 6;
export const UDP = 17;
export const IPV6 = 41; //       IPv6 in IP (RFC 2473)
export const ROUTING = 43; //    IPv6 Routing header (RFC 8200 §4.4)
export const FRAGMENT = 44; //   IPv6 Fragment header (RFC 8200 §4.5)
export const GRE = 47;
export const ESP = 50;
export const AH = 51;
export const ICMPV6 = 58;
export const NONE = 59; //       IPv6 No Next Header (RFC 8200 §4.7)
export const DSTOPTS = 60; //    IPv6 Destination Options (RFC 8200 §4.6)
export const SCTP = 132;
export const MOBILITY = 135; //  Mobility header (RFC 6275)
export const UDPLITE = 136;
export const MPLS_IN_IP = 137;
export const HIP = 139; //       RFC 7401
export const SHIM6 = 140; //     RFC 5533
export const ETHERNET = 143; //  Ethernet in IP (RFC 8986 SRv6)
export const EXP1 = 253; //      RFC 3692 experimental, also IPv6 extension headers
export const EXP2 = 254;

export const ipProtos = nameSet(
  {
    [HOPOPT]: 'HOPOPT',
    [ICMP]: 'ICMP',
    [IGMP]: 'IGMP',
    [IPIP]: 'IPIP',
    [TCP]: 'TCP',
    [UDP]: 'UDP',
    [IPV6]: 'IPv6',
    [ROUTING]: 'IPv6-Route',
    [FRAGMENT]: 'IPv6-Frag',
    [GRE]: 'GRE',
    [ESP]: 'ESP',
    [AH]: 'AH',
    [ICMPV6]: 'ICMPv6',
    [NONE]: 'IPv6-NoNxt',
    [DSTOPTS]: 'IPv6-Opts',
    [SCTP]: 'SCTP',
    [MOBILITY]: 'Mobility',
    [UDPLITE]: 'UDPLite',
    [MPLS_IN_IP]: 'MPLS-in-IP',
    [HIP]: 'HIP',
    [SHIM6]: 'Shim6',
    [ETHERNET]: 'Ethernet',
    [EXP1]: 'Exp-253',
    [EXP2]: 'Exp-254',
  },
  2,
);

export const name = (v: number): string => ipProtos.name(v);

/**
 * IPv6 extension headers that share the generic layout Next Header(8) | Hdr Ext Len(8, 8-octet units
 * not counting the first 8) — RFC 8200 §4 and RFC 6564 §4 (the uniform format every new extension
 * header must use). Fragment (fixed 8 bytes) and AH (length in 4-octet units, RFC 4302 §2.2) differ
 * and are handled by the chain walker; ESP is opaque (everything after it is encrypted).
 */
export const isGenericExtHeader = (p: number): boolean =>
  p === HOPOPT ||
  p === ROUTING ||
  p === DSTOPTS ||
  p === MOBILITY ||
  p === HIP ||
  p === SHIM6 ||
  p === EXP1 ||
  p === EXP2;

/** Every IPv6 extension header number IANA lists (RFC 7045 §4), ESP included. */
export const isExtHeader = (p: number): boolean =>
  isGenericExtHeader(p) || p === FRAGMENT || p === AH || p === ESP;
