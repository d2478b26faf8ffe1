// `nvo pcap decap` as a child process (bin/nvo) on the scapy vectors of test/vectors (make-vectors.py):
// the inner frames written must be exactly the ones scapy put in the tunnels (encaps-inner.pcap), the
// counts by encapsulation and by drop reason must match the manifest scapy wrote (encaps.json), and
// corrupt input must give exit status 2 with one line naming the file and the byte offset.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runDecap } from '../../src/cli/pcap-decap.ts';
import { openCapture } from '../../src/io/capture-reader.ts';
import { needScapy, needTshark, PYTHON, TSHARK } from '../harness/tools.ts';

const root = new URL('../../', import.meta.url).pathname;
const nvo = join(root, 'bin/nvo');
const vec = (f: string) => join(root, 'test/vectors', f);
const dir = mkdtempSync(join(tmpdir(), 'nvo-decap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Entry {
  frame: number;
  name: string;
  encap: string;
  id: string;
  expect: string;
}
const manifest = JSON.parse(readFileSync(vec('encaps.json'), 'utf8')) as Entry[];

function run(args: string[]) {
  const r = spawnSync(nvo, args, { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function frames(path: string) {
  const r = await openCapture(path);
  const out: { hex: string; sec: number; nsec: number }[] = [];
  for await (const rec of r)
    out.push({ hex: Buffer.from(rec.data).toString('hex'), sec: rec.sec, nsec: rec.nsec });
  await r.close();
  return out;
}

function expectedCounts(verify: boolean) {
  const byEncap: Record<string, number> = {};
  const drops: Record<string, number> = {};
  for (const e of manifest) {
    const expect = verify && e.name === 'vxlan4-bad-udp-csum' ? 'udp-bad-checksum' : e.expect;
    if (expect === 'inner') byEncap[e.encap] = (byEncap[e.encap] ?? 0) + 1;
    else if (!expect.startsWith('held')) drops[expect] = (drops[expect] ?? 0) + 1;
  }
  const held = manifest.filter((e) => e.expect.startsWith('held')).length;
  const incomplete = manifest.filter((e) => e.expect === 'held-incomplete').length;
  return { byEncap, drops, held, incomplete };
}

describe('nvo pcap decap on the scapy vectors', () => {
  // The pcap input runs bin/nvo; the pcapng input runs the same code in-process (child processes
  // cost seconds on a loaded CI machine).
  for (const input of ['encaps.pcap', 'encaps.pcapng']) {
    it(`${input}: inner frames are exactly scapy's, counts match the manifest`, async () => {
      const out = join(dir, `inner-${input}.pcap`);
      let s: { in: number; out: number; held?: number; incomplete?: number; byEncap: object; drops: object };
      if (input.endsWith('.pcap')) {
        const r = run(['pcap', 'decap', vec(input), out, '--json']);
        assert.equal(r.code, 0, r.stderr);
        s = JSON.parse(r.stdout);
      } else s = await runDecap(vec(input), out, { verifyChecksums: false });
      const exp = expectedCounts(false);
      assert.equal(s.in, manifest.length);
      assert.equal(s.out, manifest.filter((e) => e.expect === 'inner').length);
      assert.deepEqual(s.byEncap, exp.byEncap);
      assert.deepEqual(s.drops, exp.drops);
      assert.equal(s.held, exp.held);
      assert.equal(s.incomplete, exp.incomplete);
      const got = await frames(out);
      const want = await frames(vec('encaps-inner.pcap'));
      assert.equal(got.length, want.length);
      for (const [i, g] of got.entries()) assert.deepEqual(g, want[i], `inner frame ${i + 1}`);
    });
  }

  it('--verify-csum drops the frame with a wrong outer UDP checksum, and only it', async () => {
    const s = await runDecap(vec('encaps.pcap'), join(dir, 'v.pcap'), { verifyChecksums: true });
    const exp = expectedCounts(true);
    assert.deepEqual(s.byEncap, exp.byEncap);
    assert.deepEqual(s.drops, exp.drops);
  });

  it('writes pcapng when the output name says so; tshark reads it without complaint', {
    skip: needTshark(),
  }, () => {
    const out = join(dir, 'inner.pcapng');
    const r = run(['pcap', 'decap', vec('encaps.pcap'), out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^frames in ${manifest.length}, out \\d+`));
    const info = execFileSync('capinfos', ['-M', out], { encoding: 'utf8' });
    assert.match(info, /File type:\s+pcapng/);
    assert.match(
      info,
      new RegExp(`Number of packets:\\s+${manifest.filter((e) => e.expect === 'inner').length}\\b`),
    );
    const t = spawnSync(TSHARK, ['-r', out], { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
  });
});

describe('nvo pcap decap on bad input', () => {
  const good = readFileSync(vec('encaps.pcap'));

  function expectOneLine(args: string[], file: string, offset: number, what: RegExp) {
    const r = run(args);
    assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
    assert.match(
      lines[0]!,
      new RegExp(`^nvo: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: offset ${offset}: `),
    );
    assert.match(lines[0]!, what);
    assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
  }

  it('a capture cut inside a record: exit 2, one line with the file and the record offset', () => {
    const f = join(dir, 'cut.pcap');
    // record 1 starts at 24; its header says incl_len; cut 10 bytes into record 2's data
    const len1 = good.readUInt32LE(24 + 8);
    const rec2 = 24 + 16 + len1;
    writeFileSync(f, good.subarray(0, rec2 + 16 + 10));
    expectOneLine(['pcap', 'decap', f, join(dir, 'o.pcap')], f, rec2, /truncated record/);
  });

  it('a record with an absurd length: exit 2, names the record offset', () => {
    const f = join(dir, 'huge.pcap');
    const b = Buffer.from(good);
    b.writeUInt32LE(0x7fffffff, 24 + 8);
    writeFileSync(f, b);
    expectOneLine(['pcap', 'decap', f, join(dir, 'o.pcap')], f, 24, /record length 2147483647/);
  });

  it('a pcapng with a corrupt block length: exit 2', () => {
    const f = join(dir, 'bad.pcapng');
    const b = Buffer.from(readFileSync(vec('encaps.pcapng')));
    const shb = b.readUInt32LE(4);
    const idb = b.readUInt32LE(shb + 4);
    b.writeUInt32LE(13, shb + idb + 4); // first EPB: not a multiple of 4
    writeFileSync(f, b);
    expectOneLine(
      ['pcap', 'decap', f, join(dir, 'o.pcap')],
      f,
      shb + idb,
      /bad enhanced packet block length 13/,
    );
  });

  it('not a capture file, and a missing file: exit 2, one line', () => {
    const f = join(dir, 'text.pcap');
    writeFileSync(f, 'hello, world\n');
    expectOneLine(['pcap', 'decap', f, join(dir, 'o.pcap')], f, 0, /not a pcap or pcapng file/);
    const missing = join(dir, 'missing.pcap');
    expectOneLine(['pcap', 'decap', missing, join(dir, 'o.pcap')], missing, 0, /no such file/);
  });

  it('an empty input gives an empty, valid output', async () => {
    const f = join(dir, 'empty.pcap');
    writeFileSync(f, good.subarray(0, 24));
    const out = join(dir, 'empty-out.pcap');
    assert.deepEqual(await runDecap(f, out, { verifyChecksums: false }), {
      in: 0,
      out: 0,
      held: 0,
      incomplete: 0,
      byEncap: {},
      drops: {},
    });
    assert.equal((await frames(out)).length, 0);
  });
});

describe('nvo pcap decap on a capture of Linux kernel vxlan traffic (make-kernel-vxlan.sh)', () => {
  const KVX = vec('kernel-vxlan.pcap');

  it('every frame decapsulates to the bytes scapy finds after the VXLAN header', {
    skip: needScapy(),
  }, async () => {
    const out = join(dir, 'kvx-inner.pcap');
    const s = await runDecap(KVX, out, { verifyChecksums: false });
    const want = execFileSync(
      PYTHON,
      [
        '-c',
        `import json
from scapy.all import rdpcap, UDP
print(json.dumps([bytes(p[UDP].payload)[8:].hex() for p in rdpcap(${JSON.stringify(KVX)}) if p[UDP].dport in (4789, 8472)]))`,
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const inner = JSON.parse(want) as string[];
    assert.ok(inner.length > 30);
    assert.deepEqual(s, {
      in: inner.length,
      out: inner.length,
      held: 0,
      incomplete: 0,
      byEncap: { vxlan: inner.length },
      drops: {},
    });
    assert.deepEqual(
      (await frames(out)).map((f) => f.hex),
      inner,
    );
  });

  it('--verify-csum drops exactly the frames whose outer UDP checksum tshark calls bad', {
    skip: needTshark(),
  }, async () => {
    const t = execFileSync(
      TSHARK,
      [
        '-r',
        KVX,
        '-o',
        'udp.check_checksum:TRUE',
        '-T',
        'fields',
        '-E',
        'occurrence=f',
        '-e',
        'udp.checksum.status',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .trimEnd()
      .split('\n');
    const bad = t.filter((x) => x === '0').length; // 0 = Bad, 1 = Good, 2 = Unverified (epan/proto.h)
    assert.ok(bad > 0, 'the sender-side capture has partial (offloaded) checksums');
    const s = await runDecap(KVX, join(dir, 'kvx-v.pcap'), { verifyChecksums: true });
    assert.equal(s.in, t.length);
    assert.deepEqual(s.drops, { 'udp-bad-checksum': bad });
    assert.equal(s.out, t.length - bad);
  });
});
