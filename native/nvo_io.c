// nvo native I/O: the only C in nvo. Thin and batch-oriented: every data call moves a whole batch
// (one N-API crossing), frames land in / leave from a caller-owned slab (no copies through JS
// objects), and per-frame metadata travels in an Int32Array descriptor table (see DESC_* below and
// src/io/native.ts, which must agree). Nothing here throws on packet data: per-frame failures are
// errno values in the descriptor, whole-call failures are negative return values (-errno).
//
// Devices (encapsulations.md §10):
//   TAP        /dev/net/tun, TUNSETIFF IFF_TAP|IFF_NO_PI[|IFF_VNET_HDR], TUNSETVNETHDRSZ, TUNSETOFFLOAD
//   AF_PACKET  SOCK_RAW bound to one ifindex, PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING, PACKET_AUXDATA
//              (802.1Q tags put back on receive), recvmmsg/sendmmsg
//   UDP        UDP_GRO on receive (cmsg gives gso_size), UDP_SEGMENT per message on send, mmsg calls
// Every open takes an optional network-namespace path (/run/netns/NAME): the main thread enters it
// for the socket()/open() and returns, so the descriptor lives in that namespace (sockets and tun
// devices belong to the namespace they were created in).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

// <net/if.h> clashes with <linux/if.h>; this is its only use.
extern unsigned int if_nametoindex(const char *ifname);

#ifndef PACKET_VNET_HDR
#define PACKET_VNET_HDR 15
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

// Descriptor table: DESC_WORDS int32 per frame.
enum {
  D_OFF = 0,        // byte offset of the frame in the slab (in)
  D_LEN = 1,        // rx: capacity in, frame length out; tx: frame length in
  D_VFLAGS = 2,     // virtio_net_hdr.flags (NEEDS_CSUM 1, DATA_VALID 2)
  D_GSO_TYPE = 3,   // virtio_net_hdr.gso_type (TCPV4 1, UDP 3, TCPV6 4, UDP_L4 5, |0x80 ECN)
  D_GSO_SIZE = 4,   // virtio gso_size; UDP: the UDP_GRO cmsg (rx) / UDP_SEGMENT (tx)
  D_CSUM_START = 5, // virtio csum_start, relative to the frame start
  D_CSUM_OFF = 6,   // virtio csum_offset, relative to csum_start
  D_HDR_LEN = 7,    // virtio hdr_len
  D_ADDR = 8,       // 16 address bytes (IPv4 in the first 4), words 8..11 (UDP only)
  D_FAMILY = 12,    // 4 or 6 (UDP only)
  D_PORT = 13,      // UDP port (UDP only)
  D_ERR = 14,       // out: errno for this frame, 0 when it went through
  D_RXFLAGS = 15,   // out: 1 = truncated (frame longer than the capacity offered)
  DESC_WORDS = 16
};

enum { KIND_TAP = 0, KIND_PACKET = 1, KIND_UDP = 2 };
#define MAX_BURST 256

// Scratch for one burst (~40 KB), per thread: each worker thread that loads the addon gets its own.
static __thread struct virtio_net_hdr_mrg_rxbuf vhdr[MAX_BURST];
static __thread struct mmsghdr msgs[MAX_BURST];
static __thread struct iovec iovs[MAX_BURST][2];
static __thread struct sockaddr_in6 addrs[MAX_BURST];
// One control message per frame: UDP_GRO's int, or AF_PACKET's auxdata (the VLAN tag, see rx_burst).
static __thread char cmsgs[MAX_BURST][CMSG_SPACE(sizeof(struct tpacket_auxdata))] __attribute__((aligned(8)));

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, NULL, "nvo_io: N-API call failed: " #call);                            \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

// Reads an optional string argument; returns 0 and "" when undefined/null.
static int get_str(napi_env env, napi_value v, char *buf, size_t cap) {
  napi_valuetype t;
  buf[0] = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined || t == napi_null) return 0;
  if (t != napi_string) return -1;
  size_t n;
  return napi_get_value_string_utf8(env, v, buf, cap, &n) == napi_ok ? 0 : -1;
}

