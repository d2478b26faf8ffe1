// `nvo run`, `nvo flows`, `nvo trace`, `nvo stats`, `nvo show`: the switch and its control channel.
//
//   nvo run --config nvo.yaml [--udp auto|native|dgram]
//       --udp (or NVO_UDP): how underlay mode socket's UDP sockets are opened: native (UDP_SEGMENT/
//       UDP_GRO through the addon), dgram (node:dgram, no GSO/GRO), auto (native when the addon loads;
//       else dgram, said in one line). NVO_NATIVE=off (or NVO_NO_NATIVE=1) turns the whole addon off.
//   nvo flows add  [--socket S] "priority=100,in_port=g1,actions=set_field:42->tun_id,output:vx0"
//   nvo flows del  [--socket S] [--strict] ["in_port=1"]
//   nvo flows dump [--socket S]
//   nvo flows parse "FLOW"            (offline: prints the flow as ovs-ofctl normalises it)
//   nvo trace [--socket S | --config F] --in-port g1 (--packet HEX | "tcp,nw_dst=10.0.0.2,tp_dst=80")
//   nvo stats [--socket S] [--json]   nvo show [--socket S] [--json]
//   nvo monitor [--socket S] [--invalid-ttl]   (packet-ins, monitor.ts)
import type { Command } from 'commander';
import { buildSwitch } from '../control/build-switch.ts';
import { ConfigError, loadConfig } from '../control/config.ts';
import { request } from '../control/control-client.ts';
import { handle, type Request } from '../control/control-server.ts';
import { launchDaemon } from '../control/daemon.ts';
import { frameFromFlow } from '../control/frame-from-flow.ts';
import { formatFlow } from '../flow/ofctl-format.ts';
import { FlowSyntaxError, parseFlow } from '../flow/ofctl-parse.ts';
import { hex } from '../wire/bytes.ts';
import { CliError } from './cli-error.ts';
import { register as registerMonitor } from './monitor.ts';

const DEFAULT_SOCKET = '/run/nvo/nvo.sock';

