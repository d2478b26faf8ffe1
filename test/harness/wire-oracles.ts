// Small helpers shared by the src/wire codec tests that talk to the oracles (tools.ts).
import { scapy } from './tools.ts';

/** scapy() with a short error (the stderr tail) instead of the whole command line and stdout. */
export function py(code: string): string {
  try {
    return scapy(code);
  } catch (e) {
    throw new Error(String((e as { stderr?: string }).stderr ?? e).slice(-1500));
  }
}

/** Runs `body` (Python, indented 4) once per spec with `s` bound to it; returns one stdout line per spec. */
export function pyEach(specs: unknown[], body: string): string[] {
  const out = py(`import json\nfor s in json.loads(${JSON.stringify(JSON.stringify(specs))}):\n${body}`);
  const lines = out.replace(/\n$/, '').split('\n');
  if (lines.length !== specs.length)
    throw new Error(`expected ${specs.length} lines from scapy, got ${lines.length}`);
  return lines;
}

/** An Ethernet II frame 02:00:00:00:00:02 → 02:00:00:00:00:01 with the given type around `payload`. */
export function ethFrame(type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, type >>> 8, type & 0xff]);
  f.set(payload, 14);
  return f;
}