// Enters the network namespace at `path` for the current thread; *saved gets the fd to return with.
static int netns_enter(const char *path, int *saved) {
  *saved = -1;
  if (!path[0]) return 0;
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -errno;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(self);
    return -e;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int e = errno;
    close(target);
    close(self);
    return -e;
  }
  close(target);
  *saved = self;
  return 0;
}

static void netns_leave(int saved) {
  if (saved < 0) return;
  // Failing to return would leave the main thread in a test namespace: nothing sane can follow.
  if (setns(saved, CLONE_NEWNET) < 0) abort();
  close(saved);
}

// tapOpen(name, vnetHdrSize 0|10|12, offloads, netnsPath?) -> { fd, name, offloads }
// offloads: TUN_F_* the kernel may hand us (TSO/USO superframes, partial checksums). When the
// kernel refuses USO (before 6.2) the call retries without it and reports what was accepted.
static napi_value tap_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ], ns[256];
  int32_t vsz = 0, offl = 0;
  if (get_str(env, argv[0], name, sizeof name) || get_i32(env, argv[1], &vsz) ||
      get_i32(env, argv[2], &offl) || get_str(env, argv[3], ns, sizeof ns))
    return napi_throw_type_error(env, NULL, "tapOpen(name, vnetHdrSize, offloads, netns?)"), NULL;
  if (vsz != 0 && vsz != 10 && vsz != 12)
    return napi_throw_range_error(env, NULL, "vnetHdrSize must be 0, 10 or 12"), NULL;
  int saved, r = netns_enter(ns, &saved);
  if (r < 0) return throw_errno(env, "tapOpen: enter netns", -r);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  int err = fd < 0 ? errno : 0;
  netns_leave(saved);
  if (fd < 0) return throw_errno(env, "tapOpen: open /dev/net/tun", err);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vsz ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  const char *step = "TUNSETIFF";
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) goto fail;
  step = "TUNSETVNETHDRSZ";
  if (vsz && ioctl(fd, TUNSETVNETHDRSZ, &vsz) < 0) goto fail;
  step = "TUNSETOFFLOAD";
  if (vsz) {
    unsigned int want = (unsigned int)offl;
    if (ioctl(fd, TUNSETOFFLOAD, want) < 0) {
      want &= ~(unsigned int)(TUN_F_USO4 | TUN_F_USO6);
      if (errno != EINVAL || ioctl(fd, TUNSETOFFLOAD, want) < 0) goto fail;
    }
    offl = (int32_t)want;
  } else {
    offl = 0;
  }
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_int32(env, fd, &v));
  CHECK(napi_set_named_property(env, o, "fd", v));
  CHECK(napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, o, "name", v));
  CHECK(napi_create_int32(env, offl, &v));
  CHECK(napi_set_named_property(env, o, "offloads", v));
  return o;
fail:
  err = errno;
  close(fd);
  return throw_errno(env, step, err);
}

// Reads an optional 6-byte MAC (a Uint8Array of length 6); *mac stays NULL when undefined/null.
static int get_mac(napi_env env, napi_value v, uint8_t **mac) {
  napi_valuetype t;
  *mac = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined || t == napi_null) return 0;
  napi_typedarray_type tt;
  size_t len, off;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &tt, &len, (void **)mac, &ab, &off) != napi_ok ||
      tt != napi_uint8_array || len != 6)
    return -1;
  return 0;
}

