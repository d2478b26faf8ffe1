#!/usr/bin/python3
# Builds test/vectors/encaps.pcap, encaps.pcapng, encaps-inner.pcap and encaps.json with scapy
# (Debian python3-scapy 2.5.0; run with /usr/bin/python3 from the repository root). Run once; the
# outputs are committed. scapy computes every length and checksum here, so the vectors are
# independent of nvo's own encoders.
#
#   encaps.pcap / .pcapng   outer frames, one of every encapsulation nvo detects, plus frames it
#                           must drop (each with the named drop reason in encaps.json)
#   encaps-inner.pcap       the inner frames, in order, that `nvo pcap decap` must write: exactly the
#                           bytes scapy put inside the tunnel (for VXLAN-GPE / GRE carrying bare IP,
#                           nvo's documented rule: an Ethernet header 00:00:00:00:00:00 >
#                           00:00:00:00:00:00 with the IP EtherType is put in front)
#   encaps.json             per outer frame: name, encap, tunnel id, and "inner" or the drop reason
import json
import struct

from scapy.all import (
    IP,
    TCP,
    UDP,
    Dot1AD,
    Dot1Q,
    Ether,
    GRE,
    IPv6,
    IPv6ExtHdrFragment,
    PcapNgWriter,
    Raw,
    RawPcapWriter,
    VXLAN,
    fragment,
    fragment6,
)
from scapy.contrib.geneve import GENEVE, GeneveOptions

OUT_MAC = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
V4 = dict(src="192.0.2.1", dst="192.0.2.2")
V6 = dict(src="2001:db8::1", dst="2001:db8::2")
ZERO_ETH = Ether(src="00:00:00:00:00:00", dst="00:00:00:00:00:00")


def payload(n, seed):
    return bytes((seed * 7 + i * 13) & 0xFF for i in range(n))


def inner_udp(i, n=64):
    return (
        Ether(src="0a:00:00:00:00:%02x" % i, dst="0a:00:00:00:01:%02x" % i)
        / IP(src="10.0.0.1", dst="10.0.0.2", id=i)
        / UDP(sport=1000 + i, dport=2000 + i)
        / Raw(payload(n, i))
    )


def inner_tcp(i, n=100):
    return (
        Ether(src="0a:00:00:00:00:%02x" % i, dst="0a:00:00:00:01:%02x" % i)
        / IP(src="10.0.0.1", dst="10.0.0.2", id=i, flags="DF")
        / TCP(sport=40000 + i, dport=80, seq=1000, ack=2000, flags="PA")
        / Raw(payload(n, i))
    )


def inner_tcp6(i, n=100):
    return (
        Ether(src="0a:00:00:00:00:%02x" % i, dst="0a:00:00:00:01:%02x" % i)
        / IPv6(src="fd00::1", dst="fd00::2")
        / TCP(sport=40000 + i, dport=443, flags="A")
        / Raw(payload(n, i))
    )


frames = []  # (name, encap, tunnel id, outer bytes, expected inner bytes or drop reason)


def add(name, encap, tid, outer, expect):
    frames.append((name, encap, str(tid), bytes(outer), expect))


def outer4(l4, **ip):
    return Ether(**OUT_MAC) / IP(**{**V4, **ip}) / l4


def outer6(l4):
    return Ether(**OUT_MAC) / IPv6(**V6) / l4


# ---- VXLAN (RFC 7348) ----
x = inner_udp(1)
add("vxlan4", "vxlan", 42, outer4(UDP(sport=50001, dport=4789) / VXLAN(vni=42) / x), x)
x = inner_tcp(2)
add("vxlan4-linux-port", "vxlan", 7, outer4(UDP(sport=50002, dport=8472) / VXLAN(vni=7) / x), x)
x = inner_tcp6(3)
add("vxlan6", "vxlan", 0xFFFFFF, outer6(UDP(sport=50003, dport=4789) / VXLAN(vni=0xFFFFFF) / x), x)
x = inner_udp(4, 1400)
add(
    "vxlan4-outer-vlan",
    "vxlan",
    100,
    Ether(**OUT_MAC) / Dot1Q(vlan=10) / IP(**V4) / UDP(sport=50004, dport=4789) / VXLAN(vni=100) / x,
    x,
)
x = inner_udp(5)
add(
    "vxlan4-outer-qinq",
    "vxlan",
    101,
    Ether(**OUT_MAC) / Dot1AD(vlan=20) / Dot1Q(vlan=10) / IP(**V4) / UDP(sport=50005, dport=4789) / VXLAN(vni=101) / x,
    x,
)
x = inner_udp(6)
add("vxlan4-zero-udp-csum", "vxlan", 6, outer4(UDP(sport=50006, dport=4789, chksum=0) / VXLAN(vni=6) / x), x)
x = inner_udp(7)
add("vxlan4-ip-options", "vxlan", 8, outer4(UDP(sport=50007, dport=4789) / VXLAN(vni=8) / x, options=b"\x01\x01\x01\x00"), x)

