// Default transport ports of the tunnel encapsulations, as an open set (a port with no name prints as
// `unknown(0x…)`; any port can be configured). Sources: IANA service-names registry; Linux
// drivers/net/vxlan (IANA_VXLAN_UDP_PORT 4789, the pre-IANA Linux default 8472); RFC 7348 §5 (4789);
// draft-ietf-nvo3-vxlan-gpe §3.2 (4790); RFC 8926 §3.3 (6081); draft-davie-stt-08 §3.1 (TCP 7471).
// GRE and NVGRE have no port: they ride directly on IP protocol 47 (IP_PROTO_GRE).
import { nameSet } from './registry.ts';

export const VXLAN_PORT = 4789;
/** Linux's pre-IANA default (`ip link add … type vxlan` without dstport on old iproute2). */
export const VXLAN_LINUX_PORT = 8472;
export const VXLAN_GPE_PORT = 4790;
export const GENEVE_PORT = 6081;
/** STT is carried in TCP-like segments, so this is a TCP port. */
export const STT_PORT = 7471;
/** GRE (RFC 2784) and NVGRE (RFC 7637) are IP protocol 47, not a port. */
export const IP_PROTO_GRE = 47;

/** UDP destination ports (VXLAN-SOE reuses VXLAN's 4789: it is told apart by configuration, not port). */
export const udpPorts = nameSet({
  [VXLAN_PORT]: 'vxlan',
  [VXLAN_LINUX_PORT]: 'vxlan-linux',
  [VXLAN_GPE_PORT]: 'vxlan-gpe',
  [GENEVE_PORT]: 'geneve',
});

/** TCP destination ports. */
export const tcpPorts = nameSet({ [STT_PORT]: 'stt' });

/** Default destination port per encapsulation name (as in `nvo pcap encap --encap E`); 0 = IP protocol 47. */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  vxlan: VXLAN_PORT,
  'vxlan-gpe': VXLAN_GPE_PORT,
  'vxlan-soe': VXLAN_PORT,
  geneve: GENEVE_PORT,
  stt: STT_PORT,
  gre: 0,
  nvgre: 0,
};
