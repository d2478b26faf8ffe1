// scratch (engineer H): throughput of nvo↔OVS, OVS↔OVS, nvo↔nvo on the same test bed. Deleted before report.
import { validateConfig } from '../src/control/config.ts';
import { startDaemon } from '../src/control/daemon.ts';
import { iperf } from './iperf.ts';
import { ip, nsRunAsync, setOffloads, uniqueName } from './netns.ts';
import { startNvoHosts } from './nvo-hosts.ts';
import { type OvsPeer, type OvsTunnelType, startOvsPeer } from './ovs-peer.ts';
import * as tb from './testbed.ts';

const mode = process.argv[2] ?? 'nvo-ovs';
const encap = process.argv[3] ?? 'vxlan';
const type = (encap === 'nvgre' ? 'gre' : encap) as OvsTunnelType;
const options = process.env.OPTS ? JSON.parse(process.env.OPTS) : undefined;
const secs = Number(process.argv[4] ?? 2);
const name = uniqueName('nvoh');
const t0 = Date.now();
const lap = (s: string) => console.log(`${((Date.now() - t0) / 1000).toFixed(2)}s ${s}`);
const t = tb.up({ name, vxlan: null });
const [h1, h2] = t.hosts as [tb.HostInfo, tb.HostInfo];
const peers: OvsPeer[] = [];
let daemon: ReturnType<typeof startDaemon> | undefined;
let hosts: Awaited<ReturnType<typeof startNvoHosts>> | undefined;
try {
  lap('tb up');
  for (const h of [h1, h2]) ip(h.guestNs!, 'link', 'set', 'eth0', 'mtu', '1450');
  if (mode === 'nvo-ovs' || mode === 'ovs-ovs') {
    setOffloads(h2.guestNs!, 'eth0', { tx: 'off' });
    if (process.env.UL1OFF !== '0') setOffloads(h1.ns, h1.underlayIf, { tx: 'off' });
    peers.push(
      startOvsPeer({
        ns: h2.ns,
        underlayIf: 'ul0',
        underlayAddr: h2.underlayAddr,
        prefixLen: 24,
        guestIf: 'gv0',
        tunnel: { type, remoteIp: h1.underlayAddr, key: 42, options },
      }),
    );
    lap('ovs2 up');
  }
  if (mode === 'ovs-ovs') {
    setOffloads(h1.guestNs!, 'eth0', { tx: 'off' });
    peers.push(
      startOvsPeer({
        ns: h1.ns,
        underlayIf: 'ul0',
        underlayAddr: h1.underlayAddr,
        prefixLen: 24,
        guestIf: 'gv0',
        tunnel: { type, remoteIp: h2.underlayAddr, key: 42 },
      }),
    );
  } else if (mode === 'nvo-ovs') {
    ip(h1.ns, 'addr', 'flush', 'dev', h1.underlayIf);
    daemon = startDaemon(
      validateConfig({
        name,
        control: { socket: `/run/nvo/${name}.sock` },
        underlay: {
          ports: [{ name: 'ul0', device: 'ul0', netns: h1.ns }],
          addresses: [`${h1.underlayAddr}/24`],
        },
        guests: [{ name: 'g1', backend: 'af-packet', device: 'gv0', netns: h1.ns, vni: 42 }],
        tunnels: [
          { name: 'tun0', encap, localIp: h1.underlayAddr, ...(process.env.NVOCSUM ? { csum: true } : {}) },
        ],
        vteps: { '42': [h2.underlayAddr] },
      }),
    );
  } else {
    if (process.env.TXOFF) for (const h of [h1, h2]) setOffloads(h.guestNs!, 'eth0', { tx: 'off' });
    hosts = await startNvoHosts(t, { encap });
  }
  lap('switches up');
  const { spawn } = await import('node:child_process');
  const td = spawn(
    'ip',
    ['netns', 'exec', h2.ns, 'tcpdump', '-U', '-n', '-i', 'ul0', '-w', '/tmp/h/ul.pcap', 'not ip6'],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const td2 = spawn(
    'ip',
    ['netns', 'exec', h2.ns, 'tcpdump', '-n', '-i', 'gv0', '-w', '/tmp/h/gv2.pcap', 'not ip6'],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < 10; i++) {
    try {
      await nsRunAsync(h1.guestNs!, 'ping', ['-c1', '-W1', h2.guestAddr]);
      lap('ok ' + i);
      break;
    } catch {
      lap('fail ' + i);
    }
  }
  await nsRunAsync(h1.guestNs!, 'ping', ['-c3', '-i0.2', h2.guestAddr]);
  await new Promise((r) => setTimeout(r, 300));
  td.kill();
  td2.kill();
  lap('first contact');
  const up = await iperf(h1.guestNs!, h2.guestNs!, h2.guestAddr, { seconds: secs, port: 5401 });
  lap(`1→2 ${(up.bitsPerSecond / 1e6).toFixed(0)} Mbit/s retr ${up.retransmits}`);
  const down = await iperf(h2.guestNs!, h1.guestNs!, h1.guestAddr, { seconds: secs, port: 5402 });
  lap(`2→1 ${(down.bitsPerSecond / 1e6).toFixed(0)} Mbit/s retr ${down.retransmits}`);
  for (const h of [h1, h2]) console.log(h.ns, await nsRunAsync(h.ns, 'ss', ['-0', '-a', '-m', '-p']));
  if (daemon) console.log(JSON.stringify(daemon.sw.counters.snapshot()));
  for (const p of peers)
    console.log(
      p
        .appctl('coverage/show')
        .split('\n')
        .filter((l) => /drop/.test(l))
        .join('\n'),
    );
  if (process.env.DIAG) for (const p of peers) console.log(p.diagnostics());
} finally {
  daemon?.stop();
  await hosts?.stop();
  for (const p of peers) p.stop();
  tb.down(name);
  lap('down');
}
