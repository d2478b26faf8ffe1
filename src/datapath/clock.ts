// The switch's clock: whole milliseconds since this module loaded. Only differences of two readings
// mean anything (ages, timeouts, durations), so the origin is free, and this one keeps the reading
// a small integer: Date.now() (≈ 1.8e12 ms) is outside V8's small-integer range (32-bit signed in
// Node's builds), so each time it was passed to a call the JIT had not inlined, or stored into a field
// that had held small integers, it became a new 16-byte heap number; on the receive path that was
// several per packet (sampling heap profiler under STT iperf). A relative reading stays small for
// 2^31 ms = 24.8 days of uptime; after that it is a heap number again: slower, never wrong.
const origin = Date.now();

export function clockMs(): number {
  return Date.now() - origin;
}
