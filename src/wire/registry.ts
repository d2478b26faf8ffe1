// Protocol numbers are open sets: a number plus a name for the ones we know. Unknown values stay valid
// numbers and print as `unknown(0x1234)`; nothing rejects a value just because it has no name.

export interface NameSet {
  /** Name for a value, or `unknown(0x…)` with the width's hex digits. */
  name(v: number): string;
  /** Value for a name (case-insensitive), or undefined. */
  value(name: string): number | undefined;
  readonly entries: ReadonlyArray<readonly [number, string]>;
}

export function nameSet(table: Record<number, string>, hexDigits = 4): NameSet {
  const byValue = new Map<number, string>();
  const byName = new Map<string, number>();
  for (const [k, v] of Object.entries(table)) {
    byValue.set(Number(k), v);
    byName.set(v.toLowerCase(), Number(k));
  }
  return {
    name: (v) => byValue.get(v) ?? `unknown(0x${v.toString(16).padStart(hexDigits, '0')})`,
    value: (n) => byName.get(n.toLowerCase()),
    entries: [...byValue.entries()],
  };
}