// packetOpen(ifname, vnetHdr bool, netnsPath?, rcvbuf, mac?, defrag?) -> { fd, ifindex }
// mac: a unicast address of nvo's own, not the interface's: PACKET_MR_UNICAST adds it to the
// device's unicast filter (dev_uc_add; a device without one, like veth, goes promiscuous), so the NIC
// accepts frames sent to it, while the host's IP stack sees them as PACKET_OTHERHOST and drops them
// at once instead of routing each one. The kernel removes the membership when the socket closes.
// defrag: the socket joins a fanout group of its own (PACKET_FANOUT_FLAG_UNIQUEID) with
// PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles IPv4 fragments (ip_check_defrag, the netns's
// ipfrag limits and timeout) and the socket reads each datagram whole: one read and one copy instead
// of one per fragment (VXLAN-SOE's 64 KB datagram crosses a 1500-byte wire as 45 fragments).
static napi_value packet_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ], ns[256];
  bool vnet = false;
  int32_t rcvbuf = 0;
  uint8_t *mac = NULL;
  bool defrag = false;
  if (get_str(env, argv[0], name, sizeof name) || napi_get_value_bool(env, argv[1], &vnet) != napi_ok ||
      get_str(env, argv[2], ns, sizeof ns) || get_i32(env, argv[3], &rcvbuf) ||
      (argc >= 5 && get_mac(env, argv[4], &mac)) ||
      (argc >= 6 && napi_get_value_bool(env, argv[5], &defrag) != napi_ok))
    return napi_throw_type_error(env, NULL, "packetOpen(ifname, vnetHdr, netns?, rcvbuf, mac?, defrag?)"), NULL;
  int saved, r = netns_enter(ns, &saved);
  if (r < 0) return throw_errno(env, "packetOpen: enter netns", -r);
  const char *step = "socket(AF_PACKET)";
  int one = 1, err = 0, ifindex = 0;
  // Protocol 0 until bound: an ETH_P_ALL socket would see every interface's frames before bind().
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) goto fail;
  step = "if_nametoindex";
  ifindex = (int)if_nametoindex(name);
  if (!ifindex) goto fail;
  step = "PACKET_VNET_HDR";
  if (vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) goto fail;
  step = "PACKET_IGNORE_OUTGOING";
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) goto fail;
  step = "PACKET_AUXDATA";
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) goto fail;
  step = "SO_RCVBUF";
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
    goto fail;
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  step = "bind(AF_PACKET)";
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) goto fail;
  if (mac) {
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = ifindex;
    mr.mr_type = PACKET_MR_UNICAST;
    mr.mr_alen = 6;
    memcpy(mr.mr_address, mac, 6);
    step = "PACKET_ADD_MEMBERSHIP(PACKET_MR_UNICAST)";
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) goto fail;
  }
  if (defrag) {
    // Group id 0 with UNIQUEID: the kernel picks an id no other group in this namespace uses; LB, not
    // HASH: with one member there is nothing to spread, and HASH dissects every packet. A group
    // hooks the interface in the socket's place with its own flags: IGNORE_OUTGOING again.
    int fan = (PACKET_FANOUT_LB | PACKET_FANOUT_FLAG_DEFRAG | PACKET_FANOUT_FLAG_UNIQUEID |
               PACKET_FANOUT_FLAG_IGNORE_OUTGOING)
              << 16;
    step = "PACKET_FANOUT(DEFRAG)";
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &fan, sizeof fan) < 0) goto fail;
  }
  netns_leave(saved);
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_int32(env, fd, &v));
  CHECK(napi_set_named_property(env, o, "fd", v));
  CHECK(napi_create_int32(env, ifindex, &v));
  CHECK(napi_set_named_property(env, o, "ifindex", v));
  return o;
fail:
  err = errno;
  if (fd >= 0) close(fd);
  netns_leave(saved);
  return throw_errno(env, step, err);
}