# ---- VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe-12), port 4790 ----
x = inner_udp(10)
add(
    "gpe-ethernet",
    "vxlan-gpe",
    500,
    outer4(UDP(sport=50010, dport=4790) / VXLAN(flags="Instance+NextProtocol", NextProtocol=3, vni=500) / x),
    x,
)
ip4 = IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=53, dport=53) / Raw(payload(40, 11))
add(
    "gpe-ipv4",
    "vxlan-gpe",
    501,
    outer4(UDP(sport=50011, dport=4790) / VXLAN(flags="Instance+NextProtocol", NextProtocol=1, vni=501) / ip4),
    ZERO_ETH / ip4,
)
ip6 = IPv6(src="fd01::1", dst="fd01::2") / UDP(sport=53, dport=53) / Raw(payload(40, 12))
add(
    "gpe-ipv6-over-ipv6",
    "vxlan-gpe",
    502,
    outer6(UDP(sport=50012, dport=4790) / VXLAN(flags="Instance+NextProtocol", NextProtocol=2, vni=502) / ip6),
    ZERO_ETH / ip6,
)
add(
    "gpe-nsh",
    "vxlan-gpe",
    503,
    outer4(UDP(sport=50013, dport=4790) / VXLAN(flags="Instance+NextProtocol", NextProtocol=4, vni=503) / Raw(payload(24, 13))),
    "vxlan-gpe-unsupported",
)

# ---- VXLAN-SOE (draft-zhou-li-vxlan-soe-01): S bit, MSS in bytes 1 and 7, on 4789 ----
def soe_hdr(vni, mss):
    return bytes([0x88, mss >> 8, 0, 0, vni >> 16, (vni >> 8) & 0xFF, vni & 0xFF, mss & 0xFF])


x = inner_tcp(20, 4000)
add("vxlan-soe-jumbo", "vxlan-soe", 42, outer4(UDP(sport=50020, dport=4789) / Raw(soe_hdr(42, 1448)) / x), x)
bad = bytes([0x88, 0, 0, 0, 0, 0, 43, 0])  # S set but MSS 0: nothing to segment to
add("vxlan-soe-mss-zero", "vxlan-soe", 43, outer4(UDP(sport=50021, dport=4789) / Raw(bad) / inner_udp(21)), "vxlan-soe-bad-field")
# The SOE use case proper: one big datagram, cut by the outer IP layer (DF clear) into 1500-byte frames.
# nvo reassembles outer fragments (src/offload): the frames before the last are "held", the last one
# completes the datagram and yields the inner frame.
x = inner_tcp(22, 3000)
big = IP(**V4, id=0x5151) / UDP(sport=50022, dport=4789) / Raw(soe_hdr(44, 1448)) / x
frags = fragment(big, fragsize=1480)
for k, f in enumerate(frags):
    add("vxlan-soe-ipv4-fragment-%d" % k, "vxlan-soe", 44, Ether(**OUT_MAC) / f, x if k == len(frags) - 1 else "held")

