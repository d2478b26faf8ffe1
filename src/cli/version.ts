import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { Command } from 'commander';

export function versionText(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return `nvo ${pkg.version}\nnode ${process.versions.node}\nkernel ${release()}`;
}

export function register(program: Command): void {
  program
    .command('version')
    .description('print nvo, Node and kernel versions')
    .action(() => {
      process.stdout.write(`${versionText()}\n`);
    });
}