// udpOpen(family 4|6, addr Uint8Array(4|16), port, gro bool, netnsPath?, bufsize) -> { fd, port }
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fam = 0, port = 0, bufsz = 0;
  bool gro = false;
  char ns[256];
  uint8_t *ab = NULL;
  size_t alen = 0;
  napi_typedarray_type tt;
  napi_value abuf;
  size_t aoff;
  if (get_i32(env, argv[0], &fam) ||
      napi_get_typedarray_info(env, argv[1], &tt, &alen, (void **)&ab, &abuf, &aoff) != napi_ok ||
      get_i32(env, argv[2], &port) || napi_get_value_bool(env, argv[3], &gro) != napi_ok ||
      get_str(env, argv[4], ns, sizeof ns) || get_i32(env, argv[5], &bufsz) ||
      tt != napi_uint8_array || (fam != 4 && fam != 6) || alen != (fam == 4 ? 4u : 16u))
    return napi_throw_type_error(env, NULL, "udpOpen(4|6, addr bytes, port, gro, netns?, bufsize)"), NULL;
  int saved, r = netns_enter(ns, &saved);
  if (r < 0) return throw_errno(env, "udpOpen: enter netns", -r);
  const char *step = "socket(UDP)";
  int one = 1, err = 0;
  int fd = socket(fam == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) goto fail;
  netns_leave(saved);
  saved = -1;
  // SO_REUSEADDR only on a chosen port: with it, udp_lib_get_port's ephemeral pick (port 0) skips no
  // port another SO_REUSEADDR socket on the same address holds (udp_lib_lport_inuse), so two sockets
  // could share one port and each other's datagrams.
  step = "SO_REUSEADDR";
  if (port != 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) goto fail;
  step = "UDP_GRO";
  if (gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0) goto fail;
  if (bufsz > 0) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof bufsz) < 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof bufsz) < 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
  }
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (fam == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    memcpy(&s4->sin_addr, ab, 4);
    sl = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    memcpy(&s6->sin6_addr, ab, 16);
    sl = sizeof *s6;
  }
  step = "bind(UDP)";
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) goto fail;
  step = "getsockname";
  sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) goto fail;
  port = ntohs(fam == 4 ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_int32(env, fd, &v));
  CHECK(napi_set_named_property(env, o, "fd", v));
  CHECK(napi_create_int32(env, port, &v));
  CHECK(napi_set_named_property(env, o, "port", v));
  return o;
fail:
  err = errno;
  if (fd >= 0) close(fd);
  netns_leave(saved);
  return throw_errno(env, step, err);
}

// Common argument decoding for rxBurst/txBurst(fd, kind, vnetHdrSize, slab, desc, n).
typedef struct {
  int32_t fd, kind, vsz, n;
  uint8_t *slab;
  size_t slab_len;
  int32_t *desc;
} burst_args;

static int burst_get(napi_env env, napi_callback_info info, burst_args *a) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) return -1;
  napi_typedarray_type tt;
  size_t len, off;
  napi_value ab;
  if (get_i32(env, argv[0], &a->fd) || get_i32(env, argv[1], &a->kind) || get_i32(env, argv[2], &a->vsz) ||
      get_i32(env, argv[5], &a->n))
    return -1;
  if (napi_get_typedarray_info(env, argv[3], &tt, &a->slab_len, (void **)&a->slab, &ab, &off) != napi_ok ||
      tt != napi_uint8_array)
    return -1;
  if (napi_get_typedarray_info(env, argv[4], &tt, &len, (void **)&a->desc, &ab, &off) != napi_ok ||
      tt != napi_int32_array)
    return -1;
  if (a->n < 0 || (size_t)a->n * DESC_WORDS > len) return -1;
  if (a->n > MAX_BURST) a->n = MAX_BURST;
  if (a->vsz != 0 && a->vsz != 10 && a->vsz != 12) return -1;
  return 0;
}

// A frame's [off, off+len) must lie inside the slab: descriptors come from JS and are not trusted.
static int in_slab(const burst_args *a, int32_t off, int32_t len) {
  return off >= 0 && len >= 0 && (size_t)off + (size_t)len <= a->slab_len;
}

static void vhdr_to_desc(const struct virtio_net_hdr_mrg_rxbuf *h, int32_t *d) {
  d[D_VFLAGS] = h->hdr.flags;
  d[D_GSO_TYPE] = h->hdr.gso_type;
  d[D_GSO_SIZE] = h->hdr.gso_size;
  d[D_CSUM_START] = h->hdr.csum_start;
  d[D_CSUM_OFF] = h->hdr.csum_offset;
  d[D_HDR_LEN] = h->hdr.hdr_len;
}

