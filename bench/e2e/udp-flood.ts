// Small-packet rate through a path: a batched UDP sender and sink on the native addon (sendmmsg /
// recvmmsg, 256 datagrams per call), because iperf3's UDP mode reads one datagram per call and tops
// out near 0.23 Mpps on this machine (performance.md §1.2) — it would measure itself, not the path.
//
//   node bench/e2e/udp-flood.ts sink  --netns NS --bind ADDR --port P --seconds S
//   node bench/e2e/udp-flood.ts flood --netns NS --bind ADDR --to ADDR --port P --seconds S [--len 18] [--pps N]
//
// 18 bytes of UDP payload make the smallest Ethernet frame: 14 + 20 + 8 + 18 = 60 B (64 B with the
// FCS). The sink prints one JSON line, {packets, seconds}: datagrams received between the first and
// the last arrival, so start-up (ARP, flow setup) and the sender's exit do not dilute the rate. It
// stops `--seconds` + 2 s after it starts, or 1 s after traffic stops once some has arrived.
import { parseArgs } from 'node:util';
import {
  D_ADDR,
  D_FAMILY,
  D_LEN,
  D_OFF,
  D_PORT,
  DESC_WORDS,
  KIND_UDP,
  requireNative,
} from '../../src/io/native.ts';

const BURST = 256;
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    netns: { type: 'string' },
    bind: { type: 'string', default: '0.0.0.0' },
    to: { type: 'string' },
    port: { type: 'string', default: '5300' },
    seconds: { type: 'string', default: '3' },
    len: { type: 'string', default: '18' },
    pps: { type: 'string', default: '0' },
  },
});
const role = positionals[0];
const native = requireNative('udp-flood');
const quad = (s: string) => Uint8Array.from(s.split('.').map(Number));
const port = Number(values.port);
const seconds = Number(values.seconds);
const netns = values.netns ? `/run/netns/${values.netns}` : null;
const slotLen = 2048;
const slab = new Uint8Array(BURST * slotLen);
const desc = new Int32Array(BURST * DESC_WORDS);

if (role === 'sink') {
  const s = native.udpOpen(4, quad(values.bind!), port, false, netns, 8 << 20);
  let packets = 0;
  let firstBurst = 0;
  let first = 0;
  let last = 0;
  const drain = () => {
    for (;;) {
      for (let i = 0; i < BURST; i++) {
        desc[i * DESC_WORDS + D_OFF] = i * slotLen;
        desc[i * DESC_WORDS + D_LEN] = slotLen;
      }
      const n = native.rxBurst(s.fd, KIND_UDP, 0, slab, desc, BURST);
      if (n <= 0) return;
      last = performance.now();
      if (packets === 0) {
        first = last;
        firstBurst = n;
      }
      packets += n;
    }
  };
  const poll = native.pollStart(s.fd, 1, drain);
  const started = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const quiet = packets > 0 && now - last > 1000;
    if (quiet || now - started > (seconds + 2) * 1000) {
      clearInterval(timer);
      native.pollStop(poll);
      native.close(s.fd);
      // The first burst arrived before `first` was taken: the rate counts what came after it.
      const secs = (last - first) / 1000;
      process.stdout.write(`${JSON.stringify({ packets: packets - firstBurst, seconds: secs })}\n`);
    }
  }, 100);
} else if (role === 'flood') {
  const s = native.udpOpen(4, quad(values.bind!), 0, false, netns, 8 << 20);
  const to = quad(values.to!);
  const len = Number(values.len);
  const bytes = new Uint8Array(desc.buffer);
  for (let i = 0; i < BURST; i++) {
    const w = i * DESC_WORDS;
    desc[w + D_OFF] = i * slotLen;
    desc[w + D_LEN] = len;
    desc[w + D_FAMILY] = 4;
    desc[w + D_PORT] = port;
    bytes.set(to, (w + D_ADDR) * 4);
  }
  const start = performance.now();
  const end = start + seconds * 1000;
  const pps = Number(values.pps);
  let sent = 0;
  if (pps > 0) {
    // Paced: every millisecond, what the rate allows since the start (a fixed offered load, so the
    // switch's CPU per packet can be compared without the sender competing for the same cores).
    const timer = setInterval(() => {
      const now = performance.now();
      if (now >= end) {
        clearInterval(timer);
        native.close(s.fd);
        process.stdout.write(`${JSON.stringify({ sent })}\n`);
        return;
      }
      let due = Math.floor(((now - start) / 1000) * pps) - sent;
      while (due > 0) {
        const n = native.txBurst(s.fd, KIND_UDP, 0, slab, desc, Math.min(due, BURST));
        if (n <= 0) break;
        sent += n;
        due -= n;
      }
    }, 1);
  } else {
    // Synchronous blast: nothing else runs in this process. txBurst returns 0 while the socket buffer
    // is full (EAGAIN), which is the flow control; the loop just tries again.
    while (performance.now() < end) {
      const n = native.txBurst(s.fd, KIND_UDP, 0, slab, desc, BURST);
      if (n > 0) sent += n;
    }
    native.close(s.fd);
    process.stdout.write(`${JSON.stringify({ sent })}\n`);
  }
} else {
  console.error('usage: udp-flood.ts sink|flood --netns NS --bind ADDR [--to ADDR] --port P --seconds S');
  process.exit(2);
}
