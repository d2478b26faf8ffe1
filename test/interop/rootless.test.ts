// nvo with neither root nor the addon: two `nvo run` processes as user nobody (when the test runs as
// root) with NVO_NATIVE=off, on loopback. Underlay mode socket over node:dgram (127.0.0.1 ↔ 127.0.0.2,
// VXLAN VNI 42), and each guest a UDP "VM" (backend udp: one Ethernet frame per datagram, QEMU's
// -netdev dgram format) played by this test's own sockets. Frames sent by VM 1 arrive at VM 2 byte for
// byte — broadcast (flooded to the VTEP), then unicast both ways once the MACs are learned — and a
// datagram to nvo's guest socket from anyone but the VM is a counted drop.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const NVO = new URL('../../bin/nvo', import.meta.url).pathname;
const SETPRIV = '/usr/bin/setpriv';
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** As root, drop to nobody: the point is to run without privileges. */
const prefix: string[] =
  asRoot && existsSync(SETPRIV) ? [SETPRIV, '--reuid=65534', '--regid=65534', '--clear-groups'] : [];

const cmd = [...prefix, NVO];

function frame(dst: number[], src: number[], type: number, payload: number[]): Buffer {
  return Buffer.from([...dst, ...src, type >> 8, type & 0xff, ...payload]);
}

function openVm(address: string, port: number): Promise<{ s: Socket; got: Buffer[] }> {
  const s = createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  return new Promise((res) => s.bind(port, address, () => res({ s, got })));
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

describe('rootless, addon-less nvo: UDP guests over a node:dgram socket underlay', () => {
  test('frames cross both ways byte for byte; strangers are counted drops', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvo-rootless-'));
    chmodSync(dir, 0o777);
    const base = 20000 + (process.pid % 20000);
    const tunnelPort = base;
    const procs: ChildProcess[] = [];
    const vms: { s: Socket; got: Buffer[] }[] = [];
    const stderr: string[] = ['', ''];
    try {
      const hosts = [1, 2].map((i) => ({
        addr: `127.0.0.${i}`,
        guest: base + 10 + i,
        vm: base + 20 + i,
        socket: join(dir, `h${i}.sock`),
      }));
      for (const [i, h] of hosts.entries()) {
        vms.push(await openVm(h.addr, h.vm));
        const file = join(dir, `h${i}.yaml`);
        writeFileSync(
          file,
          JSON.stringify({
            name: `rootless${i}`,
            control: { socket: h.socket },
            underlay: { mode: 'socket' },
            guests: [
              {
                name: 'vm',
                backend: 'udp',
                device: `${h.addr}:${h.guest}`,
                peer: `${h.addr}:${h.vm}`,
                vni: 42,
              },
            ],
            tunnels: [{ name: 'vx0', encap: 'vxlan', localIp: h.addr, dstPort: tunnelPort }],
            vteps: { 42: [hosts[1 - i]!.addr] },
          }),
        );
        const p = spawn(cmd[0]!, [...cmd.slice(1), 'run', '--config', file], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, NVO_NATIVE: 'off' },
        });
        p.stderr!.on('data', (d: Buffer) => {
          stderr[i] += d.toString();
        });
        procs.push(p);
        // Start-up (type-stripping the whole tree) takes seconds on a loaded machine.
        await until(() => existsSync(h.socket) || p.exitCode !== null, 30_000);
        assert.ok(existsSync(h.socket), `nvo ${i + 1} did not start: ${stderr[i]}`);
      }
      if (prefix.length > 0)
        for (const p of procs) {
          const uid = readFileSync(`/proc/${p.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1];
          assert.equal(uid, '65534', 'nvo runs as nobody');
        }
      // The notice is written before the control socket exists, but the pipe may deliver it later.
      const notice =
        /^nvo: native I\/O unavailable \(disabled by NVO_NATIVE=off\): using node:dgram UDP, no GSO\/GRO$/m;
      await until(() => stderr.every((e) => notice.test(e)));
      for (const err of stderr) assert.match(err, notice);
      const [h1, h2] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
      const [vm1, vm2] = vms as [(typeof vms)[0], (typeof vms)[0]];
      const mac1 = [2, 0, 0, 0, 0, 1];
      const mac2 = [2, 0, 0, 0, 0, 2];
      // Broadcast from VM 1: NORMAL floods it to the VTEP; VM 2 gets the very bytes.
      const bcast = frame([255, 255, 255, 255, 255, 255], mac1, 0x88b5, [...Array(46).keys()]);
      vm1.s.send(bcast, h1.guest, h1.addr);
      assert.ok(await until(() => vm2.got.length > 0), 'broadcast reached VM 2');
      assert.deepEqual(vm2.got[0], bcast);
      // Unicast back (VM 1's MAC was learned behind the tunnel), then a full-size frame forward.
      const back = frame(mac1, mac2, 0x88b5, [...Array(100).keys()]);
      vm2.s.send(back, h2.guest, h2.addr);
      assert.ok(await until(() => vm1.got.length > 0), 'unicast reached VM 1');
      assert.deepEqual(vm1.got[0], back);
      const big = frame(
        mac2,
        mac1,
        0x88b5,
        Array.from({ length: 1486 }, (_, k) => (k * 7) & 0xff),
      );
      vm1.s.send(big, h1.guest, h1.addr);
      assert.ok(await until(() => vm2.got.length > 1), 'a 1500-byte frame reached VM 2');
      assert.deepEqual(vm2.got[1], big);
      // A stranger writing to nvo 1's guest socket is not the VM: dropped and counted.
      const stranger = createSocket('udp4');
      await new Promise<void>((r) => stranger.send(big, h1.guest, h1.addr, () => r()));
      stranger.close();
      await new Promise((r) => setTimeout(r, 300));
      const r = await run(cmd[0]!, [...cmd.slice(1), 'stats', '--socket', h1.socket, '--json']);
      const io = (
        JSON.parse(r.stdout) as {
          io: { ports: { name: string; kind: string; counters: Record<string, number> }[] };
        }
      ).io;
      const vm = io.ports.find((p) => p.name === 'vm')!;
      assert.equal(vm.kind, 'udp-frames');
      assert.equal(vm.counters['rx-drop-not-peer'], 1);
      assert.equal(vm2.got.length, 2, 'nothing else reached VM 2');
      for (const p of procs) assert.equal(p.exitCode, null, 'still running');
    } finally {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
      await Promise.all(
        procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)),
      );
      for (const v of vms) v.s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