static void desc_to_vhdr(const int32_t *d, struct virtio_net_hdr_mrg_rxbuf *h) {
  h->hdr.flags = (uint8_t)d[D_VFLAGS];
  h->hdr.gso_type = (uint8_t)d[D_GSO_TYPE];
  h->hdr.hdr_len = (uint16_t)d[D_HDR_LEN];
  h->hdr.gso_size = (uint16_t)d[D_GSO_SIZE];
  h->hdr.csum_start = (uint16_t)d[D_CSUM_START];
  h->hdr.csum_offset = (uint16_t)d[D_CSUM_OFF];
  h->num_buffers = 0;
}

static void clear_meta(int32_t *d) {
  d[D_VFLAGS] = d[D_GSO_TYPE] = d[D_GSO_SIZE] = d[D_CSUM_START] = d[D_CSUM_OFF] = d[D_HDR_LEN] = 0;
  d[D_ERR] = d[D_RXFLAGS] = 0;
}

// Fills the per-frame message headers shared by recvmmsg and sendmmsg.
static void build_msgs(const burst_args *a, int i0, int n, int tx) {
  for (int j = 0; j < n; j++) {
    int i = i0 + j;
    int32_t *d = a->desc + (size_t)i * DESC_WORDS;
    struct msghdr *m = &msgs[j].msg_hdr;
    memset(m, 0, sizeof *m);
    int k = 0;
    if (a->vsz) {
      if (tx) desc_to_vhdr(d, &vhdr[i]);
      iovs[j][k].iov_base = &vhdr[i];
      iovs[j][k++].iov_len = (size_t)a->vsz;
    }
    iovs[j][k].iov_base = a->slab + d[D_OFF];
    iovs[j][k++].iov_len = (size_t)d[D_LEN];
    m->msg_iov = iovs[j];
    m->msg_iovlen = (size_t)k;
    if (a->kind == KIND_UDP) {
      m->msg_name = &addrs[j];
      if (tx) {
        memset(&addrs[j], 0, sizeof addrs[j]);
        if (d[D_FAMILY] == 4) {
          struct sockaddr_in *s4 = (struct sockaddr_in *)&addrs[j];
          s4->sin_family = AF_INET;
          s4->sin_port = htons((uint16_t)d[D_PORT]);
          memcpy(&s4->sin_addr, &d[D_ADDR], 4);
          m->msg_namelen = sizeof *s4;
        } else {
          addrs[j].sin6_family = AF_INET6;
          addrs[j].sin6_port = htons((uint16_t)d[D_PORT]);
          memcpy(&addrs[j].sin6_addr, &d[D_ADDR], 16);
          m->msg_namelen = sizeof addrs[j];
        }
        if (d[D_GSO_SIZE] > 0) {
          m->msg_control = cmsgs[j];
          m->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
          struct cmsghdr *c = CMSG_FIRSTHDR(m);
          c->cmsg_level = SOL_UDP;
          c->cmsg_type = UDP_SEGMENT;
          c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          uint16_t gs = (uint16_t)d[D_GSO_SIZE];
          memcpy(CMSG_DATA(c), &gs, sizeof gs);
        }
      } else {
        m->msg_namelen = sizeof addrs[j];
        m->msg_control = cmsgs[j];
        m->msg_controllen = sizeof cmsgs[j];
      }
    } else if (a->kind == KIND_PACKET && !tx) {
      m->msg_control = cmsgs[j];
      m->msg_controllen = sizeof cmsgs[j];
    }
  }
}

