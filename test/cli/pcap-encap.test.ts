// `nvo pcap encap` for every encapsulation over IPv4 and IPv6, checked three ways:
//   - scapy rebuilds each outer frame from the inner frame and the per-frame values nvo chose (UDP/TCP
//     source port, IPv4 ID, NVGRE FlowID, STT frame id) and must get the same bytes: every length and
//     checksum is scapy's computation, not ours;
//   - tshark dissects the output with checksum validation on: right VNI/key/context and ports, all
//     checksums good, no malformed packet or expert error;
//   - decap(encap(x)) == x, and --mtu drops exactly the frames the overhead arithmetic says.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runDecap } from '../../src/cli/pcap-decap.ts';
import { encapConfig, runEncap } from '../../src/cli/pcap-encap.ts';
import { openCapture } from '../../src/io/capture-reader.ts';
import { needScapy, needTshark, PYTHON, pcapOf, TSHARK } from '../harness/tools.ts';

const root = new URL('../../', import.meta.url).pathname;
const INNER = join(root, 'test/vectors/encaps-inner.pcap');
const dir = mkdtempSync(join(tmpdir(), 'nvo-encap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ENCAPS = ['vxlan', 'vxlan-gpe', 'vxlan-soe', 'geneve', 'gre', 'nvgre', 'stt'] as const;
const FAMILIES = [
  { v: 4, local: '192.0.2.1', remote: '192.0.2.2' },
  { v: 6, local: '2001:db8::1', remote: '2001:db8::2' },
];
const VNI: Record<string, string> = {
  vxlan: '42',
  'vxlan-gpe': '4242',
  'vxlan-soe': '77',
  geneve: '0xabcdef',
  gre: '0xdeadbeef',
  nvgre: '0x123456',
  stt: '0x0123456789abcdef',
};

async function frames(path: string): Promise<Uint8Array[]> {
  const r = await openCapture(path);
  const out: Uint8Array[] = [];
  for await (const rec of r) out.push(rec.data.slice());
  await r.close();
  return out;
}

const encoded: Record<string, string> = {};
async function encapTo(e: string, fam: (typeof FAMILIES)[number]): Promise<string> {
  const key = `${e}${fam.v}`;
  if (encoded[key]) return encoded[key];
  const out = join(dir, `${key}.pcap`);
  const s = await runEncap(
    INNER,
    out,
    encapConfig({ encap: e, vni: VNI[e]!, local: fam.local, remote: fam.remote }),
  );
  assert.equal(s.out, s.in, JSON.stringify(s));
  encoded[key] = out;
  return out;
}

// Rebuilds every outer frame with scapy from the inner frame plus the values nvo chose, and prints
// the indexes of frames whose bytes differ.
const SCAPY_REBUILD = `
import json, sys
from scapy.all import *
from scapy.contrib.geneve import GENEVE
def check(enc, v, vni, inner_path, outer_path):
  inner = [bytes(p) for p in rdpcap(inner_path)]
  outer = [bytes(p) for p in rdpcap(outer_path)]
  assert len(inner) == len(outer), (len(inner), len(outer))
  bad = []
  for k, (i, o) in enumerate(zip(inner, outer)):
      eth = Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')
      l3 = o[14:]
      ipid = int.from_bytes(l3[4:6], 'big') if v == 4 else 0
      hl = 20 if v == 4 else 40
      sport = int.from_bytes(l3[hl:hl+2], 'big')
      if v == 4:
          ip = IP(src='192.0.2.1', dst='192.0.2.2', id=ipid, ttl=64, flags=0 if enc == 'vxlan-soe' else 'DF')
      else:
          ip = IPv6(src='2001:db8::1', dst='2001:db8::2', hlim=64)
      payload = Raw(i)
      if enc == 'vxlan':
          t = UDP(sport=sport, dport=4789) / Raw(bytes([8, 0, 0, 0]) + vni.to_bytes(3, 'big') + b'\\0')
      elif enc == 'vxlan-soe':
          hdr = bytearray(o[14 + hl + 8: 14 + hl + 16])
          t = UDP(sport=sport, dport=4789) / Raw(bytes(hdr))
          assert hdr[0] in (0x08, 0x88) and hdr[4:7] == vni.to_bytes(3, 'big')
          if hdr[0] == 0x88: assert hdr[1] * 256 + hdr[7] == 1448
      elif enc == 'vxlan-gpe':
          t = UDP(sport=sport, dport=4790) / VXLAN(flags='Instance+NextProtocol', NextProtocol=3, vni=vni)
      elif enc == 'geneve':
          t = UDP(sport=sport, dport=6081) / GENEVE(vni=vni, proto=0x6558)
      elif enc == 'gre':
          t = GRE(chksum_present=1, key_present=1, key=vni, proto=0x6558)
      elif enc == 'nvgre':
          flow = l3[hl + 7]
          t = GRE(key_present=1, key=(vni << 8) | flow, proto=0x6558)
      elif enc == 'stt':
          ack = int.from_bytes(l3[hl+8:hl+12], 'big')
          frame = bytes([0, 0, 0, 0, 0, 0, 0, 0]) + vni.to_bytes(8, 'big') + b'\\0\\0' + i
          t = TCP(sport=sport, dport=7471, seq=len(frame) << 16, ack=ack, flags='PA', window=65535) / Raw(frame)
          payload = Raw(b'')
      want = bytes(eth / ip / t / payload)
      if want != o:
          bad.append(k)
  return bad

result = {}
for enc, v, vni, inner_path, outer_path in json.loads(sys.argv[1]):
  result[enc + str(v)] = check(enc, v, int(vni, 0), inner_path, outer_path)
print(json.dumps(result))
`;

describe('nvo pcap encap: scapy rebuilds the same bytes', { skip: needScapy() }, () => {
  it('every encapsulation over IPv4 and IPv6', async () => {
    const jobs: [string, number, string, string, string][] = [];
    const want: Record<string, number[]> = {};
    for (const fam of FAMILIES)
      for (const e of ENCAPS) {
        jobs.push([e, fam.v, VNI[e]!, INNER, await encapTo(e, fam)]);
        want[`${e}${fam.v}`] = [];
      }
    const res = execFileSync(PYTHON, ['-c', SCAPY_REBUILD, JSON.stringify(jobs)], { encoding: 'utf8' });
    // per encapsulation+family: the indexes of frames whose bytes differ from scapy's build
    assert.deepEqual(JSON.parse(res), want);
  });
});

describe('nvo pcap encap: tshark dissection', { skip: needTshark() }, () => {
  // One tshark run per family over the outputs of all encapsulations, concatenated (7 × N frames).
  // STT needs the IP heuristic (reference/stt.md §3); it does not change how the other frames dissect.
  const FIELDS = [
    'vxlan.vni',
    'geneve.vni',
    'gre.key',
    'stt.context_id',
    'udp.srcport',
    'udp.dstport',
    'udp.checksum.status',
    'gre.checksum.status',
    'ip.checksum.status',
    '_ws.malformed',
    '_ws.expert.severity',
  ];
  const run = (path: string, extra: string[]) => {
    const args = ['-r', path, '-n', ...extra, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a'];
    for (const f of FIELDS) args.push('-e', f);
    return execFileSync(TSHARK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trimEnd()
      .split('\n')
      .map((l) => {
        const v = l.split('|');
        const row: Record<string, string> = {};
        for (const [i, f] of FIELDS.entries()) row[f] = v[i]!.split(',')[0]!;
        // Inner frames of the vectors carry junk to well-known ports (DNS, ECHO): what tshark says about
        // those must be the same with and without the tunnel around them, and nothing more.
        row.complaint = `${v[9] ? 'malformed' : ''}${v[10]!.split(',').some((x) => Number(x) >= 8388608) ? ' error' : ''}`;
        return row;
      });
  };
  for (const fam of FAMILIES)
    it(`ids, ports and checksums over IPv${fam.v}`, async () => {
      const baseline = run(INNER, []).map((r) => r.complaint);
      const all: Uint8Array[] = [];
      for (const e of ENCAPS) all.push(...(await frames(await encapTo(e, fam))));
      const merged = join(dir, `all${fam.v}.pcap`);
      writeFileSync(merged, pcapOf(all));
      const ip = fam.v === 4 ? 'ip' : 'ipv6';
      const extra = [
        '-o',
        `${ip}.try_heuristic_first:TRUE`,
        '-o',
        'ip.check_checksum:TRUE',
        '-o',
        'udp.check_checksum:TRUE',
      ];
      const rows = run(merged, extra);
      const N = baseline.length;
      assert.equal(rows.length, ENCAPS.length * N);
      rows.forEach((r, n) => {
        const e = ENCAPS[Math.floor(n / N)]!;
        const k = n % N;
        const what = `${e}/IPv${fam.v} frame ${k + 1}`;
        const vni = BigInt(VNI[e]!);
        const id =
          { geneve: 'geneve.vni', gre: 'gre.key', nvgre: 'gre.key', stt: 'stt.context_id' }[e as string] ??
          'vxlan.vni';
        assert.equal(e === 'nvgre' ? BigInt(r[id]!) >> 8n : BigInt(r[id]!), vni, `${what}: ${id}`);
        assert.equal(r.complaint, baseline[k], `${what}: tshark complaints beyond the inner frame's own`);
        if (fam.v === 4) assert.equal(r['ip.checksum.status'], '1', `${what}: IPv4 header checksum`);
        if (e === 'gre') assert.equal(r['gre.checksum.status'], '1', `${what}: GRE checksum`);
        if (e === 'gre' || e === 'nvgre' || e === 'stt') return;
        const port = { vxlan: '4789', 'vxlan-soe': '4789', 'vxlan-gpe': '4790', geneve: '6081' }[e as string];
        assert.equal(r['udp.dstport'], port, what);
        assert.equal(r['udp.checksum.status'], '1', `${what}: UDP checksum`);
        const sport = Number(r['udp.srcport']);
        assert.ok(sport >= 32768 && sport <= 60998, `${what}: source port ${sport}`);
      });
    });
});

describe('nvo pcap encap: round trip and limits', () => {
  it('decap(encap(x)) == x for every encapsulation and family', async () => {
    const want = (await frames(INNER)).map((f) => Buffer.from(f).toString('hex'));
    for (const fam of FAMILIES)
      for (const e of ENCAPS) {
        const back = join(dir, `back-${e}${fam.v}.pcap`);
        const s = await runDecap(await encapTo(e, fam), back, { verifyChecksums: true });
        assert.equal(s.out, want.length, `${e}/IPv${fam.v}: ${JSON.stringify(s.drops)}`);
        const got = (await frames(back)).map((f) => Buffer.from(f).toString('hex'));
        assert.deepEqual(got, want, `${e}/IPv${fam.v}`);
      }
  });

  it('the same inner flow always gets the same source port; different flows spread', async () => {
    const out = await encapTo('vxlan', FAMILIES[0]!);
    const ports = (await frames(out)).map((f) => (f[34]! << 8) | f[35]!);
    assert.ok(new Set(ports).size > 10, `ports: ${ports}`);
    const again = join(dir, 'again.pcap');
    await runEncap(
      INNER,
      again,
      encapConfig({ encap: 'vxlan', vni: '1', local: '10.9.9.9', remote: '10.8.8.8' }),
    );
    assert.deepEqual(
      (await frames(again)).map((f) => (f[34]! << 8) | f[35]!),
      ports,
      'source port depends on the inner flow only',
    );
  });

  it('--mtu drops as too-big exactly the frames whose outer IP packet would exceed it', async () => {
    const inner = await frames(INNER);
    // VXLAN over IPv4: IP 20 + UDP 8 + VXLAN 8 + inner frame; STT over IPv6: 40 + TCP 20 + STT 18 + inner
    for (const [e, fam, over] of [
      ['vxlan', FAMILIES[0]!, 36],
      ['stt', FAMILIES[1]!, 78],
    ] as const) {
      const mtu = 1500;
      const s = await runEncap(
        INNER,
        join(dir, `mtu-${e}.pcap`),
        encapConfig({ encap: e, vni: '5', local: fam.local, remote: fam.remote, mtu: String(mtu) }),
      );
      const big = inner.filter((f) => f.length + over > mtu).length;
      assert.ok(big > 0);
      assert.deepEqual(s.drops, { 'too-big': big });
      assert.equal(s.out, inner.length - big);
    }
  });

  it('bin/nvo pcap encap: --json summary; bad arguments exit 2 with one line', async () => {
    const countFrames = (await frames(INNER)).length;
    const out = join(dir, 'cli.pcapng');
    const ok = spawnSync(
      join(root, 'bin/nvo'),
      [
        'pcap',
        'encap',
        '--encap',
        'geneve',
        '--vni',
        '9',
        '--local',
        '192.0.2.1',
        '--remote',
        '192.0.2.2',
        '--json',
        INNER,
        out,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(ok.status, 0, ok.stderr);
    const n = readFileSync(INNER).length > 0 ? countFrames : 0;
    assert.deepEqual(JSON.parse(ok.stdout), { in: n, out: n, byEncap: { geneve: n }, drops: {} });
    const bad = spawnSync(
      join(root, 'bin/nvo'),
      [
        'pcap',
        'encap',
        '--encap',
        'vxlan',
        '--vni',
        '16777216',
        '--local',
        '192.0.2.1',
        '--remote',
        '::1',
        INNER,
        out,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'nvo: --vni: 16777216 is larger than 16777215\n');
  });

  it('raw-IP input: GPE, Geneve and GRE carry it with an IP protocol; VXLAN cannot (inner-unsupported)', async () => {
    const ip = (await frames(INNER))
      .filter((f) => f[12] === 0x08 && f[13] === 0x00)
      .map((f) => f.subarray(14));
    assert.ok(ip.length > 5);
    const raw = join(dir, 'raw-ip.pcap');
    writeFileSync(raw, pcapOf(ip, 101)); // LINKTYPE_RAW
    const zeroEth = Buffer.from('000000000000000000000000' + '0800', 'hex');
    // where each encapsulation names its payload: GPE Next Protocol (1 = IPv4), Geneve and GRE
    // Protocol Type (0x0800), as offsets in the outer frame (IPv4 outer, no options)
    for (const [e, at, want] of [
      ['vxlan-gpe', 14 + 20 + 8 + 3, '01'],
      ['geneve', 14 + 20 + 8 + 2, '0800'],
      ['gre', 14 + 20 + 2, '0800'],
    ] as const) {
      const out = join(dir, `raw-${e}.pcap`);
      const s = await runEncap(
        raw,
        out,
        encapConfig({ encap: e, vni: '3', local: '192.0.2.1', remote: '192.0.2.2' }),
      );
      assert.equal(s.out, ip.length, e);
      for (const f of await frames(out))
        assert.equal(Buffer.from(f.subarray(at, at + want.length / 2)).toString('hex'), want, e);
      const back = join(dir, `raw-${e}-back.pcap`);
      await runDecap(out, back, { verifyChecksums: true });
      assert.deepEqual(
        (await frames(back)).map((f) => Buffer.from(f).toString('hex')),
        ip.map((p) => Buffer.concat([zeroEth, p]).toString('hex')),
        e,
      );
    }
    const s = await runEncap(
      raw,
      join(dir, 'raw-vxlan.pcap'),
      encapConfig({ encap: 'vxlan', vni: '3', local: '192.0.2.1', remote: '192.0.2.2' }),
    );
    assert.deepEqual(s.drops, { 'inner-unsupported': ip.length });
  });

  it('argument validation', () => {
    const base = { encap: 'vxlan', vni: '1', local: '192.0.2.1', remote: '192.0.2.2' };
    assert.throws(() => encapConfig({ ...base, encap: 'ipip' }), /unknown encapsulation 'ipip'/);
    assert.throws(() => encapConfig({ ...base, remote: '2001:db8::1' }), /same address family/);
    assert.throws(() => encapConfig({ ...base, local: '192.0.2.300' }), /bad IPv4 address/);
    assert.throws(() => encapConfig({ ...base, mtu: '60' }), /below the IPv4 minimum/);
    assert.throws(() => encapConfig({ ...base, encap: 'nvgre', vni: '0x1000000' }), /larger than 16777215/);
    assert.equal(encapConfig({ ...base, encap: 'gre', vni: '0xffffffff' }).idLo, 0xffffffff);
    const stt = encapConfig({ ...base, encap: 'stt', vni: '0xffffffffffffffff' });
    assert.deepEqual([stt.idHi, stt.idLo], [0xffffffff, 0xffffffff]);
  });
});
