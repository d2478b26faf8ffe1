// `nvo pcap encap --encap E --vni N --local A --remote B [--mtu M] IN OUT`: every frame of IN
// (Ethernet, or bare IP from a raw-IP capture for the encapsulations that carry IP: vxlan-gpe, geneve,
// gre) is wrapped in outer Ethernet/IP/(UDP|TCP|GRE)/tunnel headers by tunnel/encap-frame.ts and
// written to OUT. Frames whose outer IP packet would exceed --mtu are counted as `too-big` (software
// segmentation and fragmentation belong to src/offload and are not applied here).

import { openCapture } from '../io/capture-reader.ts';
import { LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_RAW } from '../io/capture-record.ts';
import { MAX_PACKET } from '../io/capture-source.ts';
import { type CaptureWriter, createWriterLike } from '../io/capture-writer.ts';
import { ENCAP_GRE, ENCAP_NAMES, ENCAP_STT } from '../packet/packet.ts';
import * as R from '../tunnel/decap-reasons.ts';
import { type EncapConfig, FrameEncap } from '../tunnel/encap-frame.ts';
import { parseIpv4, parseIpv6, parseMac } from '../wire/bytes.ts';
import * as etherType from '../wire/ether-type.ts';
import { CliError } from './cli-error.ts';
import { countsByName, type PcapSummary } from './pcap-decap.ts';

export interface EncapArgs {
  encap: string;
  vni: string;
  local: string;
  remote: string;
  mtu?: string;
  srcMac?: string;
  dstMac?: string;
  dstPort?: string;
  mss?: string;
}

function num(name: string, text: string, max: bigint): bigint {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) throw new CliError(`--${name}: not a number: ${text}`);
  const v = BigInt(text);
  if (v > max) throw new CliError(`--${name}: ${text} is larger than ${max}`);
  return v;
}

/** Validates the command line into an EncapConfig; bad values are CliErrors (exit 2). */
export function encapConfig(a: EncapArgs): EncapConfig {
  const encap = ENCAP_NAMES.indexOf(a.encap as (typeof ENCAP_NAMES)[number]);
  if (encap <= 0)
    throw new CliError(
      `--encap: unknown encapsulation '${a.encap}' (one of ${ENCAP_NAMES.slice(1).join(', ')})`,
    );
  // Width of the tunnel id: STT context 64 bits, GRE key 32, VNI / NVGRE VSID 24.
  const bits = encap === ENCAP_STT ? 64n : encap === ENCAP_GRE ? 32n : 24n;
  const id = num('vni', a.vni, (1n << bits) - 1n);
  const v6 = a.local.includes(':');
  if (a.remote.includes(':') !== v6)
    throw new CliError('--local and --remote must be the same address family');
  const local = new Uint8Array(16);
  const remote = new Uint8Array(16);
  try {
    if (v6) {
      parseIpv6(a.local, local, 0);
      parseIpv6(a.remote, remote, 0);
    } else {
      parseIpv4(a.local, local, 0);
      parseIpv4(a.remote, remote, 0);
    }
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const srcMac = new Uint8Array(6);
  const dstMac = new Uint8Array(6);
  try {
    parseMac(a.srcMac ?? '02:00:00:00:00:01', srcMac, 0);
    parseMac(a.dstMac ?? '02:00:00:00:00:02', dstMac, 0);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const mtu = a.mtu === undefined ? 0 : Number(num('mtu', a.mtu, 65535n));
  if (a.mtu !== undefined && mtu < 68) throw new CliError(`--mtu: ${mtu} is below the IPv4 minimum of 68`);
  return {
    encap,
    idHi: Number(id >> 32n),
    idLo: Number(id & 0xffffffffn),
    ipVersion: v6 ? 6 : 4,
    local,
    remote,
    srcMac,
    dstMac,
    dstPort: a.dstPort === undefined ? 0 : Number(num('dst-port', a.dstPort, 65535n)),
    mtu,
    mss: a.mss === undefined ? 1448 : Number(num('mss', a.mss, 65535n)),
  };
}

export async function runEncap(inPath: string, outPath: string, cfg: EncapConfig): Promise<PcapSummary> {
  const reader = await openCapture(inPath);
  const enc = new FrameEncap(cfg);
  const buf = new Uint8Array(enc.overhead() + MAX_PACKET);
  const drops = new Uint32Array(R.REASON_COUNT);
  let nIn = 0;
  let nOut = 0;
  let writer: CaptureWriter | undefined;
  try {
    for (let rec = await reader.next(); rec; rec = await reader.next()) {
      nIn++;
      // Opened at the first record: a pcapng reader knows its interfaces (and timestamp units) by then.
      const w = (writer ??= await createWriterLike(reader, outPath));
      const b = rec.data;
      if (b.length < rec.origLen) {
        drops[R.SNAPLEN_CUT]!++;
        continue;
      }
      let innerType: number;
      if (rec.linktype === LINKTYPE_ETHERNET) innerType = etherType.TEB;
      else if (
        rec.linktype === LINKTYPE_RAW ||
        rec.linktype === LINKTYPE_IPV4 ||
        rec.linktype === LINKTYPE_IPV6
      )
        innerType = b.length > 0 && b[0]! >>> 4 === 6 ? etherType.IPV6 : etherType.IPV4;
      else {
        drops[R.UNSUPPORTED_LINKTYPE]!++;
        continue;
      }
      const n = enc.encap(b, 0, b.length, innerType, buf, 0);
      if (n < 0) {
        drops[-n]!++;
        continue;
      }
      await w.write(LINKTYPE_ETHERNET, buf, 0, n, rec.sec, rec.nsec);
      nOut++;
    }
    await (writer ?? (await createWriterLike(reader, outPath))).close();
    writer = undefined;
  } finally {
    await writer?.close();
    await reader.close();
  }
  const byEncap: Record<string, number> = nOut ? { [ENCAP_NAMES[cfg.encap]!]: nOut } : {};
  return { in: nIn, out: nOut, byEncap, drops: countsByName(drops, R.reasonName) };
}
