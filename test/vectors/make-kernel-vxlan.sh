#!/bin/bash
# Captures real Linux kernel VXLAN traffic into test/vectors/kernel-vxlan.pcap (run as root from the
# repository root; needs iproute2, tcpdump, ping). Two network namespaces joined by a veth pair carry
# three kernel vxlan tunnels, and tcpdump on one end of the veth records the outer frames:
#
#   vx42   VNI 42, IPv4 underlay 192.0.2.1 <-> 192.0.2.2, dstport 4789   overlay 10.42.0.1/.2
#   vx7    VNI 7,  IPv4 underlay, dstport 8472 (Linux's old default)     overlay 10.7.0.1/.2
#   vx43   VNI 43, IPv6 underlay 2001:db8::1 <-> 2001:db8::2, dstport 4789   overlay 10.43.0.1/.2
#
# Traffic (python3 sockets; the machine has no ping): UDP datagrams of 56 and 1300 bytes on each overlay,
# one of 3000 bytes on vx42 (the inner IPv4 packet is fragmented by the sending stack, each fragment its
# own VXLAN packet), and a TCP connection on vx42 carrying 20000 bytes (handshake, data, ACKs, FIN in
# both directions; veth offloads may show the data as GSO frames larger than the MTU). The capture is
# taken on the sending side of a veth, so outer UDP checksums may be left partial by checksum offload
# (as on any sending host); `nvo pcap decap` accepts them unless --verify-csum.
set -euo pipefail
out=${1:-test/vectors/kernel-vxlan.pcap}
a=nvo-kvx-a-$$
b=nvo-kvx-b-$$
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
  peer=$((3 - i))
  dev=veth-$([ $i = 1 ] && echo a || echo b)
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$dev" address 02:00:00:00:00:0$i up
  ip -n "$ns" addr add 192.0.2.$i/24 dev "$dev"
  ip -n "$ns" addr add 2001:db8::$i/64 dev "$dev" nodad
  ip -n "$ns" link add vx42 address 0a:42:00:00:00:0$i type vxlan id 42 dstport 4789 \
    local 192.0.2.$i remote 192.0.2.$peer dev "$dev" nolearning
  ip -n "$ns" link add vx7 address 0a:07:00:00:00:0$i type vxlan id 7 dstport 8472 \
    local 192.0.2.$i remote 192.0.2.$peer dev "$dev" nolearning
  ip -n "$ns" link add vx43 address 0a:43:00:00:00:0$i type vxlan id 43 dstport 4789 \
    local 2001:db8::$i remote 2001:db8::$peer dev "$dev" nolearning
  for v in 42 7 43; do
    ip -n "$ns" addr add 10.$v.0.$i/24 dev vx$v
    ip -n "$ns" link set vx$v up
    # static neighbours: no ARP in the capture, so frame counts are the same on every run
    ip -n "$ns" neigh add 10.$v.0.$peer lladdr 0a:$(printf %02d $v):00:00:00:0$peer dev vx$v nud permanent
  done
done
ip netns exec "$a" tcpdump -i veth-a -s 0 -U -w "$out" 'udp port 4789 or udp port 8472' 2>/dev/null &
dump=$!
sleep 1
send() { # send NS DST SIZE: one UDP datagram to port 9 (discard)
  ip netns exec "$1" /usr/bin/python3 -c "import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes(range(256))*($3//256)+bytes($3%256), ('$2', 9))"
}
for v in 42 7 43; do
  send "$a" 10.$v.0.2 56
  send "$a" 10.$v.0.2 1300
done
send "$a" 10.42.0.2 3000
ip netns exec "$b" /usr/bin/python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.42.0.2', 5001)); s.listen(1)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(str(n).encode()); c.close()
" &
srv=$!
sleep 0.5
ip netns exec "$a" /usr/bin/python3 -c "
import socket
c = socket.create_connection(('10.42.0.2', 5001)); c.sendall(bytes(range(200)) * 100); c.shutdown(socket.SHUT_WR)
assert c.recv(100) == b'20000'
"
wait "$srv"
sleep 0.5
kill -INT "$dump"
wait "$dump" || true
dump=
echo "wrote $out"
