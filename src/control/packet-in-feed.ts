// Packet-in records to control-socket subscribers (`nvo monitor`): a connection that sent
// {"cmd":"monitor"} gets one JSON line per record from then on, until it closes:
//
//   {"event":"packet-in","reason":"action","tableId":0,"cookie":"0x5","inPort":3,"inPortName":"vx0",
//    "totalLen":98,"data":"02bb…","tunnel":{"id":"0x2a","src":"10.0.0.2","dst":"10.0.0.1"}}
//
// The ring (datapath/packet-in.ts) is drained once per event-loop turn after a record arrives. A
// subscriber that reads too slowly (more than 1 MiB unsent) misses records, counted
// drop-packet-in-slow-subscriber; the data path never waits for a socket.
import type { Socket } from 'node:net';
import { type PacketInRecord, packetIns, REASON_NAMES } from '../datapath/packet-in.ts';
import type { Switch } from '../datapath/switch.ts';
import { formatIpv4, formatIpv6, hex } from '../wire/bytes.ts';

export interface PacketInJson {
  event: 'packet-in';
  reason: string;
  tableId: number;
  cookie: string;
  inPort: number;
  inPortName?: string;
  totalLen: number;
  data: string;
  tunnel?: { id: string; src: string; dst: string; ipv6: boolean };
}

const SLOW = 1 << 20;

interface Feed {
  subs: Set<{ sock: Socket; invalidTtl: boolean }>;
  scheduled: boolean;
}
const feeds = new WeakMap<Switch, Feed>();

/** Makes `sock` a subscriber of sw's packet-ins (INVALID_TTL ones too when asked). */
export function subscribe(sw: Switch, sock: Socket, invalidTtl: boolean): void {
  const q = packetIns(sw);
  let f = feeds.get(sw);
  if (f === undefined) {
    const feed: Feed = { subs: new Set(), scheduled: false };
    f = feed;
    feeds.set(sw, feed);
    q.onRecord = () => {
      if (feed.scheduled) return;
      feed.scheduled = true;
      setImmediate(() => drain(sw, feed));
    };
  }
  const sub = { sock, invalidTtl };
  f.subs.add(sub);
  q.subscribers++;
  if (invalidTtl) q.invalidTtlSubscribers++;
  const feed = f;
  sock.once('close', () => {
    if (!feed.subs.delete(sub)) return;
    const cur = packetIns(sw);
    cur.subscribers--;
    if (invalidTtl) cur.invalidTtlSubscribers--;
  });
}

function drain(sw: Switch, f: Feed): void {
  f.scheduled = false;
  const q = packetIns(sw);
  for (let r = q.shift(); r !== null; r = q.shift()) {
    const j = recordJson(sw, r);
    const line = `${JSON.stringify(j)}\n`;
    for (const s of f.subs) {
      if (j.reason === 'invalid_ttl' && !s.invalidTtl) continue;
      if (s.sock.writableLength > SLOW) sw.counters.add('drop-packet-in-slow-subscriber');
      else s.sock.write(line);
    }
  }
}

export function recordJson(sw: Switch, r: PacketInRecord): PacketInJson {
  const j: PacketInJson = {
    event: 'packet-in',
    reason: REASON_NAMES[r.reason] ?? String(r.reason),
    tableId: r.tableId,
    cookie: `0x${r.cookie.toString(16)}`,
    inPort: r.inPort,
    inPortName: sw.port(r.inPort)?.name,
    totalLen: r.totalLen,
    data: hex(r.data, 0, r.dataLen),
  };
  if (r.tunIpVersion !== 0) {
    const v6 = r.tunIpVersion === 6;
    const fmt = v6 ? formatIpv6 : formatIpv4;
    j.tunnel = {
      id: `0x${((BigInt(r.tunIdHi >>> 0) << 32n) | BigInt(r.tunIdLo >>> 0)).toString(16)}`,
      src: fmt(r.tunSrc, 0),
      dst: fmt(r.tunDst, 0),
      ipv6: v6,
    };
  }
  return j;
}
