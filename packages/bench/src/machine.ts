import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { bestCoreType, loadAddonIfBuilt } from '@gradq/native-kernels';
import type { MachineInfo } from './results';

function tryRun(cmd: string, args: string[], cwd?: string): string | undefined {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** Installed versions of packages, read from pnpm's store directory names (node_modules/.pnpm/<name>@<version>). */
function installedVersions(root: string, names: readonly string[]): Record<string, string> {
  let entries: string[] = [];
  try {
    entries = readdirSync(join(root, 'node_modules/.pnpm'));
  } catch {}
  const out: Record<string, string> = {};
  for (const name of names) {
    const prefix = `${name.replace('/', '+')}@`;
    const found = entries.filter((e) => e.startsWith(prefix)).map((e) => e.slice(prefix.length).split('_')[0] ?? '');
    if (found.length) out[name] = [...new Set(found)].join(', ');
  }
  return out;
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1];
    return `${pretty ?? 'Linux'}, kernel ${release()}`;
  } catch {
    return `${process.platform} ${release()}`;
  }
}

export function machineInfo(root: string): MachineInfo {
  const versions: Record<string, string> = {
    ...installedVersions(root, [
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-node',
      'bullmq',
      'ioredis',
    ]),
  };
  const redis = tryRun('redis-server', ['--version']);
  if (redis) versions['redis-server'] = /v=(\S+)/.exec(redis)?.[1] ?? redis;
  for (const pkg of ['libopenblas0-pthread', 'libopenblas0-openmp', 'libopenblas0']) {
    // dpkg-query's own format syntax, not a template.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format string
    const v = tryRun('dpkg-query', ['-W', '-f=${Version}', pkg]);
    if (v) {
      versions.openblas = `${v} (${pkg}), core type ${bestCoreType() ?? '(its own pick)'} for section 1's children`;
      break;
    }
  }
  const kernel = loadAddonIfBuilt()?.gemmKernel();
  if (kernel) versions['gradq engine GEMM'] = kernel;
  const python = tryRun('/usr/bin/python3', ['--version']);
  if (python) versions.python = python.replace(/^Python /, '');
  const commit = tryRun('git', ['rev-parse', 'HEAD'], root) ?? 'unknown';
  const status = tryRun('git', ['status', '--porcelain', '--untracked-files=no'], root);
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    ramBytes: totalmem(),
    os: osName(),
    node: process.version,
    versions,
    gitCommit: commit,
    gitDirty: Boolean(status),
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
