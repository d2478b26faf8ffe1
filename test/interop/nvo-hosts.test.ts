// Every encapsulation between two nvo hosts on real interfaces: each host a network namespace running
// `nvo run` (its own process, AF_PACKET with vnet_hdr on the underlay veth and on the guest's veth), the
// guests' kernels as the endpoints. For each encapsulation: ping both ways, TCP (iperf3) one way, and a
// capture of the underlay wire (tcpdump) that tshark decodes as that encapsulation with no
// malformed-packet warning. For VXLAN also the fault drill: kill nvo on one host → traffic stops; start
// it again → traffic resumes with no manual step.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { iperf } from '../../testbed/iperf.ts';
import { uniqueName } from '../../testbed/netns.ts';
import { startNvoHosts } from '../../testbed/nvo-hosts.ts';
import * as tb from '../../testbed/testbed.ts';
import { fields, TSHARK, tsharkMalformed } from '../harness/tools.ts';
import { ping, pingEventually } from './guest-traffic.ts';
import { interopSkip } from './skip.ts';

const run = promisify(execFile);
const skip = interopSkip('iperf3', 'ping', 'tcpdump', 'tshark');

/** What tshark calls the tunnel header, and the field holding the VNI / key / context. */
const DISSECTION: Record<string, { proto: string; id: string; prefs?: string[] }> = {
  vxlan: { proto: 'vxlan', id: 'vxlan.vni' },
  'vxlan-gpe': { proto: 'vxlan', id: 'vxlan.vni' },
  'vxlan-soe': { proto: 'vxlan', id: 'vxlan.vni' },
  geneve: { proto: 'geneve', id: 'geneve.vni' },
  gre: { proto: 'gre', id: 'gre.key' },
  nvgre: { proto: 'gre', id: 'gre.key' },
  stt: { proto: 'stt', id: 'stt.context_id', prefs: ['ip.try_heuristic_first:TRUE'] },
};

for (const encap of (process.env.NVO_ENCAPS ?? 'vxlan,vxlan-gpe,vxlan-soe,geneve,gre,nvgre,stt').split(',')) {
  describe(`nvo ${encap} between two nvo hosts`, { skip }, () => {
    test('ping both ways, TCP, and a wire capture tshark decodes cleanly', { timeout: 120_000 }, async () => {
      const name = uniqueName('nvoh');
      const t = tb.up({ name, vxlan: null });
      const dir = mkdtempSync(join(tmpdir(), 'nvo-wire-'));
      let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
      let dump: ChildProcess | undefined;
      try {
        const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
        hosts = await startNvoHosts(t, { encap, guestMtu: 1400 });
        const pcap = join(dir, 'wire.pcap');
        // Capture on host 2's underlay veth: what crossed the wire (snaplen 200: headers are enough).
        dump = spawn(
          'ip',
          ['netns', 'exec', h2.ns, 'tcpdump', '-i', h2.underlayIf, '-s', '200', '-U', '-w', pcap, 'ip'],
          {
            stdio: 'ignore',
          },
        );
        await new Promise((r) => setTimeout(r, 700));
        assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'ping guest 1 → guest 2');
        assert.ok(await ping(h2.guestNs!, h1.guestAddr), 'ping guest 2 → guest 1');
        const r = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: 1, port: 5401 });
        assert.ok(r.bitsPerSecond > 5e6, `TCP ${r.bitsPerSecond} bit/s`);
        dump.kill('SIGINT');
        await new Promise((res) => dump!.once('exit', res));
        const d = DISSECTION[encap]!;
        const args = ['-r', pcap, '-T', 'json', '--no-duplicate-keys', '-n', '-c', '300'];
        for (const p of d.prefs ?? []) args.push('-o', p);
        const { stdout } = await run(TSHARK, args, { maxBuffer: 256 << 20 });
        const frames = (JSON.parse(stdout) as { _source: { layers: Record<string, unknown> } }[]).map(
          (f) => f._source.layers,
        );
        const tunnel = frames.filter((l) => d.proto in l);
        assert.ok(tunnel.length > 10, `${tunnel.length} ${d.proto} frames of ${frames.length}`);
        for (const l of tunnel) {
          // Frames cut by the snaplen are 'malformed' only past the cut; judge those not cut.
          const cut = Number(fields(l, 'frame.len')[0]) > Number(fields(l, 'frame.cap_len')[0]);
          if (!cut) assert.equal(tsharkMalformed(l), undefined, JSON.stringify(l).slice(0, 300));
          const id = fields(l, d.id)[0];
          assert.ok(id !== undefined, `${d.id} present`);
          assert.equal(encap === 'nvgre' ? Number(id) >>> 8 : Number(id), 42);
        }
      } finally {
        if (dump && dump.exitCode === null) dump.kill('SIGKILL');
        await hosts?.stop();
        tb.down(name);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('fault drill: nvo killed and restarted', { skip }, () => {
  test('traffic stops when nvo dies and resumes when it is started again', { timeout: 120_000 }, async () => {
    const name = uniqueName('nvof');
    const t = tb.up({ name, vxlan: null });
    let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
    try {
      const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
      hosts = await startNvoHosts(t, { encap: 'vxlan', guestMtu: 1400 });
      // Fresh processes under a loaded CI machine may miss the first round (cold JIT, ARP on both
      // levels); what this test is about is the stop and the resumption below.
      assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'before');
      const p2 = hosts.procs[1]!;
      p2.kill('SIGKILL');
      await new Promise((r) => p2.once('exit', r));
      assert.equal(await ping(h1.guestNs!, h2.guestAddr, 2), false, 'no traffic without nvo on host 2');
      // Start host 2 again from the same config: the switch relearns (ARP, MACs) by itself.
      const again = await startNvoHosts(
        { ...t, hosts: [h2] },
        { encap: 'vxlan', guestMtu: 1400, vteps: [h1.underlayAddr] },
      );
      try {
        assert.ok(await pingEventually(h1.guestNs!, h2.guestAddr), 'traffic resumed after restart');
      } finally {
        await again.stop();
      }
    } finally {
      await hosts?.stop();
      tb.down(name);
    }
  });
});
