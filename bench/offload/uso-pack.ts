// Benchmark: a 64 KB guest TCP superframe → the payload of outer UDP GSO (USO) superframes for a VXLAN
// tunnel, before and after offload/uso-pack.ts, in the same run (GB/s of guest frame bytes).
//
//   node bench/offload/uso-pack.ts [--quick]       or   node bench/run.ts offload --filter uso
//
//   uso/cut-then-copy   the path nvo had (test/offload/uso-reference.ts): the software segmenter cuts
//                       47 pool packets, then each is copied behind a VXLAN header into a super slot
//   uso/pack-in-place   datapath/tunnel-segment.ts packUso: the frame is cut in its own slot (one memmove
//                       per segment), the chunks past the first superframe into one super slot
//   uso/refill          copying the 64 KB frame into its slot, which both cases do per op (the in-place
//                       cut consumes its input): subtract it from both for the cut alone
// Frame: Ethernet + IPv4 + TCP with timestamps (66 B of headers), 65,160 B of payload; the MSS is lowered
// to 1398 for a 1500-byte underlay (1500 − 20 − 8 − 8 − 66), so 47 segments, chunks of 1472 B, 44 per
// superframe (⌊65,507 / 1472⌋). Pools as the daemon has them: the guest port's own slab, the switch's
// MTU pool and superframe pool each another (copies across slabs, as on the real path).
import { fileURLToPath } from 'node:url';
import { Switch } from '../../src/datapath/switch.ts';
import { packUso } from '../../src/datapath/tunnel-segment.ts';
import { ENCAP_VXLAN, GSO_TCPV4, type Packet, SUPERFRAME } from '../../src/packet/packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { OuterTemplate } from '../../src/tunnel/outer-template.ts';
import { oldUsoPack } from '../../test/offload/uso-reference.ts';
import { type Bench, DEFAULTS, measure, QUICK } from '../lib/measure.ts';
import { format, header, row } from '../lib/report.ts';
import { superframeBytes } from './gso-gro.ts';

const MSS = 1398;
const SEGMENTS = 47;

export function benches(): Bench[] {
  const bytes = superframeBytes();
  const sw = new Switch({ poolSize: 1024, superPoolSize: 8 });
  const guestPool = new Pool(4, SUPER_SLOT);
  const tpl = new OuterTemplate({
    encap: ENCAP_VXLAN,
    ipVersion: 4,
    src: Uint8Array.from([10, 0, 0, 1]),
    dst: Uint8Array.from([10, 0, 0, 2]),
    srcMac: Uint8Array.from([2, 0, 0, 0, 1, 1]),
    dstMac: Uint8Array.from([2, 0, 0, 0, 1, 2]),
    dstPort: 4789,
    idHi: 0,
    idLo: 42,
    ttl: 64,
    tos: 0,
    df: false,
    udpCsum: true,
    greCsum: false,
  });
  const vxlan = tpl.bytes.slice(tpl.tunnel, tpl.len);
  const per = Math.floor((65535 - 28) / (vxlan.length + 66 + MSS));
  const refill = (): Packet => {
    const p = guestPool.allocCopy(bytes)!;
    p.flags = SUPERFRAME;
    p.gsoType = GSO_TCPV4;
    p.gsoSize = MSS;
    p.l4 = p.start + 34;
    return p;
  };
  const freeAll = (ps: ArrayLike<Packet | null>, n: number): number => {
    for (let i = 0; i < n; i++) ps[i]!.owner!.free(ps[i]!);
    return n;
  };
  return [
    {
      name: 'uso/cut-then-copy',
      bytes: bytes.length,
      run(n: number): number {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          const out = oldUsoPack(sw.gso, refill(), sw.segOut, vxlan, sw.superPool, tpl.tunnel, per)!;
          acc += freeAll(out, out.length);
        }
        return acc;
      },
    },
    {
      name: 'uso/pack-in-place',
      bytes: bytes.length,
      run(n: number): number {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          const g = packUso(sw, refill(), tpl, tpl.tunnel, tpl.len - tpl.l3, 1500, 65535 - 28, 65535);
          acc += freeAll(sw.segOut.packets, g);
          sw.segOut.clear();
        }
        if (sw.counters.v[sw.c.tunnelGsoSegments]! !== 0 && acc !== 2 * n) throw new Error('not 2 groups');
        return acc;
      },
    },
    {
      name: 'uso/refill',
      bytes: bytes.length,
      run(n: number): number {
        for (let k = 0; k < n; k++) guestPool.free(refill());
        return n;
      },
    },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { execSync } = await import('node:child_process');
  console.log(`load: ${execSync('uptime').toString().trim()}`);
  console.log(`${SEGMENTS} segments of ${MSS} B per 64 KB frame`);
  console.log(header());
  const opt = process.argv.includes('--quick') ? QUICK : DEFAULTS;
  for (const b of benches()) console.log(format(row(await measure(b, opt))));
}
