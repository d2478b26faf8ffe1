// The micro suite: checksum throughput and per-codec parse/emit cost.
import type { Bench } from '../lib/measure.ts';
import { checksumBenches } from './checksum.ts';
import { codecBenches } from './codecs.ts';

export async function benches(): Promise<Bench[]> {
  return [...checksumBenches(), ...(await codecBenches())];
}