# ---- Geneve (RFC 8926), port 6081 ----
x = inner_udp(30)
add("geneve4", "geneve", 600, outer4(UDP(sport=50030, dport=6081) / GENEVE(vni=600, proto=0x6558) / x), x)
x = inner_tcp(31)
opts = [GeneveOptions(classid=0x0102, type=0x03, data=b"\x00\x00\x00\x01"), GeneveOptions(classid=0xFFFF, type=0x10, data=b"abcdefgh")]
add("geneve6-options", "geneve", 601, outer6(UDP(sport=50031, dport=6081) / GENEVE(vni=601, proto=0x6558, options=opts) / x), x)
x = inner_udp(32)
g = GENEVE(vni=602, proto=0x6558, critical=1, options=[GeneveOptions(classid=0x0102, type=0x80, data=b"\x00\x00\x00\x02")])
add("geneve4-critical-option", "geneve", 602, outer4(UDP(sport=50032, dport=6081) / g / x), x)
add("geneve4-version-1", "geneve", 603, outer4(UDP(sport=50033, dport=6081) / GENEVE(version=1, vni=603, proto=0x6558) / inner_udp(33)), "geneve-bad-version")
ip4 = IP(src="10.2.0.1", dst="10.2.0.2") / UDP(sport=7, dport=7) / Raw(payload(30, 34))
add("geneve4-ipv4-payload", "geneve", 604, outer4(UDP(sport=50034, dport=6081) / GENEVE(vni=604, proto=0x0800) / ip4), ZERO_ETH / ip4)

# ---- GRE (RFC 2784/2890) and NVGRE (RFC 7637) ----
x = inner_udp(40)
add("nvgre4", "nvgre", (0x123456 << 8) | 0x9A, outer4(GRE(key_present=1, key=(0x123456 << 8) | 0x9A, proto=0x6558) / x), x)
x = inner_tcp6(41)
add("nvgre6", "nvgre", 0x654321 << 8, outer6(GRE(key_present=1, key=0x654321 << 8, proto=0x6558) / x), x)
x = inner_udp(42)
add(
    "gre4-teb-csum-key-seq",
    "gre",
    0xDEADBEEF,
    outer4(GRE(chksum_present=1, key_present=1, seqnum_present=1, key=0xDEADBEEF, sequence_number=5, proto=0x6558) / x),
    x,
)
ip4 = IP(src="10.3.0.1", dst="10.3.0.2") / UDP(sport=9, dport=9) / Raw(payload(20, 43))
add("gre4-ipv4", "gre", 0, outer4(GRE(proto=0x0800) / ip4), ZERO_ETH / ip4)
add("gre4-version-1", "gre", 0, outer4(GRE(version=1, proto=0x880B) / Raw(payload(20, 44))), "gre-bad-version")

# ---- STT (draft-davie-stt-08): TCP-like segments to port 7471 ----
def stt_header(ctx, flags=0, l4off=0, mss=0, tci=0):
    return struct.pack("!BBBBHHQH", 0, flags, l4off, 0, mss, tci, ctx, 0)


def stt_segments(inner, ctx, sport, ack, seglen=None, v6=False, **hdr):
    frame = stt_header(ctx, **hdr) + bytes(inner)
    total = len(frame)
    seglen = seglen or total
    out = []
    for off in range(0, total, seglen):
        chunk = frame[off : off + seglen]
        last = off + seglen >= total
        tcp = TCP(sport=sport, dport=7471, seq=(total << 16) | off, ack=ack, flags="PA" if last else "A", window=65535) / Raw(chunk)
        out.append(outer6(tcp) if v6 else outer4(tcp, flags="DF"))
    return out


x = inner_udp(50, 32)
add("stt4", "stt", 0x0123456789ABCDEF, stt_segments(x, 0x0123456789ABCDEF, 0xC001, 1)[0], x)
x = inner_tcp(51, 12)
add("stt4-offload-flags", "stt", 0x20, stt_segments(x, 0x20, 0xC020, 0x20, flags=0x0E, l4off=34, mss=1448)[0], x)
x = inner_udp(52, 200)
add("stt6", "stt", 0xFFFFFFFFFFFFFFFF, stt_segments(x, 0xFFFFFFFFFFFFFFFF, 0xC009, 9, v6=True)[0], x)
x = inner_udp(53, 3000)
segs = stt_segments(x, 0x77, 0xC002, 2, seglen=1460)
for n, k in enumerate([2, 0, 1]):  # out of order: reassembly completes on the third arrival
    add("stt4-segment-%d" % k, "stt", 0x77, segs[k], x if n == 2 else "held")
