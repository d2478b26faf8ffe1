// `nvo demo`, the README's main job, end to end as a user runs it: as root over the network-namespace
// test bed (every encapsulation and kernel VXLAN carry TCP), and with --in-process (what a user
// without root gets). Rows are read from the printed table; a path that carried nothing fails.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DEMO_ENCAPS } from '../../src/cli/demo.ts';
import { interopSkip } from '../interop/skip.ts';

const NVO = join(import.meta.dirname, '../../bin/nvo');
const run = promisify(execFile);

/** path → Gbit/s from the demo's table ("nvo stt   3.36  0.48× …"). */
function table(out: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^((?:nvo|kernel) [a-z-]+)\s+(\d+\.\d+)\s/.exec(line);
    if (m) rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

describe('nvo demo', () => {
  test('as root: kernel VXLAN and every encapsulation carry guest TCP over the test bed', {
    skip: interopSkip(),
    timeout: 300_000,
  }, async () => {
    const { stdout } = await run(NVO, ['demo', '--seconds', '1'], { timeout: 280_000 });
    const rows = table(stdout);
    assert.ok((rows.get('kernel vxlan') ?? 0) > 0.05, stdout);
    for (const e of DEMO_ENCAPS) assert.ok((rows.get(`nvo ${e}`) ?? 0) > 0.05, `nvo ${e}:\n${stdout}`);
  });

  test('--in-process: every encapsulation between two in-process switches, and it says so', {
    timeout: 120_000,
  }, async () => {
    const { stdout } = await run(NVO, ['demo', '--in-process'], { timeout: 110_000 });
    assert.match(stdout, /in-process/i);
    const rows = table(stdout);
    for (const e of DEMO_ENCAPS) assert.ok((rows.get(`nvo ${e}`) ?? 0) > 0, `nvo ${e}:\n${stdout}`);
  });
});