// The kernel takes the 802.1Q tag out of every frame it receives (skb_vlan_untag in
// __netif_receive_skb_core, before any packet socket sees it) and reports it only in PACKET_AUXDATA:
// put it back at byte 12, as the wire had it. Returns 1 when the 4 bytes do not fit the space offered
// (the caller counts the frame as truncated), else 0.
static int packet_rx_vlan(int j, uint8_t *frame, int32_t *total, int32_t cap, int32_t *d, int vsz) {
  struct msghdr *m = &msgs[j].msg_hdr;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
    struct tpacket_auxdata aux;
    memcpy(&aux, CMSG_DATA(c), sizeof aux);
    if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || *total < 12) return 0;
    if (*total + 4 > cap) return 1;
    uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) && aux.tp_vlan_tpid ? aux.tp_vlan_tpid : 0x8100;
    memmove(frame + 16, frame + 12, (size_t)*total - 12);
    frame[12] = (uint8_t)(tpid >> 8);
    frame[13] = (uint8_t)tpid;
    frame[14] = (uint8_t)(aux.tp_vlan_tci >> 8);
    frame[15] = (uint8_t)aux.tp_vlan_tci;
    *total += 4;
    // The virtio offsets count from the frame start: the L3/L4 headers moved by 4.
    if (vsz && (d[D_VFLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM)) d[D_CSUM_START] += 4;
    if (vsz && d[D_HDR_LEN]) d[D_HDR_LEN] += 4;
    return 0;
  }
  return 0;
}

static void udp_rx_meta(int j, int32_t *d) {
  struct msghdr *m = &msgs[j].msg_hdr;
  struct sockaddr_in6 *s6 = &addrs[j];
  memset(&d[D_ADDR], 0, 16);
  if (s6->sin6_family == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)s6;
    d[D_FAMILY] = 4;
    d[D_PORT] = ntohs(s4->sin_port);
    memcpy(&d[D_ADDR], &s4->sin_addr, 4);
  } else {
    d[D_FAMILY] = 6;
    d[D_PORT] = ntohs(s6->sin6_port);
    memcpy(&d[D_ADDR], &s6->sin6_addr, 16);
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int gs;
      memcpy(&gs, CMSG_DATA(c), sizeof gs);
      d[D_GSO_SIZE] = gs;
    }
  }
}

// rxBurst(fd, kind, vnetHdrSize, slab, desc, n) -> frames received (>= 0) or -errno.
// In: desc[i].OFF/LEN give where frame i may go. Out: LEN, virtio fields, UDP address, RXFLAGS.
// Stops at the first EAGAIN: the caller polls for readability again.
static napi_value rx_burst(napi_env env, napi_callback_info info) {
  burst_args a;
  if (burst_get(env, info, &a)) return napi_throw_type_error(env, NULL, "rxBurst: bad arguments"), NULL;
  for (int i = 0; i < a.n; i++) {
    int32_t *d = a.desc + (size_t)i * DESC_WORDS;
    if (!in_slab(&a, d[D_OFF], d[D_LEN])) return num(env, -EFAULT);
    clear_meta(d);
  }
  int got = 0;
  if (a.kind == KIND_TAP) {
    // A tun fd has no recvmmsg: one readv per frame, still one crossing per batch.
    for (; got < a.n; got++) {
      int32_t *d = a.desc + (size_t)got * DESC_WORDS;
      struct iovec iov[2];
      int k = 0;
      if (a.vsz) {
        iov[k].iov_base = &vhdr[got];
        iov[k++].iov_len = (size_t)a.vsz;
      }
      iov[k].iov_base = a.slab + d[D_OFF];
      iov[k++].iov_len = (size_t)d[D_LEN];
      ssize_t r = readv(a.fd, iov, k);
      if (r < 0) {
        if (errno == EINTR) {
          got--;
          continue;
        }
        // Older tun versions fail a too-short read with EFAULT/EMSGSIZE (the frame is gone): report a
        // truncated frame so it is counted. Our iovecs are inside the slab, so EFAULT means nothing else.
        if (errno == EFAULT || errno == EMSGSIZE) {
          d[D_RXFLAGS] = 1;
          d[D_LEN] = 0;
          continue;
        }
        if (got == 0 && errno != EAGAIN) return num(env, -errno);
        break;
      }
      if (r < a.vsz) return num(env, -EIO);
      int32_t flen = (int32_t)(r - a.vsz);
      // tun copies what fits and returns that length (checked on 6.18): a frame that fills the space
      // offered may have been cut. Slots are sized so a whole frame never fills one exactly.
      if (flen >= d[D_LEN]) d[D_RXFLAGS] = 1;
      d[D_LEN] = flen;
      if (a.vsz) vhdr_to_desc(&vhdr[got], d);
    }
    return num(env, got);
  }
  build_msgs(&a, 0, a.n, 0);
  int r;
  do r = recvmmsg(a.fd, msgs, (unsigned int)a.n, MSG_DONTWAIT | MSG_TRUNC, NULL);
  while (r < 0 && errno == EINTR);
  if (r < 0) return num(env, errno == EAGAIN ? 0 : -errno);
  for (int i = 0; i < r; i++) {
    int32_t *d = a.desc + (size_t)i * DESC_WORDS;
    int32_t total = (int32_t)msgs[i].msg_len - a.vsz;
    if (total < 0) total = 0;
    if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || total > d[D_LEN]) {
      d[D_RXFLAGS] = 1;
      if (total > d[D_LEN]) total = d[D_LEN];
    }
    if (a.vsz) vhdr_to_desc(&vhdr[i], d);
    if (a.kind == KIND_PACKET && !d[D_RXFLAGS] &&
        packet_rx_vlan(i, a.slab + d[D_OFF], &total, d[D_LEN], d, a.vsz))
      d[D_RXFLAGS] = 1;
    d[D_LEN] = total;
    if (a.kind == KIND_UDP) udp_rx_meta(i, d);
  }
  return num(env, r);
}

