// FlowCache's options (cache.ts) and the EMC bypass tunables its classify uses.
import type { NormalHook } from './xlate.ts';

export interface CacheConfig {
  /** EMC entries, a power of two. Default 8192 (OVS EM_FLOW_HASH_ENTRIES). 0 disables the EMC. */
  emcEntries?: number;
  /** Insert into the EMC with probability 1/N on a megaflow hit or upcall. 1 = always, 0 = never. Default 100. */
  emcInsertInvProb?: number;
  /** Megaflows kept before new ones are used once and not installed. Default 65536. */
  megaflowMax?: number;
  /** Seed of the insertion PRNG (tests). */
  seed?: number;
  /**
   * Probe the EMC for only 1 packet in EMC_SAMPLE while its hit rate is below 1/EMC_MIN_HIT_INV
   * (FlowCache.judgeEmc). Default true; false probes every packet (tests comparing levels).
   */
  emcAutoBypass?: boolean;
  /** Probes per bypass verdict. Default EMC_WINDOW (tests use small windows to see the state change). */
  emcWindow?: number;
  /** Resolves output:NORMAL at translation (xlate.ts NormalHook); without it NORMAL runs per packet. */
  normal?: NormalHook;
}

/**
 * EMC bypass (FlowCache.classify). The EMC is judged every EMC_WINDOW probes: below one hit in
 * EMC_MIN_HIT_INV it is thrashing, and a probe is a miss in a 1.3 MB table (8192 slots × 152-B keys)
 * that costs more than the megaflow lookup behind it. Measured on the 100k-flow bench (7 % EMC hits at
 * the default 1/100 insertion): 188 ns a packet with the EMC probed, 160 ns with it off. While bypassed,
 * one packet in EMC_SAMPLE still probes (and misses keep inserting at 1/N), so the window goes on
 * measuring the rate the EMC would have, and full probing resumes once it reaches the bar again: a few
 * hundred thousand packets after the flows narrow (4096 samples × 16). OVS leaves this to the operator
 * (other_config:emc-insert-inv-prob=0, "for a large number of flows"); here it follows the traffic.
 */
export const EMC_WINDOW = 4096;
export const EMC_MIN_HIT_INV = 8;
export const EMC_SAMPLE = 16;
