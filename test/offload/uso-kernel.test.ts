// The Linux kernel as the oracle for nvo's USO transmit (offload/uso-pack.ts, datapath/tunnel-segment.ts),
// in throw-away network namespaces (kernel-bed.ts, as kernel-oracle.test.ts):
//
//   ns A: TAP (nvo writes, IFF_VNET_HDR) 10.77.0.1 ── ip_forward ── a0 ══ veth ══ b0 :ns B, AF_PACKET
//
// a0 has TSO/GSO/checksum offload off, so the kernel cuts in software what nvo writes into the TAP:
//   1. a guest TCP superframe (GSO_TCPV4): the kernel's TSO segments (tcp_gso_segment) must be, byte for
//      byte, the inner segments packSegments writes into its chunks (given the frame as the kernel had
//      it after forwarding: TTL − 1, new MACs);
//   2. nvo's own USO superframe of VXLAN packets (GSO_UDP_L4, outer UDP checksum partial): the kernel's
//      datagrams (__udp_gso_segment) must be the packets nvo's classic path (encapsulate, then software
//      tunnel GSO) makes of the same guest frame, after the same forwarding changes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KIND_GUEST, KIND_UNDERLAY } from '../../src/datapath/port.ts';
import { Switch } from '../../src/datapath/switch.ts';
import { parseFlow } from '../../src/flow/ofctl-parse.ts';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import type { TapPort } from '../../src/io/tap.ts';
import { Segmenter } from '../../src/offload/gso.ts';
import { packSegments } from '../../src/offload/uso-pack.ts';
import { Batch } from '../../src/packet/batch.ts';
import { GSO_TCPV4, GSO_UDP_L4, NEEDS_CSUM, SUPERFRAME } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { netnsPath } from '../../testbed/netns.ts';
import { TxCapture } from '../harness/tx-capture.ts';
import { receive, skipReason } from '../io/helpers.ts';
import { load } from './frames.ts';
import { asForwarded, guestSuperframe, type KernelBed, kernelBed } from './kernel-bed.ts';

const skip = skipReason() || false;
const DPORT = 7998;
const VXLAN = Uint8Array.from([8, 0, 0, 0, 0, 0, 42, 0]);

interface Frame {
  bytes: Uint8Array;
}