// txBurst(fd, kind, vnetHdrSize, slab, desc, n) -> frames consumed (sent or failed) or -errno.
// A frame the kernel rejects (bad vnet header, EMSGSIZE, no route…) gets its errno in desc.ERR and
// the burst goes on with the next one; EAGAIN (queue full) ends the burst and is left to the caller.
static napi_value tx_burst(napi_env env, napi_callback_info info) {
  burst_args a;
  if (burst_get(env, info, &a)) return napi_throw_type_error(env, NULL, "txBurst: bad arguments"), NULL;
  int done = 0;
  while (done < a.n) {
    int32_t *d = a.desc + (size_t)done * DESC_WORDS;
    d[D_ERR] = 0;
    if (!in_slab(&a, d[D_OFF], d[D_LEN])) {
      d[D_ERR] = EFAULT;
      done++;
      continue;
    }
    if (a.kind == KIND_TAP) {
      struct iovec iov[2];
      int k = 0;
      if (a.vsz) {
        desc_to_vhdr(d, &vhdr[0]);
        iov[k].iov_base = &vhdr[0];
        iov[k++].iov_len = (size_t)a.vsz;
      }
      iov[k].iov_base = a.slab + d[D_OFF];
      iov[k++].iov_len = (size_t)d[D_LEN];
      ssize_t r = writev(a.fd, iov, k);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        d[D_ERR] = errno;
      }
      done++;
      continue;
    }
    // Validate the run of frames ahead so one sendmmsg covers them all.
    int run = 1;
    while (done + run < a.n) {
      int32_t *e = a.desc + (size_t)(done + run) * DESC_WORDS;
      if (!in_slab(&a, e[D_OFF], e[D_LEN])) break;
      e[D_ERR] = 0;
      run++;
    }
    build_msgs(&a, done, run, 1);
    int r = sendmmsg(a.fd, msgs, (unsigned int)run, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == ENOBUFS) break;
      // The first message of the run failed: record it and move past it.
      d[D_ERR] = errno;
      done++;
      continue;
    }
    done += r;
  }
  return num(env, done);
}

// The one argument of a call that takes a file descriptor; nonzero (a TypeError thrown, naming
// `usage`) when it is not an int32.
static int fd_arg(napi_env env, napi_callback_info info, const char *usage, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || get_i32(env, argv[0], fd)) {
    napi_throw_type_error(env, NULL, usage);
    return 1;
  }
  return 0;
}

