// What GRO did with each packet and why it delivered an aggregate, one counter each (see tcp-gro.ts).
// Linux reference: net/core/gro.c dev_gro_receive, net/ipv4/af_inet.c inet_gro_receive,
// net/ipv6/ip6_offload.c ipv6_gro_receive, net/ipv4/tcp_offload.c tcp_gro_receive,
// net/ipv4/udp_offload.c udp_gro_receive, drivers/net/vxlan vxlan_gro_receive, geneve_gro_receive.
export const GRO_COUNTER_NAMES = [
  'gro-in', //                      packets offered
  'gro-merged', //                  packets whose payload joined an aggregate
  'gro-out-superframes', //         aggregates of ≥ 2 packets delivered
  'gro-out-single', //              packets delivered as they came (held alone, or not eligible)
  // not eligible: delivered at once, untouched
  'gro-pass-unparsed', //           headers do not walk (not IP, truncated, fragment…)
  'gro-pass-not-tcp', //            (inner) L4 is not TCP
  'gro-pass-ip-options', //         IPv4 IHL ≠ 5 or IPv6 extension headers (Linux: iph byte 0 ≠ 0x45)
  'gro-pass-padding', //            IP length ≠ frame length (Linux: flush on tot_len ≠ gro len, so a
  //                                held aggregate of its flow goes first: gro-flush-padding)
  'gro-pass-bad-checksum', //       IPv4 header / TCP / outer UDP checksum wrong (the stack above drops it)
  'gro-pass-no-payload', //         pure ACK / no data (tcp_gro_receive: len < mss=1)
  'gro-pass-flags', //              URG, PSH, RST, SYN or FIN on a packet that starts no aggregate
  'gro-pass-tunnel', //             tunnel header GRO cannot take (Geneve O bit, version, GPE non-Ethernet…)
  // a held aggregate delivered because the next packet of its flow …
  'gro-flush-flags', //             … has other TCP flags / doff / window (except CWR, FIN, PSH)
  'gro-flush-cwr', //               … has CWR set
  'gro-flush-ack', //               … acknowledges something else
  'gro-flush-options', //           … carries different TCP options (timestamps included)
  'gro-flush-seq', //               … is not contiguous
  'gro-flush-mss', //               … is longer than the first packet (or the aggregate ended short)
  'gro-flush-ip', //                … differs in TTL / TOS / DF (IPv6: traffic class / hop limit)
  'gro-flush-ip-id', //             … has an IPv4 ID that neither increments by one nor stays fixed
  'gro-flush-outer-ip', //          … has an outer IP header that differs (tunnels)
  'gro-flush-size', //              … would take the aggregate past 64 KiB
  'gro-flush-end', //               … ended it: PSH/FIN/URG, or shorter than the MSS (merged, then delivered)
  'gro-flush-evict', //             held-flow table full: oldest delivered
  'gro-flush-batch-end', //         end of the receive batch (NAPI poll end)
  'gro-flush-timer', //             older than the flush timeout
  'gro-flush-no-buffers', //        no superframe slot: aggregate and packet delivered separately
  'gro-drop-batch-full', //         output batch full (caller sized it too small): packet freed
  'gro-pass-superframe', //         already a superframe (SUPERFRAME / gso_type set): not merged again
  'gro-flush-padding', //           … arrived padded (IP length < frame): delivered after the aggregate
] as const;

export const IN = 0;
export const MERGED = 1;
export const OUT_SUPER = 2;
export const OUT_SINGLE = 3;
export const PASS_UNPARSED = 4;
export const PASS_NOT_TCP = 5;
export const PASS_IP_OPTIONS = 6;
export const PASS_PADDING = 7;
export const PASS_BAD_CHECKSUM = 8;
export const PASS_NO_PAYLOAD = 9;
export const PASS_FLAGS = 10;
export const PASS_TUNNEL = 11;
export const FLUSH_FLAGS = 12;
export const FLUSH_CWR = 13;
export const FLUSH_ACK = 14;
export const FLUSH_OPTIONS = 15;
export const FLUSH_SEQ = 16;
export const FLUSH_MSS = 17;
export const FLUSH_IP = 18;
export const FLUSH_IP_ID = 19;
export const FLUSH_OUTER_IP = 20;
export const FLUSH_SIZE = 21;
export const FLUSH_END = 22;
export const FLUSH_EVICT = 23;
export const FLUSH_BATCH_END = 24;
export const FLUSH_TIMER = 25;
export const FLUSH_NO_BUFFERS = 26;
export const DROP_BATCH_FULL = 27;
export const PASS_SUPERFRAME = 28;
export const FLUSH_PADDING = 29;
