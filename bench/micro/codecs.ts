// ns per parse and per emit for every codec in src/wire (discovered as the fuzz harness does). Each
// bench cycles through 8 valid frames of the codec (emitted from randomised Reprs, see
// test/fuzz/discover.ts), so the numbers include some data-dependent branching, not one cached path.
import type { Codec } from '../../src/wire/codec.ts';
import { discoverCodecs, validSeeds } from '../../test/fuzz/discover.ts';
import type { Bench } from '../lib/measure.ts';

const FRAMES = 8;

export async function codecBenches(): Promise<Bench[]> {
  const out: Bench[] = [];
  for (const found of await discoverCodecs()) {
    const codec = found.codec as Codec<unknown>;
    const frames = validSeeds(found, FRAMES, 1);
    if (frames.length === 0) continue;
    while (frames.length < FRAMES) frames.push(frames[frames.length % frames.length]!);
    const lens = frames.map((f) => f.length);
    const reprs = frames.map((f) => {
      const r = codec.newRepr();
      codec.parse(f, 0, f.length, r);
      return r;
    });
    const scratch = codec.newRepr();
    const target = new Uint8Array(Math.max(...reprs.map((r) => codec.headerLen(r))) + 64);
    const label = found.where.replace(/\.ts:codec$/, '').replace('.ts:', ':');
    out.push({
      name: `parse/${label}`,
      run(n) {
        let acc = 0;
        for (let i = 0; i < n; i++) {
          const k = i & (FRAMES - 1);
          acc += codec.parse(frames[k]!, 0, lens[k]!, scratch);
        }
        return acc;
      },
    });
    out.push({
      name: `emit/${label}`,
      run(n) {
        for (let i = 0; i < n; i++) codec.emit(reprs[i & (FRAMES - 1)]!, target, 0);
        return target[0]!;
      },
    });
  }
  return out;
}
