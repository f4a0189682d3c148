#!/usr/bin/env node
// Builds the addon with node-gyp at install. Never fails the install (unless --strict): without a C compiler or
// libopenblas-dev, gradq runs on the wasm backend instead, and selectBackend says why in one line.
//   node scripts/install.mjs            what `pnpm install` runs
//   node scripts/install.mjs --strict   exit non-zero when the build fails (pnpm --filter @gradq/native-kernels build)
// GRADQ_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const strict = process.argv.includes('--strict');
const logPath = join(root, 'build-error.log');

function done(ok, reason) {
  if (ok) {
    console.log('@gradq/native-kernels: built build/Release/gradq_native.node (TFJS_BACKEND=cpu-native)');
    rmSync(logPath, { force: true });
    process.exit(0);
  }
  console.log(`@gradq/native-kernels: not built (${reason}); gradq will use the wasm backend.`);
  process.exit(strict ? 1 : 0);
}

if (process.env.GRADQ_SKIP_NATIVE === '1') done(false, 'GRADQ_SKIP_NATIVE=1');

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, name)));
}

// pnpm and npm put their bundled node-gyp on PATH for lifecycle scripts (npm_config_node_gyp points at it); run
// by hand, use npm's copy next to this node.
const prefix = dirname(dirname(process.execPath));
const npmGyp = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
let gypScript = process.env.npm_config_node_gyp;
if (!gypScript && !onPath('node-gyp') && existsSync(npmGyp)) gypScript = npmGyp;
if (!gypScript && !onPath('node-gyp')) done(false, 'node-gyp not found; run through pnpm install or npm');
const command = gypScript?.endsWith('.js') ? process.execPath : gypScript || 'node-gyp';
const args = gypScript?.endsWith('.js') ? [gypScript] : [];
args.push('rebuild');
// Offline machines cannot download headers: use the running node's own when it ships them.
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}

const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const log = `${result.stdout ?? ''}\n${result.stderr ?? ''}\n${result.error ? String(result.error) : ''}`;
if (result.status === 0 && existsSync(join(root, 'build', 'Release', 'gradq_native.node'))) done(true);
writeFileSync(logPath, log);
let reason = `node-gyp failed, see ${logPath}`;
if (/cannot find -lopenblas|openblas/i.test(log) && /cannot find|No such file/i.test(log)) {
  reason = `OpenBLAS not found: apt-get install libopenblas-dev; log in ${logPath}`;
} else if (/(\bcc|gcc|g\+\+|make|python3?)[^\n]*(not found|ENOENT|No such file)|not find any Python/i.test(log)) {
  reason = `no C toolchain (cc, make, python3): apt-get install build-essential python3; log in ${logPath}`;
}
done(false, reason);
