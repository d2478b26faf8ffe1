// pcap / pcapng readers and writers against independent implementations: files written by scapy
// (RawPcapWriter: µs/ns, both byte orders), converted by editcap (-F pcapng / nsecpcap) and merged by
// mergecap (multi-interface pcapng with different link types) are read by nvo; files written by nvo are
// read by tshark (frame bytes, lengths, timestamps, interfaces) and capinfos (file type, precision).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { haveTshark, needScapy, needTshark, PYTHON, TSHARK } from '../../test/harness/tools.ts';
import { openCapture, openCaptureBytes } from './capture-reader.ts';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from './capture-record.ts';
import { MemorySink } from './capture-sink.ts';
import { CaptureError, MAX_PACKET } from './capture-source.ts';
import { PcapWriter } from './pcap-writer.ts';
import { PcapngWriter } from './pcapng-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'nvo-capture-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Frame {
  data: Uint8Array;
  sec: number;
  nsec: number;
  origLen: number;
}

/** Deterministic frames: small, MTU-size, jumbo and a 65,000-byte superframe; one cut short (origLen). */
function makeFrames(): Frame[] {
  let x = 12345;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  const sizes = [14, 60, 61, 62, 63, 1514, 9014, 65000, 100];
  return sizes.map((n, i) => {
    const data = new Uint8Array(n);
    for (let j = 0; j < n; j++) data[j] = rnd();
    return {
      data,
      sec: 1_700_000_000 + i * 37,
      nsec: (i * 123_456_789 + 1) % 1e9,
      origLen: i === 8 ? 1500 : n,
    };
  });
}
const FRAMES = makeFrames();

async function readAll(path: string) {
  const r = await openCapture(path);
  const out = [];
  for await (const rec of r) out.push({ ...rec, data: rec.data.slice() });
  await r.close();
  return { reader: r, recs: out };
}