async function call(socket: string, req: Request): Promise<unknown> {
  try {
    return await request(socket, req);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

function print(result: unknown, json: boolean): void {
  if (json || typeof result !== 'object' || result === null)
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else if (Array.isArray(result)) for (const l of result) process.stdout.write(`${l}\n`);
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

export function register(program: Command): void {
  registerMonitor(program);
  program
    .command('run')
    .description('run the switch on real ports, as described by a config file')
    .requiredOption('-c, --config <file>', 'nvo.yaml')
    .option(
      '--udp <how>',
      'UDP sockets of underlay mode socket: auto, native (UDP GSO/GRO) or dgram (node:dgram); env NVO_UDP',
    )
    .action(async (o: { config: string; udp?: string }) => {
      let cfg: ReturnType<typeof loadConfig>;
      try {
        cfg = loadConfig(o.config);
      } catch (e) {
        if (e instanceof ConfigError || e instanceof FlowSyntaxError) throw new CliError(e.message);
        throw e;
      }
      const udp = o.udp ?? process.env['NVO_UDP'] ?? 'auto';
      if (udp !== 'auto' && udp !== 'native' && udp !== 'dgram')
        throw new CliError(`--udp ${udp}: expected auto, native or dgram`);
      const forcedBy = o.udp ? '--udp dgram' : 'NVO_UDP=dgram';
      let r: Awaited<ReturnType<typeof launchDaemon>>['running'];
      try {
        const l = await launchDaemon(cfg, { udp, forcedBy: `forced by ${forcedBy}` });
        r = l.running;
        if (l.notice) process.stderr.write(`${l.notice}\n`);
      } catch (e) {
        throw new CliError((e as Error).message, 1);
      }
      process.stderr.write(
        `nvo: ${cfg.name} running, ${r.sw.ports.size} ports, control socket ${r.socket}\n`,
      );
      for (const sig of ['SIGINT', 'SIGTERM'] as const)
        process.on(sig, () => {
          r.stop();
          process.exit(0);
        });
    });

  const flows = program
    .command('flows')
    .description('OpenFlow tables of a running switch, in ovs-ofctl syntax');
  flows
    .command('add <flow>')
    .description('add a flow')
    .option('-s, --socket <path>', 'control socket', DEFAULT_SOCKET)
    .action(async (flow: string, o: { socket: string }) =>
      print(await call(o.socket, { cmd: 'flows.add', flow }), false),
    );
  flows
    .command('mod <flow>')
    .description('modify the actions of matching flows')
    .option('-s, --socket <path>', 'control socket', DEFAULT_SOCKET)
    .option('--strict', 'match priority and match exactly')
    .action(async (flow: string, o: { socket: string; strict?: boolean }) =>
      print(await call(o.socket, { cmd: 'flows.mod', flow, strict: o.strict }), false),
    );
  flows
    .command('del [flow]')
    .description('delete matching flows (all without a match)')
    .option('-s, --socket <path>', 'control socket', DEFAULT_SOCKET)
    .option('--strict', 'match priority and match exactly')
    .action(async (flow: string | undefined, o: { socket: string; strict?: boolean }) =>
      print(await call(o.socket, { cmd: 'flows.del', flow, strict: o.strict }), false),
    );
  flows
    .command('dump')
    .description('print every flow with its counters')
    .option('-s, --socket <path>', 'control socket', DEFAULT_SOCKET)
    .action(async (o: { socket: string }) => print(await call(o.socket, { cmd: 'flows.dump' }), false));
  flows
    .command('parse <flow>')
    .description('parse a flow offline and print it normalised, as ovs-ofctl parse-flow does')
    .action((flow: string) => {
      try {
        process.stdout.write(`${formatFlow(parseFlow(flow))}\n`);
      } catch (e) {
        if (e instanceof FlowSyntaxError) throw new CliError(e.message);
        throw e;
      }
    });

  program
    .command('trace')
    .description("show one packet's path: cache level, tables, actions, outputs or the drop reason")
    .option('-s, --socket <path>', 'control socket of a running switch', DEFAULT_SOCKET)
    .option('-c, --config <file>', 'trace against a switch built from this config instead (no ports opened)')
    .requiredOption('-i, --in-port <port>', 'input port name or number')
    .option('-p, --packet <hex>', 'the frame, in hex')
    .argument('[flow]', 'or a flow description to build the frame from, e.g. "tcp,nw_dst=10.0.0.2,tp_dst=80"')
    .action(
      async (
        flow: string | undefined,
        o: { socket: string; config?: string; inPort: string; packet?: string },
      ) => {
        if (!o.packet && !flow) throw new CliError('give --packet HEX or a flow description');
        if (o.config) {
          let sw: ReturnType<typeof buildSwitch>;
          try {
            sw = buildSwitch(loadConfig(o.config), () => ({ txBurst: (b) => b.count }));
          } catch (e) {
            throw new CliError((e as Error).message);
          }
          const frame = o.packet ?? hex(frameFromFlow(flow!, sw.portByName));
          print(handle(sw, { cmd: 'trace', inPort: o.inPort, hex: frame }), false);
          return;
        }
        let frame = o.packet;
        if (!frame)
          try {
            frame = hex(frameFromFlow(flow!));
          } catch (e) {
            throw new CliError((e as Error).message);
          }
        print(await call(o.socket, { cmd: 'trace', inPort: o.inPort, hex: frame }), false);
      },
    );

  for (const [name, desc] of [
    ['stats', 'counters: ports, caches, drops by reason'],
    ['show', 'ports, tunnels, neighbours, learned MACs'],
  ] as const)
    program
      .command(name)
      .description(desc)
      .option('-s, --socket <path>', 'control socket', DEFAULT_SOCKET)
      .option('--json', 'JSON output')
      .action(async (o: { socket: string; json?: boolean }) =>
        print(await call(o.socket, { cmd: name }), o.json ?? false),
      );
}
