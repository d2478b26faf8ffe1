#!/bin/bash
# Captures real Linux kernel L2–L4 traffic into test/vectors/kernel-l2l4.pcap (run as root from the
# repository root; needs iproute2, ethtool, tcpdump, python3). Two network namespaces joined by a veth
# pair; tcpdump records on the *receiving* end (veth-b) with checksum offload off on both ends, so
# every checksum in the file is the one the kernel computed in software.
#
#   veth        192.0.2.1/24 <-> .2, 2001:db8::1/64 <-> ::2 (with DAD: the NS from :: is in the file)
#
# (No VLAN frames: this kernel has no 8021q module, so `ip link add … type vlan` fails. VLAN tags are
# covered by the scapy/tshark tests in src/wire/vlan.test.ts.)
#
# Traffic (python3 sockets; the machine has no ping): ARP and ND resolution, ICMP/ICMPv6 echo (raw
# socket request, the kernel answers), UDP to a closed port (the kernel answers ICMP / ICMPv6 port
# unreachable), UDP datagrams of 3000 bytes over IPv4 and IPv6 (fragmented by the sending kernel:
# IPv4 fragments, IPv6 Fragment headers), a TCP connection over IPv4 and one over IPv6 (SYN options
# MSS, SACK-permitted, timestamps, window scale; data; FIN),.
set -euo pipefail
out=${1:-test/vectors/kernel-l2l4.pcap}
a=nvo-kl4-a-$$
b=nvo-kl4-b-$$
cleanup() {
  [ -n "${dump:-}" ] && kill "$dump" 2>/dev/null || true
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add veth-a netns "$a" type veth peer name veth-b netns "$b"
i=0
for ns in "$a" "$b"; do
  i=$((i + 1))
  dev=veth-$([ $i = 1 ] && echo a || echo b)
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$dev" address 02:00:00:00:00:0$i
  ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  ip -n "$ns" link set "$dev" up
  ip -n "$ns" addr add 192.0.2.$i/24 dev "$dev"
  ip -n "$ns" addr add 2001:db8::$i/64 dev "$dev"
done
ip netns exec "$b" tcpdump -i veth-b -s 0 -U -w "$out" 2>/dev/null &
dump=$!
sleep 3 # DAD (1 s) and the router/MLD chatter of link up
pyA() { ip netns exec "$a" /usr/bin/python3 -c "$1"; }
pyB() { ip netns exec "$b" /usr/bin/python3 -c "$1"; }
# ICMP echo: raw sockets; the request's checksum is computed by this script, the reply by the kernel.
pyA "
import socket, struct, time
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
m = struct.pack('!BBHHH', 8, 0, 0, 0x77, 1) + b'nvo-echo-data!'
m = m[:2] + struct.pack('!H', csum(m)) + m[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.sendto(m, ('192.0.2.2', 0))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s6.sendto(struct.pack('!BBHHH', 128, 0, 0, 0x66, 2) + b'nvo-echo6', ('2001:db8::2', 0))  # kernel fills the ICMPv6 checksum
time.sleep(0.5)
"
# UDP: closed port (ICMP errors back), 3000-byte datagrams (fragments).
pyA "
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.sendto(b'hello v4', ('192.0.2.2', 9999))
u6.sendto(b'hello v6', ('2001:db8::2', 9999))
u.sendto(bytes(range(256)) * 11 + bytes(184), ('192.0.2.2', 9999))
u6.sendto(bytes(range(256)) * 11 + bytes(184), ('2001:db8::2', 9999))
time.sleep(0.5)
"
for fam in 4 6; do
  host=$([ $fam = 4 ] && echo 192.0.2.2 || echo 2001:db8::2)
  af=$([ $fam = 4 ] && echo AF_INET || echo AF_INET6)
  pyB "
import socket
s = socket.socket(socket.$af); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('$host', 5001)); s.listen(1)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(str(n).encode()); c.close()
" &
  srv=$!
  sleep 0.5
  pyA "
import socket
c = socket.create_connection(('$host', 5001)); c.sendall(bytes(range(200)) * 20); c.shutdown(socket.SHUT_WR)
assert c.recv(100) == b'4000'
"
  wait "$srv"
done
sleep 1
kill -INT "$dump"
wait "$dump" || true
dump=
echo "wrote $out"
