// bench/e2e/paths.ts `--guest-link`: the nvo rows' guests really are what the option says, as the
// kernel reports the guest's eth0 (testbed/netns.ts linkKind, from `ip -d -j link`): a vnet TAP with
// `tap`, a veth with `veth`, while the kernel-vxlan row keeps its veth either way. One short run of
// each (1 s of iperf3, no warm-up): a smoke test of the option, not a measurement. A bad value is
// refused before anything is built.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ip, linkKind, netnsAdd, netnsDel, uniqueName } from '../../testbed/netns.ts';
import { interopSkip } from '../interop/skip.ts';

const PATHS = join(import.meta.dirname, '..', '..', 'bench', 'e2e', 'paths.ts');
const run = promisify(execFile);
const skip = interopSkip('iperf3', 'ping');

interface Row {
  gbits: number;
  guest: string;
}

/** paths.ts's table: path → the row's Gbit/s median and guest column. */
async function bench(...args: string[]): Promise<Map<string, Row>> {
  const { stdout } = await run(
    process.execPath,
    [PATHS, '--runs', '1', '--seconds', '1', '--warmup', '0', ...args],
    { timeout: 110_000 },
  );
  const rows = new Map<string, Row>();
  for (const line of stdout.split('\n')) {
    // "nvo-stt   4.46  4.46..4.46   0.86×   2.33   2.91  0.65  5.94  0   tap    STT, …" (the CPU columns
    // are '-' for kernel rows): the guest is the first column after the Gbit/s that is a link kind.
    const t = line.trim().split(/\s+/);
    const guest = t.slice(2).find((x) => x === 'veth' || x === 'tap');
    if (t.length > 2 && /^\d+\.\d+$/.test(t[1]!) && guest) rows.set(t[0]!, { gbits: Number(t[1]), guest });
  }
  return rows;
}

describe('bench/e2e/paths.ts --guest-link', () => {
  it('refuses a value other than veth or tap', async () => {
    await assert.rejects(
      run(process.execPath, [PATHS, '--guest-link', 'vhost']),
      (e: { code: number; stderr: string }) =>
        e.code === 2 && /--guest-link veth\|tap, got vhost/.test(e.stderr),
    );
  });

  it('linkKind tells a vnet TAP from a veth', { skip }, () => {
    const ns = uniqueName('nvogl');
    netnsAdd(ns);
    try {
      // The TAP as testbed.ts makes a guest's eth0 with guestLink 'tap'.
      ip(ns, 'tuntap', 'add', 'dev', 'eth0', 'mode', 'tap', 'vnet_hdr');
      ip(ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
      assert.equal(linkKind(ns, 'eth0'), 'tap');
      assert.equal(linkKind(ns, 'v0'), 'veth');
      assert.equal(linkKind(ns, 'lo'), '');
    } finally {
      netnsDel(ns);
    }
  });

  for (const gl of ['tap', 'veth'] as const) {
    it(`--guest-link ${gl}: nvo-stt's guests are ${gl}s and carry TCP; kernel-vxlan keeps veth`, {
      skip,
      timeout: 120_000,
    }, async () => {
      const rows = await bench('--only', 'kernel-vxlan,nvo-stt', '--guest-link', gl);
      const stt = rows.get('nvo-stt');
      const kernel = rows.get('kernel-vxlan');
      assert.ok(stt && kernel, `both rows printed: ${JSON.stringify([...rows])}`);
      assert.equal(stt.guest, gl);
      assert.equal(kernel.guest, 'veth');
      // Any real TCP flow moves far more than 50 Mbit/s here; 0 means the bed did not carry it.
      assert.ok(stt.gbits > 0.05, `nvo-stt ${stt.gbits} Gbit/s`);
    });
  }
});