// packetDrops(fd) -> frames the kernel dropped for this AF_PACKET socket since the last call (its
// receive queue was full: PACKET_STATISTICS tp_drops, which reading clears), or -errno.
static napi_value packet_drops(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (fd_arg(env, info, "packetDrops(fd)", &fd)) return NULL;
  struct tpacket_stats st;
  socklen_t l = sizeof st;
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &l) < 0) return num(env, -errno);
  return num(env, st.tp_drops);
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (fd_arg(env, info, "close(fd)", &fd)) return NULL;
  return num(env, close(fd) < 0 ? -errno : 0);
}

// ---- event-loop integration: uv_poll on the fd, calling back into JS when readable ----------------
// One callback per readiness event, not per frame: JS drains with rxBurst until it comes back short.

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int closing;
} poller;

static void poll_closed(uv_handle_t *h) {
  free(h->data);
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  poller *p = (poller *)h->data;
  if (p->closing) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  napi_get_reference_value(env, p->cb, &cb);
  napi_get_global(env, &recv); // make_callback wants an object receiver
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, events, &argv[1]);
  // make_callback (not call_function): runs microtasks and reports a throw as uncaught.
  if (napi_make_callback(env, p->ctx, recv, cb, 2, argv, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  poller *p = (poller *)data;
  if (!p->closing) {
    p->closing = 1;
    uv_poll_stop(&p->poll);
    napi_delete_reference(env, p->cb);
    napi_async_destroy(env, p->ctx);
    uv_close((uv_handle_t *)&p->poll, poll_closed);
  }
}

// pollStart(fd, events 1=readable|2=writable, callback(status, events)) -> handle
static napi_value poll_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, ev;
  if (get_i32(env, argv[0], &fd) || get_i32(env, argv[1], &ev))
    return napi_throw_type_error(env, NULL, "pollStart(fd, events, cb)"), NULL;
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  poller *p = (poller *)calloc(1, sizeof *p);
  if (!p) return throw_errno(env, "pollStart", ENOMEM);
  p->env = env;
  p->poll.data = p;
  int r = uv_poll_init(loop, &p->poll, fd);
  if (r < 0) {
    free(p);
    return throw_errno(env, "uv_poll_init", -r);
  }
  napi_value name;
  CHECK(napi_create_reference(env, argv[2], 1, &p->cb));
  CHECK(napi_create_string_utf8(env, "nvo.poll", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &p->ctx));
  r = uv_poll_start(&p->poll, ev, poll_cb);
  napi_value ext;
  CHECK(napi_create_external(env, p, NULL, NULL, &ext));
  if (r < 0) {
    poller_finalize(env, p, NULL);
    return throw_errno(env, "uv_poll_start", -r);
  }
  return ext;
}

// pollStop(handle): stops and frees; safe to call twice. Call before closing the fd.
static napi_value poll_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  CHECK(napi_get_value_external(env, argv[0], &data));
  poller_finalize(env, data, NULL);
  return NULL;
}

// pollUpdate(handle, events): change the interest set (e.g. add writable while a tx queue waits).
static napi_value poll_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  int32_t ev;
  CHECK(napi_get_value_external(env, argv[0], &data));
  if (get_i32(env, argv[1], &ev)) return napi_throw_type_error(env, NULL, "pollUpdate(h, events)"), NULL;
  poller *p = (poller *)data;
  if (p->closing) return NULL;
  int r = uv_poll_start(&p->poll, ev, poll_cb);
  if (r < 0) return throw_errno(env, "uv_poll_start", -r);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"tapOpen", tap_open},   {"packetOpen", packet_open}, {"udpOpen", udp_open},
      {"rxBurst", rx_burst},   {"txBurst", tx_burst},       {"close", close_fd},
      {"pollStart", poll_start}, {"pollStop", poll_stop},   {"pollUpdate", poll_update},
      {"packetDrops", packet_drops},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
      return NULL;
  }
  napi_value v;
  napi_create_int32(env, DESC_WORDS, &v);
  napi_set_named_property(env, exports, "DESC_WORDS", v);
  napi_create_int32(env, MAX_BURST, &v);
  napi_set_named_property(env, exports, "MAX_BURST", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