function tsharkFrames(path: string) {
  const json = execFileSync(TSHARK, ['-r', path, '-T', 'json', '-x', '--no-duplicate-keys'], {
    encoding: 'utf8',
    maxBuffer: 512 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (JSON.parse(json) as { _source: { layers: Record<string, unknown> } }[]).map((p) => {
    const l = p._source.layers;
    const f = l.frame as Record<string, string>;
    return {
      raw: (l.frame_raw as [string])[0],
      epoch: f['frame.time_epoch']!,
      len: Number(f['frame.len']),
      capLen: Number(f['frame.cap_len']),
      iface: Number(f['frame.interface_id'] ?? '0'),
    };
  });
}

function capinfos(path: string): string {
  return execFileSync('capinfos', ['-M', path], { encoding: 'utf8' });
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const epoch = (sec: number, nsec: number, digits: number) =>
  `${sec}.${String(Math.floor(nsec / 10 ** (9 - digits))).padStart(digits, '0')}`;

/** scapy writes FRAMES as classic pcaps with the given byte orders / resolutions (one python run). */
function scapyPcaps(jobs: [path: string, endian: '<' | '>', nano: boolean][]): void {
  const spec = join(dir, 'frames.json');
  writeFileSync(
    spec,
    JSON.stringify({
      jobs,
      frames: FRAMES.map((f) => [hex(f.data), f.sec, f.nsec, f.origLen]),
    }),
  );
  const py = `
import json
from scapy.all import RawPcapWriter
spec = json.load(open(${JSON.stringify(spec)}))
for path, endian, nano in spec['jobs']:
    w = RawPcapWriter(path, linktype=1, endianness=endian, nano=nano, snaplen=262144)
    w._write_header(None)
    for h, s, ns, orig in spec['frames']:
        b = bytes.fromhex(h)
        w._write_packet(b, sec=s, usec=ns if nano else ns // 1000, caplen=len(b), wirelen=orig)
    w.close()
`;
  execFileSync(PYTHON, ['-c', py]);
}

const SCAPY_FILES = {
  leUs: join(dir, 'scapy-le-us.pcap'),
  beUs: join(dir, 'scapy-be-us.pcap'),
  leNs: join(dir, 'scapy-le-ns.pcap'),
  beNs: join(dir, 'scapy-be-ns.pcap'),
};
let scapyDone = false;
function scapyFiles() {
  if (!scapyDone)
    scapyPcaps([
      [SCAPY_FILES.leUs, '<', false],
      [SCAPY_FILES.beUs, '>', false],
      [SCAPY_FILES.leNs, '<', true],
      [SCAPY_FILES.beNs, '>', true],
    ]);
  scapyDone = true;
  return SCAPY_FILES;
}

function assertFramesEqual(
  recs: { data: Uint8Array; sec: number; nsec: number; origLen: number }[],
  ns: boolean,
) {
  assert.equal(recs.length, FRAMES.length);
  recs.forEach((r, i) => {
    const f = FRAMES[i]!;
    assert.equal(hex(r.data), hex(f.data), `frame ${i} bytes`);
    assert.equal(r.sec, f.sec, `frame ${i} sec`);
    assert.equal(r.nsec, ns ? f.nsec : Math.floor(f.nsec / 1000) * 1000, `frame ${i} nsec`);
    assert.equal(r.origLen, f.origLen, `frame ${i} origLen`);
  });
}

describe('capture readers read files written by scapy / editcap / mergecap', { skip: needScapy() }, () => {
  for (const [endian, nano] of [
    ['<', false],
    ['>', false],
    ['<', true],
    ['>', true],
  ] as const) {
    it(`pcap ${nano ? 'ns' : 'µs'} ${endian === '<' ? 'little' : 'big'}-endian`, async () => {
      const f = scapyFiles();
      const p = endian === '<' ? (nano ? f.leNs : f.leUs) : nano ? f.beNs : f.beUs;
      const { reader, recs } = await readAll(p);
      assert.equal(reader.format, 'pcap');
      assert.equal(reader.interfaces[0]!.linktype, LINKTYPE_ETHERNET);
      assert.equal(reader.interfaces[0]!.unitsPerSec, nano ? 1e9 : 1e6);
      assertFramesEqual(recs, nano);
    });
  }

  it('pcapng converted by editcap (µs and ns)', async () => {
    const us = scapyFiles().leUs;
    const ng = join(dir, 'editcap.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', us, ng]);
    const { reader, recs } = await readAll(ng);
    assert.equal(reader.format, 'pcapng');
    assertFramesEqual(recs, false);

    const ns = scapyFiles().beNs;
    const ng9 = join(dir, 'editcap-ns.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', ns, ng9]);
    const r9 = await readAll(ng9);
    assert.equal(r9.reader.interfaces[0]!.unitsPerSec, 1e9);
    assertFramesEqual(r9.recs, true);
  });

  it('multi-interface pcapng from mergecap (Ethernet + raw IP interfaces)', async () => {
    const eth = join(dir, 'm-eth.pcap');
    const raw = join(dir, 'm-raw.pcap');
    execFileSync(PYTHON, [
      '-c',
      `
from scapy.all import *
wrpcap(${JSON.stringify(eth)}, [Ether()/IP(dst='10.0.0.1')/UDP(dport=9)/b'a' for _ in range(3)])
w = RawPcapWriter(${JSON.stringify(raw)}, linktype=101)
w._write_header(None)
for i in range(2):
    w._write_packet(bytes(IP(dst='10.0.0.2')/UDP(dport=10+i)), sec=1, usec=i)
w.close()
`,
    ]);
    const merged = join(dir, 'merged.pcapng');
    execFileSync('mergecap', ['-a', '-F', 'pcapng', '-w', merged, eth, raw]);
    const { reader, recs } = await readAll(merged);
    assert.deepEqual(
      reader.interfaces.map((i) => i.linktype),
      [LINKTYPE_ETHERNET, LINKTYPE_RAW],
    );
    assert.deepEqual(
      recs.map((r) => [r.ifIndex, r.linktype]),
      [
        [0, 1],
        [0, 1],
        [0, 1],
        [1, 101],
        [1, 101],
      ],
    );
    assert.equal(recs[3]!.data[0]! >> 4, 4);
  });
});

describe('capture writers are read by tshark and capinfos', { skip: needTshark() }, () => {
  for (const nano of [false, true])
    for (const bigEndian of [false, true])
      it(`pcap ${nano ? 'ns' : 'µs'} ${bigEndian ? 'big' : 'little'}-endian`, async () => {
        const p = join(dir, `nvo-${nano}-${bigEndian}.pcap`);
        const w = await PcapWriter.createFile(p, {
          linktype: LINKTYPE_ETHERNET,
          nanosecond: nano,
          bigEndian,
        });
        for (const f of FRAMES) await w.write(f.data, f.sec, f.nsec, f.origLen);
        await w.close();
        const info = capinfos(p);
        assert.match(info, nano ? /File type:\s+nsecpcap/ : /File type:\s+pcap\b/);
        assert.match(info, /File encapsulation:\s+ether/);
        const t = tsharkFrames(p);
        assert.equal(t.length, FRAMES.length);
        t.forEach((x, i) => {
          const f = FRAMES[i]!;
          assert.equal(x.raw, hex(f.data));
          assert.equal(x.capLen, f.data.length);
          assert.equal(x.len, f.origLen);
          assert.equal(x.epoch, epoch(f.sec, nano ? f.nsec : Math.floor(f.nsec / 1000) * 1000, 9));
        });
        // and nvo reads its own file back identically
        assertFramesEqual((await readAll(p)).recs, nano);
      });

  for (const bigEndian of [false, true])
    it(`pcapng with three interfaces, ${bigEndian ? 'big' : 'little'}-endian`, async () => {
      const p = join(dir, `nvo-${bigEndian}.pcapng`);
      const w = await PcapngWriter.createFile(p, { bigEndian });
      assert.equal(await w.addInterface(LINKTYPE_ETHERNET, { name: 'eth0' }), 0);
      assert.equal(await w.addInterface(LINKTYPE_RAW), 1);
      assert.equal(await w.addInterface(LINKTYPE_ETHERNET, { snaplen: 64, name: 'cut' }), 2);
      for (const [i, f] of FRAMES.entries()) await w.write(i % 3, f.data, f.sec, f.nsec, f.origLen);
      await w.close();
      const info = capinfos(p);
      assert.match(info, /File type:\s+pcapng/);
      assert.match(info, /Number of interfaces in file: 3/);
      const t = tsharkFrames(p);
      assert.equal(t.length, FRAMES.length);
      t.forEach((x, i) => {
        const f = FRAMES[i]!;
        const cap = i % 3 === 2 ? Math.min(64, f.data.length) : f.data.length;
        assert.equal(x.iface, i % 3);
        assert.equal(x.raw, hex(f.data.subarray(0, cap)));
        assert.equal(x.capLen, cap);
        assert.equal(x.len, f.origLen);
        assert.equal(x.epoch, epoch(f.sec, f.nsec, 9));
      });
      const back = await readAll(p);
      assert.deepEqual(
        back.reader.interfaces.map((i) => [i.linktype, i.snaplen]),
        [
          [1, MAX_PACKET],
          [101, MAX_PACKET],
          [1, 64],
        ],
      );
      back.recs.forEach((r, i) => {
        assert.equal(r.ifIndex, i % 3);
        assert.equal(r.nsec, FRAMES[i]!.nsec);
      });
    });
});

describe('corrupt and truncated captures', () => {
  async function pcapBytes(): Promise<Uint8Array> {
    const sink = new MemorySink();
    const w = await PcapWriter.create(sink, { linktype: 1 });
    for (const f of FRAMES.slice(0, 3)) await w.write(f.data, f.sec, f.nsec);
    await w.close();
    return sink.bytes();
  }
  async function pcapngBytes(): Promise<Uint8Array> {
    const sink = new MemorySink();
    const w = await PcapngWriter.create(sink);
    await w.addInterface(1);
    for (const f of FRAMES.slice(0, 3)) await w.write(0, f.data, f.sec, f.nsec);
    await w.close();
    return sink.bytes();
  }
  async function drain(b: Uint8Array): Promise<number> {
    const r = await openCaptureBytes(b, 'x.cap');
    let n = 0;
    for await (const _ of r) n++;
    return n;
  }

  it('every truncation point of a pcap is an error naming the offset of the cut record', async () => {
    const b = await pcapBytes();
    // records start at 24, 24+16+14 = 54, 54+16+60 = 130; the file ends at 130+16+61 = 207
    assert.equal(b.length, 207);
    for (const cut of [0, 3, 23, 25, 39, 53, 54 + 15, 130 + 16 + 60]) {
      const expectAt = cut < 24 ? 0 : cut < 54 ? 24 : cut < 130 ? 54 : 130;
      await assert.rejects(drain(b.subarray(0, cut)), (e: unknown) => {
        assert.ok(e instanceof CaptureError, String(e));
        assert.equal(e.offset, expectAt, e.message);
        assert.match(e.message, /^x\.cap: offset \d+: /);
        return true;
      });
    }
    assert.equal(await drain(b.subarray(0, 54)), 1); // a cut exactly between records is a shorter file
  });

  it('a huge pcap record length is an error, not an allocation', async () => {
    const b = await pcapBytes();
    b.set([0xff, 0xff, 0xff, 0x7f], 24 + 8);
    await assert.rejects(drain(b), /offset 24: record length 2147483647 is larger than the maximum 262144/);
  });

  it('pcapng: truncation, bad trailing length, undefined interface, bad byte-order magic', async () => {
    const b = await pcapngBytes();
    const shbLen = b[4]!;
    const idbLen = b[shbLen + 4]!;
    const epb = shbLen + idbLen;
    await assert.rejects(
      drain(b.subarray(0, epb + 20)),
      new RegExp(`offset ${epb}: truncated enhanced packet block`),
    );
    const bad = b.slice();
    bad[epb + bad[epb + 4]! - 4] ^= 1;
    await assert.rejects(drain(bad), new RegExp(`offset ${epb}: enhanced packet block: trailing length`));
    const noIf = b.slice();
    noIf[epb + 8] = 5;
    await assert.rejects(drain(noIf), /packet for interface 5, but the section defines 1/);
    const bom = b.slice();
    bom[8] = 0;
    await assert.rejects(drain(bom), /offset 0: bad byte-order magic/);
    const bigBlock = b.slice();
    bigBlock.set([0, 0, 0, 0x10], epb + 4);
    await assert.rejects(drain(bigBlock), /is larger than the maximum/);
  });

  it('pcapng: unknown blocks are skipped by length, even huge ones, without reading them in', async () => {
    const b = await pcapngBytes();
    const shbLen = b[4]!;
    const idbLen = b[shbLen + 4]!;
    const n = 1 << 20; // a 1 MiB custom block (type 0x00000bad), bigger than the read buffer
    const blk = new Uint8Array(n);
    const dv = new DataView(blk.buffer);
    dv.setUint32(0, 0xbad, true);
    dv.setUint32(4, n, true);
    dv.setUint32(n - 4, n, true);
    const at = shbLen + idbLen;
    const withBlock = new Uint8Array(b.length + n);
    withBlock.set(b.subarray(0, at));
    withBlock.set(blk, at);
    withBlock.set(b.subarray(at), at + n);
    assert.equal(await drain(withBlock), 3);
    await assert.rejects(
      drain(withBlock.subarray(0, at + n - 2)),
      new RegExp(`offset ${at}: truncated block`),
    );
  });

  it('random corruption gives records or a CaptureError, never another exception', async () => {
    const files = [await pcapBytes(), await pcapngBytes()];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        async (which, edits, cut) => {
          const b = files[which]!.slice();
          for (const [at, v] of edits) b[at % b.length] = v;
          try {
            await drain(b.subarray(0, b.length - (cut % 16)));
          } catch (e) {
            if (!(e instanceof CaptureError)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a file many times the read buffer streams through (4.5 MB of 1500-byte records)', async () => {
    const p = join(dir, 'big.pcap');
    const w = await PcapWriter.createFile(p, { linktype: 1 });
    const f = new Uint8Array(1500);
    for (let i = 0; i < 3000; i++) {
      f[0] = i & 0xff;
      f[1] = i >> 8;
      await w.write(f, i, 0);
    }
    await w.close();
    let n = 0;
    let ok = true;
    for await (const rec of await openCapture(p)) {
      ok &&=
        rec.data.length === 1500 && rec.data[0] === (n & 0xff) && rec.data[1] === n >> 8 && rec.sec === n;
      n++;
    }
    assert.equal(n, 3000);
    assert.ok(ok);
    if (haveTshark()) assert.match(capinfos(p), /Number of packets:\s+3000\b/);
  });

  it('a missing file is a CaptureError', async () => {
    await assert.rejects(openCapture(join(dir, 'nope.pcap')), (e: unknown) => e instanceof CaptureError);
  });

  it('readFileSync of the written pcapng matches the MemorySink bytes (writer is deterministic)', async () => {
    const p = join(dir, 'det.pcapng');
    const w = await PcapngWriter.createFile(p);
    await w.addInterface(1);
    for (const f of FRAMES.slice(0, 3)) await w.write(0, f.data, f.sec, f.nsec);
    await w.close();
    assert.deepEqual(new Uint8Array(readFileSync(p)), await pcapngBytes());
  });
});
