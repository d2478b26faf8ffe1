// Why a namespace interop test can't run here, or false: root for network namespaces, the native
// addon (AF_PACKET / TAP / UDP GSO), and the Debian tools it drives. One message format for every file,
// naming what is missing and what installs it.
import { existsSync } from 'node:fs';
import { loadNative } from '../../src/io/native.ts';
import { isRoot } from '../../testbed/netns.ts';
import { haveTshark, PYTHON } from '../harness/tools.ts';

const TOOLS = {
  iperf3: () => existsSync('/usr/bin/iperf3'),
  ping: () => existsSync('/usr/bin/ping'),
  tcpdump: () => existsSync('/usr/bin/tcpdump'),
  tshark: haveTshark,
  python3: () => existsSync(PYTHON),
};

export type Tool = keyof typeof TOOLS;

export function interopSkip(...tools: Tool[]): string | false {
  if (!isRoot()) return 'needs root (network namespaces)';
  if (!loadNative()) return 'the native I/O addon did not build';
  const missing = tools.filter((t) => !TOOLS[t]());
  return missing.length > 0
    ? `${missing.join(', ')} not installed (scripts/install-deps.sh installs them)`
    : false;
}
