// The NORMAL action: a learning bridge per L2 domain (OVS's xlate_normal; Linux vxlan FDB + bridge).
//
//   domain   = the VNI (tun_id) for a packet from a tunnel, the port's VNI for a guest port
//   learn    src MAC → in_port (+ the remote VTEP, tun_src, when it came from a tunnel)
//   forward  known unicast dst → its port (to a tunnel: tun_dst = the learned VTEP, tun_id = domain)
//   flood    broadcast / multicast / unknown → every guest port of the domain but the input, and, when
//            the input is not a tunnel (split horizon, as a VXLAN VTEP does), a copy to every remote
//            VTEP of the domain (head-end replication, RFC 7348 §4.2 without multicast underlay)
import { type FlowKey, TUN_DST, TUN_ID, TUN_IPV6_DST } from '../flow/key.ts';
import type { Packet } from '../packet/packet.ts';
import { u32 } from '../wire/bytes.ts';
import { sendTo } from './output.ts';
import { KIND_GUEST, KIND_INTERNAL, KIND_TUNNEL, type Port } from './port.ts';
import type { Switch } from './switch.ts';

// Scratch lists, reused: entries [0, nt) are this packet's targets. (Not `length = 0`: V8 frees the
// backing store then, and the next push allocates a new one — per packet.)
const targets: Port[] = [];
const remotes: (Uint8Array | null)[] = [];
let nt = 0;
function add(q: Port, r: Uint8Array | null): void {
  targets[nt] = q;
  remotes[nt] = r;
  nt++;
}
/** For a known unicast to a tunnel: the learned VTEP's offset in sw.macs.remotes (-1: none). */
let remoteAt = -1;

export function normal(sw: Switch, p: Packet, w: FlowKey, consume: boolean): void {
  const inPort = sw.portOf(p.inPort);
  if (!inPort) {
    if (consume) sw.drop(p, sw.counters.id('drop-no-such-port'));
    return;
  }
  const fromTunnel = inPort.kind === KIND_TUNNEL;
  const domain = fromTunnel ? w[TUN_ID + 1]! & 0xffffff : inPort.vni;
  const b = p.buf;
  const l2 = p.start;
  if ((b[l2 + 6]! & 1) === 0) {
    sw.macs.learn(
      domain,
      b,
      l2 + 6,
      inPort.no,
      fromTunnel ? p.tunIpVersion : 0,
      fromTunnel ? p.tunSrc : null,
      sw.now,
    );
  }
  nt = 0;
  remoteAt = -1;
  const unicast = (b[l2]! & 1) === 0;
  const e = unicast ? sw.macs.lookup(domain, b, l2) : -1;
  if (e >= 0) {
    const ePort = sw.macs.portOf(e);
    if (ePort === inPort.no && !fromTunnel) {
      if (consume) sw.drop(p, sw.counters.id('drop-normal-same-port'));
      return;
    }
    const out = sw.portOf(ePort);
    if (!out || (fromTunnel && out.kind === KIND_TUNNEL)) {
      if (consume) sw.drop(p, sw.counters.id(out ? 'drop-normal-split-horizon' : 'drop-no-such-port'));
      return;
    }
    add(out, null);
    remoteAt = out.kind === KIND_TUNNEL && sw.macs.remoteVersionOf(e) !== 0 ? e * 16 : -1;
    sw.counters.v[sw.c.normalForward]!++;
  } else {
    const ports = sw.portList;
    for (let i = 0; i < ports.length; i++) {
      const q = ports[i]!;
      if (q.no !== inPort.no && (q.kind === KIND_GUEST || q.kind === KIND_INTERNAL) && q.vni === domain)
        add(q, null);
    }
    if (!fromTunnel) {
      const vteps = sw.vteps.get(domain);
      for (const t of sw.tunnels) {
        if (t.tunnel!.remote) {
          add(t, null);
        } else if (vteps)
          for (const r of vteps)
            if ((r.length === 4) === (t.tunnel!.ipVersion === 4)) {
              add(t, r);
            }
      }
    }
    sw.counters.v[sw.c.normalFlood]!++;
  }
  if (nt === 0) {
    if (consume) sw.drop(p, sw.counters.id('drop-normal-no-target'));
    return;
  }
  // Tunnel outputs take tun_id = domain and tun_dst = the VTEP; restore w afterwards for later actions.
  const savedId = w[TUN_ID + 1]!;
  const savedDst = w[TUN_DST]!;
  // (An IPv6 VTEP is written to tun_ipv6_dst: restored as well, word by word, no view allocated.)
  const s0 = w[TUN_IPV6_DST]!;
  const s1 = w[TUN_IPV6_DST + 1]!;
  const s2 = w[TUN_IPV6_DST + 2]!;
  const s3 = w[TUN_IPV6_DST + 3]!;
  for (let i = 0; i < nt; i++) {
    const q = targets[i]!;
    const r = remotes[i];
    if (q.kind === KIND_TUNNEL) {
      w[TUN_ID + 1] = domain;
      if (r) {
        if (r.length === 4 || q.tunnel!.ipVersion === 4) w[TUN_DST] = u32(r, 0);
        else for (let j = 0; j < 4; j++) w[TUN_IPV6_DST + j] = u32(r, 4 * j);
      } else if (remoteAt >= 0) {
        const m = sw.macs.remotes;
        if (q.tunnel!.ipVersion === 4) w[TUN_DST] = u32(m, remoteAt);
        else for (let j = 0; j < 4; j++) w[TUN_IPV6_DST + j] = u32(m, remoteAt + 4 * j);
      }
    }
    sendTo(sw, q, p, consume && i === nt - 1, w);
    w[TUN_ID + 1] = savedId;
    w[TUN_DST] = savedDst;
    w[TUN_IPV6_DST] = s0;
    w[TUN_IPV6_DST + 1] = s1;
    w[TUN_IPV6_DST + 2] = s2;
    w[TUN_IPV6_DST + 3] = s3;
  }
}
