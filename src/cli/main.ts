// The `nvo` command: one file per sub-command, each exporting `register(program)`.
import { Command } from 'commander';
import { CliError } from './cli-error.ts';
import { register as registerDemo } from './demo.ts';
import { register as registerPcap } from './pcap.ts';
import { register as registerSwitch } from './switch-commands.ts';
import { register as registerTestbed } from './testbed.ts';
import { register as registerVersion } from './version.ts';

const program = new Command('nvo')
  .description('nvo: a userspace network-virtualization-overlay switch')
  .showHelpAfterError()
  .exitOverride();

registerDemo(program);
registerVersion(program);
registerTestbed(program);
registerPcap(program);
registerSwitch(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`nvo: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const code = (err as { code?: string; exitCode?: number }).code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    process.exit((err as { exitCode: number }).exitCode);
  }
  throw err;
}
