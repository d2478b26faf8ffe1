// VXLAN between two nvo hosts with USO on the underlay port (inner TSO in nvo, then one outer UDP GSO
// superframe of complete VXLAN packets), on real interfaces, in both wire models of bench/e2e:
//   - a real wire (performance.md §10): the sending kernel cuts nvo's superframes with its own UDP GSO
//     (__udp_gso_segment, the independent oracle for their layout) and the receiving kernel merges the
//     datagrams again in GRO (rx-udp-gro-forwarding); nvo takes what it reads. A capture of what left
//     host 1 is decoded by tshark: VXLAN, VNI 42, no malformed frame, nothing over the 1500-byte MTU.
//   - veth defaults: the superframes cross whole.
// In both, 8 MB sent by a TCP client in guest 1 arrive in guest 2 with the same SHA-256 (the guests'
// kernels are the endpoints; python3 on both ends), iperf3 moves TCP, the sender's counters show the
// USO path was taken (far fewer underlay transmissions than tunnel segments) and the receiver's that
// it rewrote superframes into one tunnel packet each (rx-uso-coalesced) instead of splitting them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { iperf } from '../../testbed/iperf.ts';
import { uniqueName } from '../../testbed/netns.ts';
import { startNvoHosts } from '../../testbed/nvo-hosts.ts';
import * as tb from '../../testbed/testbed.ts';
import { fields, PYTHON, tsharkMalformed } from '../harness/tools.ts';
import { capture, nvoStats, pingEventually, tsharkLayers } from './guest-traffic.ts';

const run = promisify(execFile);
const skip = interopSkip('iperf3', 'tcpdump', 'tshark', 'python3');

const BYTES = 8 << 20;
const SERVER = `
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5501)); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(30); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest())
`;
const CLIENT = `
import hashlib, random, socket, sys
data = random.Random(6).randbytes(${BYTES})
c = socket.create_connection((sys.argv[1], 5501), timeout=30); c.sendall(data); c.close()
print(len(data), hashlib.sha256(data).hexdigest())
`;

import { interopSkip } from './skip.ts';

/** Sends BYTES from guest `a` to guest `b` over TCP; returns [sent, received] as "length sha256". */
async function transfer(a: tb.HostInfo, b: tb.HostInfo): Promise<[string, string]> {
  const exec = (ns: string, code: string, arg: string) =>
    run('ip', ['netns', 'exec', ns, PYTHON, '-c', code, arg], { timeout: 60_000 });
  const server = exec(b.guestNs!, SERVER, b.guestAddr);
  await new Promise((r) => setTimeout(r, 500));
  const sent = (await exec(a.guestNs!, CLIENT, b.guestAddr)).stdout.trim();
  return [sent, (await server).stdout.trim()];
}

for (const model of ['wire', 'veth'] as const) {
  describe(`nvo VXLAN with USO, ${model === 'wire' ? 'real wire model' : 'veth defaults'}`, { skip }, () => {
    test('bytes arrive intact, TCP flows, superframes were used', { timeout: 120_000 }, async () => {
      const name = uniqueName('nvou');
      const t = tb.up({ name, vxlan: null, underlayOffloads: model === 'wire' ? tb.REAL_WIRE : {} });
      const dir = mkdtempSync(join(tmpdir(), 'nvo-uso-'));
      let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
      try {
        const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
        hosts = await startNvoHosts(t, { encap: 'vxlan', guestMtu: 1400, uso: true });
        // What leaves host 1: tcpdump sees transmissions after the kernel's segmentation. Outgoing only:
        // what arrives from host 2 is seen after the receiving veth's GRO, which may merge two of its
        // datagrams into one frame longer than the wire's MTU (once in a full suite run, 1,596 bytes).
        const pcap = join(dir, 'wire.pcap');
        const dump = model === 'wire' ? await capture(h1.ns, h1.underlayIf, pcap, 0, 'out') : null;
        assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'ping guest 1 → guest 2');
        assert.ok(await pingEventually(h2.guestNs!, h1.guestAddr), 'ping guest 2 → guest 1');
        const [sent, got] = await transfer(h1, h2);
        assert.equal(got, sent, 'guest 2 received what guest 1 sent (length and SHA-256)');
        await dump?.stop();
        const r = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 1, port: 5402 });
        assert.ok(r.bitsPerSecond > 20e6, `TCP ${r.bitsPerSecond} bit/s`);
        const s = await nvoStats(hosts.sockets[0]!);
        const segments = s.counters['tunnel-gso-segments'] ?? 0;
        const ul = s.ports.find((p) => p.name === 'ul0')!;
        // ≥ 8 MB / 1.4 KB ≈ 6,000 segments; a superframe carries up to ~44 of them.
        assert.ok(segments > 5000, `${segments} tunnel segments`);
        assert.ok(
          ul.txPackets * 4 < segments,
          `${ul.txPackets} underlay transmissions for ${segments} segments`,
        );
        // The receiver took its superframes whole (offload/uso-coalesce.ts), not datagram by datagram.
        const coalesced = (await nvoStats(hosts.sockets[1]!)).counters['rx-uso-coalesced'] ?? 0;
        assert.ok(coalesced > 50, `${coalesced} superframes coalesced on receive`);
        if (dump) {
          const frames = await tsharkLayers(pcap, 2000);
          const vx = frames.filter((l) => 'vxlan' in l);
          assert.ok(vx.length > 100, `${vx.length} VXLAN frames of ${frames.length}`);
          for (const l of vx) {
            const len = Number(fields(l, 'frame.len')[0]);
            assert.ok(
              len <= 1514,
              `a ${len}-byte frame crossed a 1500-byte wire: ${JSON.stringify(l).slice(0, 1500)}`,
            );
            const cut = len > Number(fields(l, 'frame.cap_len')[0]);
            if (!cut) assert.equal(tsharkMalformed(l), undefined, JSON.stringify(l).slice(0, 300));
            assert.equal(Number(fields(l, 'vxlan.vni')[0]), 42);
          }
        }
      } finally {
        await hosts?.stop();
        tb.down(name);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