x = inner_udp(54, 32)
s = stt_segments(x, 0x78, 0xC003, 3)[0]
s[Raw].load = b"\x01" + bytes(s[Raw].load)[1:]  # STT version 1
add("stt4-version-1", "stt", 0x78, s, "stt-bad-version")

# Geneve over IPv6 cut into outer IPv6 fragments (RFC 8200 §4.5) by scapy fragment6().
x = inner_udp(35, 2000)
g6 = IPv6(**V6) / IPv6ExtHdrFragment(id=0x66) / UDP(sport=50035, dport=6081) / GENEVE(vni=605, proto=0x6558) / x
f6 = fragment6(g6, 1280)
for k, f in enumerate(f6):
    add("geneve6-fragment-%d" % k, "geneve", 605, Ether(**OUT_MAC) / f, x if k == len(f6) - 1 else "held")

# ---- frames that carry no tunnel, or a broken one ----
add("plain-udp-dns", "none", "", outer4(UDP(sport=5353, dport=53) / Raw(payload(30, 60))), "not-encapsulated")
add("arp", "none", "", Ether(**OUT_MAC, type=0x0806) / Raw(payload(28, 61)), "not-encapsulated")
add("plain-tcp", "none", "", outer4(TCP(sport=1234, dport=80, flags="S")), "not-encapsulated")
x = outer4(UDP(sport=50070, dport=4789) / VXLAN(vni=70) / inner_udp(70))
x[IP].chksum = 0x1234
add("vxlan4-bad-ip-csum", "vxlan", 70, x, "ipv4-bad-checksum")
b = bytes(outer4(UDP(sport=50071, dport=4789) / VXLAN(vni=71) / inner_udp(71)))
add("vxlan4-cut-in-vxlan-header", "vxlan", 71, b[: 14 + 20 + 8 + 4], "ipv4-truncated")
x = outer4(UDP(sport=50072, dport=4789) / VXLAN(flags=0, vni=72) / inner_udp(72))
add("vxlan4-i-flag-clear", "vxlan", 72, x, "vxlan-bad-flags")
x = inner_udp(73)
o = outer4(UDP(sport=50073, dport=4789) / VXLAN(vni=73) / x)
raw = bytearray(bytes(o))
raw[14 + 20 + 6] ^= 0xFF  # UDP checksum wrong: decapped by default, dropped with --verify-csum
add("vxlan4-bad-udp-csum", "vxlan", 73, bytes(raw), x)

# The first fragment of a datagram whose other fragments never come: held, incomplete at the end.
lone = fragment(IP(**V4, id=0x7777) / UDP(sport=50074, dport=4789) / VXLAN(vni=74) / inner_udp(74, 2000), fragsize=1480)[0]
add("vxlan4-lone-fragment", "vxlan", 74, Ether(**OUT_MAC) / lone, "held-incomplete")

# ---- write ----
T0 = 1_700_000_000
with RawPcapWriter("test/vectors/encaps.pcap", linktype=1, snaplen=262144) as w:
    w._write_header(None)
    for i, (_, _, _, outer, _) in enumerate(frames):
        w._write_packet(outer, sec=T0 + i, usec=i * 1000)
ng = PcapNgWriter("test/vectors/encaps.pcapng")
for i, (_, _, _, outer, _) in enumerate(frames):
    p = Ether(outer)
    p.time = T0 + i + i / 1000
    ng.write(p)
ng.close()
with RawPcapWriter("test/vectors/encaps-inner.pcap", linktype=1, snaplen=262144) as w:
    w._write_header(None)
    for i, (_, _, _, _, exp) in enumerate(frames):
        if not isinstance(exp, str):
            w._write_packet(bytes(exp), sec=T0 + i, usec=i * 1000)
manifest = [
    {"frame": i + 1, "name": n, "encap": e, "id": t, "expect": exp if isinstance(exp, str) else "inner"}
    for i, (n, e, t, _, exp) in enumerate(frames)
]
with open("test/vectors/encaps.json", "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")
print(len(frames), "frames,", sum(1 for m in manifest if m["expect"] == "inner"), "inner")
