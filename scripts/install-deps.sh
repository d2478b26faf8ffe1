#!/usr/bin/env bash
# Debian packages nvo's demo and tests use, installed when missing (needs root, or sudo).
#   tshark, python3-scapy      independent dissectors/builders the codec tests compare against
#   iperf3, iputils-ping, iproute2, ethtool, tcpdump     the namespace test bed and the demo
#   openvswitch-common/-switch ovs-ofctl (flow-syntax oracle) and OVS userspace (interop peer)
#   python3-os-ken, etcd-server  OpenFlow controller and distributed store peers
set -euo pipefail
pkgs=(g++ make tshark python3-scapy iperf3 iputils-ping iproute2 ethtool tcpdump openvswitch-common openvswitch-switch
  python3-os-ken etcd-server)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo 'wireshark-common wireshark-common/install-setuid boolean false' | $sudo debconf-set-selections || true
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