describe('Linux kernel as oracle for nvo USO transmit', { skip }, () => {
  let bed: KernelBed;
  let pool: Pool;
  let tap: TapPort;
  let tapMac: number[] = [];
  let B = '';

  before(() => {
    bed = kernelBed('nvuk', 'nvuso0');
    ({ pool, tap, tapMac, B } = bed);
  });

  after(() => bed?.close());

  /** A guest TSO superframe 10.77.0.2 → 10.78.0.2:DPORT, TCP checksum seeded (virtio TSO). */
  function guestFrame(len: number, sport: number): Uint8Array {
    const o = {
      sport,
      dport: DPORT,
      flags: 0x18,
      options: [1, 1, 8, 10, 0, 1, 2, 3, 0, 4, 5, 6],
      id: 0xfffa,
      seq: 0xffffd000,
    };
    return guestSuperframe(tapMac, o, len);
  }

  function write(
    f: Uint8Array,
    gsoType: number,
    gsoSize: number,
    csumStart: number,
    csumOffset: number,
  ): void {
    const b = new Batch(2);
    const p = load(pool, f);
    p.flags = NEEDS_CSUM | SUPERFRAME;
    p.gsoType = gsoType;
    p.gsoSize = gsoSize;
    p.csumStart = p.start + csumStart;
    p.csumOffset = csumOffset;
    b.push(p);
    assert.equal(tap.txBurst(b), 1);
    pool.free(p);
  }

  async function sniff(n: number, match: (f: Frame) => boolean, send: () => void): Promise<Frame[]> {
    const port = new AfPacketPort({ ifname: 'b0', pool: new Pool(64, SUPER_SLOT), netns: netnsPath(B) });
    try {
      send();
      return (await receive(port, (g) => g.filter(match).length >= n)).filter(match);
    } finally {
      port.close();
    }
  }

  it("packSegments' inner segments are the kernel's TSO segments", async () => {
    const len = 20000;
    const mss = 1398;
    const f = guestFrame(len, 41000);
    const n = Math.ceil(len / mss);
    const ours = (x: Frame) => x.bytes[23] === 6 && ((x.bytes[36]! << 8) | x.bytes[37]!) === DPORT;
    const wire = await sniff(n, ours, () => write(f, GSO_TCPV4, mss, 34, 16));
    assert.equal(wire.length, n, `kernel segments seen in B: ${wire.length}`);

    // nvo: the forwarded frame cut in place into [VXLAN header + segment] chunks.
    const src = load(pool, asForwarded(f, wire[0]!.bytes));
    src.flags = SUPERFRAME;
    src.gsoType = GSO_TCPV4;
    src.gsoSize = mss;
    const seg = new Segmenter({ pool: new Pool(4) });
    assert.equal(seg.admit(src), n);
    const hdr = f.length - len;
    const chunk = VXLAN.length + hdr + mss;
    const at = src.start - VXLAN.length;
    const end = packSegments(src, seg.layer, mss, n, 0, n, VXLAN, 0, VXLAN.length, src.buf, at);
    const packed = src.buf.slice(at, end);
    pool.free(src);
    assert.equal(packed.length, n * (VXLAN.length + hdr) + len);
    for (let k = 0; k < n; k++) {
      const c = packed.subarray(k * chunk, Math.min(packed.length, (k + 1) * chunk));
      assert.deepEqual(c.subarray(0, VXLAN.length), VXLAN);
      assert.deepEqual(c.subarray(VXLAN.length), wire[k]!.bytes, `segment ${k} differs from the kernel's`);
    }
  });

  it("the kernel's UDP GSO of nvo's USO superframe gives nvo's classic tunnel packets", async () => {
    /** A switch sending guest frames over VXLAN 10.77.0.2 → 10.78.0.2 (next hop: the TAP's MAC). */
    const vtep = (uso: boolean) => {
      const sw = new Switch({ poolSize: 512, superPoolSize: 8, underlayMac: '02:00:00:77:00:02' });
      const wire = new TxCapture();
      sw.addPort('g1', KIND_GUEST, { no: 1, sink: new TxCapture(), vni: 42 });
      sw.addPort('eth0', KIND_UNDERLAY, { no: 100, mtu: 1500, sink: wire, txUso: uso });
      sw.addTunnel(
        { name: 'vx0', encap: 'vxlan', localIp: '10.77.0.2', remoteIp: '10.78.0.2', key: 42, csum: true },
        { no: 10 },
      );
      sw.neighbours.addRoute4(0x0a4e0000, 16, 0x0a4d0001, 100);
      sw.neighbours.set4(0x0a4d0001, Uint8Array.from(tapMac), 100, 0, true);
      sw.addFlow(parseFlow('in_port=g1,actions=output:vx0', { portByName: sw.portByName }));
      const inner = guestFrame(30000, 42000);
      const p = sw.superPool.allocCopy(inner)!;
      p.flags = SUPERFRAME;
      p.gsoType = GSO_TCPV4;
      p.gsoSize = 1448;
      const b = new Batch(1);
      b.push(p);
      sw.receive(1, b, 0);
      sw.flush();
      return wire.sent;
    };
    const supers = vtep(true);
    const classic = vtep(false);
    assert.equal(supers.length, 1);
    assert.equal(supers[0]!.gsoType, GSO_UDP_L4);
    const isVxlan = (x: Frame) => x.bytes[23] === 17 && ((x.bytes[36]! << 8) | x.bytes[37]!) === 4789;
    const wire = await sniff(classic.length, isVxlan, () =>
      write(supers[0]!.bytes, GSO_UDP_L4, supers[0]!.gsoSize, 34, 6),
    );
    assert.equal(wire.length, classic.length, `kernel datagrams seen in B: ${wire.length}`);
    for (let k = 0; k < classic.length; k++) {
      assert.deepEqual(wire[k]!.bytes, asForwarded(classic[k]!.bytes, wire[k]!.bytes), `datagram ${k}`);
    }
  });
});
