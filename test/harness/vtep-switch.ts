// A switch between guests and two remote VTEPs, and the frames to feed it, for datapath tests that
// compare two switches' outputs (xlate-normal.test.ts, runs.test.ts): guest ports 1..3 in VNI 42, a
// flow-based VXLAN port 10 on 10.0.0.1, an underlay port 100 whose next hops 10.0.0.2 / 10.0.0.3 are
// known, each port's transmissions appended to `out` as "port hex".
import { KIND_GUEST, KIND_UNDERLAY } from '../../src/datapath/port.ts';
import { Switch, type SwitchConfig } from '../../src/datapath/switch.ts';
import { parseFlow } from '../../src/flow/ofctl-parse.ts';
import type { Batch } from '../../src/packet/batch.ts';
import { checksum } from '../../src/wire/checksum.ts';

export const LOCAL = 0x0a000001;
export const VTEPS = [0x0a000002, 0x0a000003];
export const UNDERLAY_MAC = [2, 0, 0, 0, 1, 1];

export function vtepSwitch(out: string[], cfg: SwitchConfig, flows = ['priority=0,actions=NORMAL']): Switch {
  const sw = new Switch({ underlayMac: '02:00:00:00:01:01', ...cfg });
  const sink = (name: string) => ({
    txBurst(b: Batch, from = 0): number {
      for (let i = from; i < b.count; i++)
        out.push(`${name} ${Buffer.from(b.packets[i]!.bytes()).toString('hex')}`);
      return b.count - from;
    },
  });
  for (let n = 1; n <= 3; n++) sw.addPort(`g${n}`, KIND_GUEST, { no: n, vni: 42, sink: sink(`g${n}`) });
  sw.addPort('eth0', KIND_UNDERLAY, { no: 100, sink: sink('eth0') });
  sw.addTunnel({ name: 'tun0', encap: 'vxlan', localIp: '10.0.0.1', key: 'flow' }, { no: 10 });
  sw.neighbours.addRoute4(0x0a000000, 24, 0, 100);
  for (const v of VTEPS) {
    sw.neighbours.set4(v, new Uint8Array([2, 0, 0, 0, 2, v & 0xff]), 100, 0, true);
    sw.addVtep(42, new Uint8Array([10, 0, 0, v & 0xff]));
  }
  for (const f of flows) sw.addFlow(parseFlow(f, { portByName: sw.portByName }));
  return sw;
}

/** Ethernet / IPv4 192.168.1.1 → .2 / UDP sport → 9, `len` bytes (≥ 42). */
export function udpFrame(dst: number[], src: number[], sport: number, len = 64): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f.set([8, 0, 0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 168, 1, 1, 192, 168, 1, 2], 12);
  const dv = new DataView(f.buffer);
  dv.setUint16(16, len - 14);
  dv.setUint16(24, checksum(f, 14, 34));
  dv.setUint16(34, sport);
  dv.setUint16(36, 9);
  dv.setUint16(38, len - 34);
  return f;
}

/** The inner frame in VXLAN (VNI 42) / UDP (checksum 0) / IPv4 from `vtep` to LOCAL. */
export function fromVtep(vtep: number, frame: Uint8Array): Uint8Array {
  const f = new Uint8Array(50 + frame.length);
  const dv = new DataView(f.buffer);
  f.set(UNDERLAY_MAC, 0);
  f.set([2, 0, 0, 0, 2, vtep & 0xff, 8, 0, 0x45], 6);
  dv.setUint16(16, f.length - 14);
  f[22] = 64;
  f[23] = 17;
  dv.setUint32(26, vtep);
  dv.setUint32(30, LOCAL);
  dv.setUint16(24, checksum(f, 14, 34));
  dv.setUint16(34, 50000);
  dv.setUint16(36, 4789);
  dv.setUint16(38, f.length - 34);
  f[42] = 0x08;
  dv.setUint32(46, 42 << 8);
  f.set(frame, 50);
  return f;
}
