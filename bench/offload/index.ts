// `node bench/run.ts offload`: the offload suite for the shared harness (bench/lib/measure.ts).
// gso-gro.ts: software GSO and GRO (engineer D); uso-pack.ts: guest superframe → USO superframes, the
// old cut-then-copy path against the in-place cut. frag-stt.ts (IP fragmentation/reassembly, STT) is
// added when it loads, so one file's work in progress does not take the other's numbers down.
import type { Bench } from '../lib/measure.ts';
import { benches as gsoGro } from './gso-gro.ts';
import { benches as usoPack } from './uso-pack.ts';

export async function benches(): Promise<Bench[]> {
  const all = [...gsoGro(), ...usoPack()];
  try {
    const frag = (await import('./frag-stt.ts')) as { benches?: () => Bench[] | Promise<Bench[]> };
    if (typeof frag.benches === 'function') all.push(...(await frag.benches()));
  } catch (e) {
    console.error(`bench/offload/frag-stt.ts not loaded: ${(e as Error).message}`);
  }
  return all;
}
