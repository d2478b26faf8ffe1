// What the numbers were measured on: they mean little without it (bench/README.md).
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem, type } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  node: string;
  v8: string;
  date: string;
  commit: string | null;
}

export function machine(): Machine {
  const c = cpus();
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim();
  } catch {
    commit = null;
  }
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: type(),
    kernel: release(),
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    commit,
  };
}
