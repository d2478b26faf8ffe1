// `nvo monitor`: packet-in records of a running switch, one line each, as `ovs-ofctl monitor` shows
// OFPT_PACKET_IN messages (src/control/packet-in-text.ts), until interrupted or the switch goes away.
//
//   nvo monitor [--socket S] [--invalid-ttl] [--json] [--count N]
//     --invalid-ttl   also dec_ttl's INVALID_TTL packet-ins (ovs-ofctl monitor … invalid_ttl)
//     --json          the records as the control socket sends them
//     --count N       exit after N records
//
// Example: nvo flows add "priority=0,actions=CONTROLLER:128"; nvo monitor
//   OFPT_PACKET_IN (OF1.3) (xid=0x0): cookie=0x0 total_len=98 in_port=1 (via no_match) data_len=98 …
import { connect } from 'node:net';
import type { Command } from 'commander';
import type { PacketInJson } from '../control/packet-in-feed.ts';
import { formatPacketIn } from '../control/packet-in-text.ts';
import { CliError } from './cli-error.ts';

const DEFAULT_SOCKET = '/run/nvo/nvo.sock';

export function register(program: Command): void {
  program
    .command('monitor')
    .description(
      'print packet-in records (output:CONTROLLER, table-miss to CONTROLLER) as ovs-ofctl monitor does',
    )
    .option('-s, --socket <path>', 'control socket', DEFAULT_SOCKET)
    .option('--invalid-ttl', "also dec_ttl's INVALID_TTL packet-ins")
    .option('--json', 'print the JSON records')
    .option('-n, --count <n>', 'exit after this many records', (v) => Number.parseInt(v, 10))
    .action((o: { socket: string; invalidTtl?: boolean; json?: boolean; count?: number }) => monitor(o));
}

function monitor(o: { socket: string; invalidTtl?: boolean; json?: boolean; count?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(o.socket);
    let buf = '';
    let subscribed = false;
    let seen = 0;
    sock.setEncoding('utf8');
    sock.on('connect', () =>
      sock.write(`${JSON.stringify({ cmd: 'monitor', invalidTtl: o.invalidTtl === true })}\n`),
    );
    sock.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!subscribed) {
          const r = JSON.parse(line) as { ok: boolean; error?: string };
          if (!r.ok) {
            sock.destroy();
            reject(new CliError(`${o.socket}: ${r.error}`));
            return;
          }
          subscribed = true;
          continue;
        }
        const j = JSON.parse(line) as PacketInJson;
        process.stdout.write(`${o.json ? line : formatPacketIn(j)}\n`);
        if (o.count !== undefined && ++seen >= o.count) {
          sock.destroy();
          resolve();
          return;
        }
      }
    });
    sock.on('close', () => resolve());
    sock.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
            ? `${o.socket}: no nvo switch is running there (${e.code})`
            : `${o.socket}: ${e.message}`,
        ),
      ),
    );
  });
}
