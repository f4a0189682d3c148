#!/usr/bin/env node
// Builds the CUDA engine at install: the addon (node-gyp; plain C, no CUDA headers or libraries: it opens the driver
// and cuBLAS with dlopen at run time) and the kernels (nvcc, where it exists, into one fatbin with machine code for
// every GPU generation from Turing to Hopper plus PTX for newer ones). Never fails the install (unless --strict):
// without nvcc or without a GPU, workers use the CPU engine, and say why in one line.
//   node scripts/build.mjs            what `pnpm install` runs
//   node scripts/build.mjs --strict   exit non-zero when either part fails (the GPU image's builder stage)
// GRADQ_SKIP_NATIVE=1 skips the build. NVCC names the compiler; GRADQ_CUDA_ARCHS (e.g. "75,90,100") the targets.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const FATBIN = join(root, 'build', 'gradq_cuda.fatbin');
export const ADDON = join(root, 'build', 'Release', 'gradq_cuda.node');
export const KERNELS = join(root, 'native', 'kernels.cu');

/**
 * Machine code (sm_XY) for each generation nvcc 12 and 13 both target: Turing (75, the lowest CUDA 13 keeps),
 * Ampere (80, 86), Ada (89), Hopper (90); PTX of the newest, which drivers JIT-compile for GPUs after it. Machine
 * code matters: without it the driver compiles PTX at start, which took TensorFlow's GPU build "30 minutes
 * or longer" on Hopper (tensorflow/tensorflow#60739).
 */
export const DEFAULT_ARCHS = [75, 80, 86, 89, 90];

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).find((d) => d && existsSync(join(d, name)));
}

/** nvcc: $NVCC, then PATH, then $CUDA_HOME / $CUDA_PATH, then /usr/local/cuda (where the toolkit installs it). */
export function findNvcc(env = process.env) {
  if (env.NVCC) return existsSync(env.NVCC) ? env.NVCC : undefined;
  const dir = onPath('nvcc');
  if (dir) return join(dir, 'nvcc');
  for (const home of [env.CUDA_HOME, env.CUDA_PATH, '/usr/local/cuda']) {
    if (home && existsSync(join(home, 'bin', 'nvcc'))) return join(home, 'bin', 'nvcc');
  }
  return undefined;
}

export function archsFrom(env = process.env) {
  if (!env.GRADQ_CUDA_ARCHS) return DEFAULT_ARCHS;
  const archs = env.GRADQ_CUDA_ARCHS.split(',').map((a) => Number(a.trim()));
  if (archs.some((a) => !Number.isInteger(a) || a < 50)) {
    throw new Error(`GRADQ_CUDA_ARCHS must be compute capabilities like 75,90; got '${env.GRADQ_CUDA_ARCHS}'`);
  }
  return archs;
}

/** The nvcc arguments that build `source` into the fatbin `out`: machine code for each arch, PTX of the last. */
export function nvccArgs(source, out, archs) {
  const newest = Math.max(...archs);
  return [
    // See kernels.cu: no fused multiply-add, so the elementwise math is the CPU engine's, bit for bit.
    '--fmad=false',
    '-O3',
    '--threads',
    '0',
    '-fatbin',
    ...archs.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]),
    '-gencode',
    `arch=compute_${newest},code=compute_${newest}`,
    '-o',
    out,
    source,
  ];
}

/** Compiles the kernels; returns undefined on success, else why not. */
export function buildFatbin(nvcc, out = FATBIN, archs = DEFAULT_ARCHS) {
  mkdirSync(dirname(out), { recursive: true });
  const run = spawnSync(nvcc, nvccArgs(KERNELS, out, archs), { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (run.status === 0 && existsSync(out)) return undefined;
  return `${nvcc} failed: ${(run.stderr || run.stdout || String(run.error)).trim().split('\n').slice(-3).join(' | ')}`;
}

/** Builds the addon with node-gyp; returns undefined on success, else why not (the log in build-error.log). */
function buildAddon() {
  const prefix = dirname(dirname(process.execPath));
  const npmGyp = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  let gypScript = process.env.npm_config_node_gyp;
  if (!gypScript && !onPath('node-gyp') && existsSync(npmGyp)) gypScript = npmGyp;
  if (!gypScript && !onPath('node-gyp')) return 'node-gyp not found; run through pnpm install or npm';
  const command = gypScript?.endsWith('.js') ? process.execPath : gypScript || 'node-gyp';
  const args = gypScript?.endsWith('.js') ? [gypScript] : [];
  // `build`, not `rebuild`: rebuild deletes build/, the fatbin with it.
  args.push('configure', 'build');
  // Offline machines cannot download headers: use the running node's own when it ships them.
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
    args.push(`--nodedir=${prefix}`);
  }
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status === 0 && existsSync(ADDON)) return undefined;
  const logPath = join(root, 'build-error.log');
  writeFileSync(logPath, `${result.stdout ?? ''}\n${result.stderr ?? ''}\n${result.error ? String(result.error) : ''}`);
  return /not find any Python|(cc|gcc|make)[^\n]*(not found|ENOENT)/i.test(`${result.stderr}${result.error}`)
    ? `no C toolchain (cc, make, python3): apt-get install build-essential python3; log in ${logPath}`
    : `node-gyp failed, see ${logPath}`;
}

function main() {
  const strict = process.argv.includes('--strict');
  const say = (line) => console.log(`@gradq/cuda-kernels: ${line}`);
  if (process.env.GRADQ_SKIP_NATIVE === '1') {
    say('not built (GRADQ_SKIP_NATIVE=1)');
    process.exit(strict ? 1 : 0);
  }
  const addonProblem = buildAddon();
  if (addonProblem) say(`addon not built (${addonProblem}); workers will use the CPU engine.`);
  else say('built build/Release/gradq_cuda.node');
  const nvcc = findNvcc();
  let kernelProblem;
  if (!nvcc) {
    kernelProblem = 'nvcc not found on PATH, in $CUDA_HOME or /usr/local/cuda; set NVCC or install the CUDA toolkit';
    rmSync(FATBIN, { force: true });
  } else {
    const archs = archsFrom();
    kernelProblem = buildFatbin(nvcc, FATBIN, archs);
    if (!kernelProblem) {
      say(`built build/gradq_cuda.fatbin with ${nvcc} (${archs.map((a) => `sm_${a}`).join(' ')} + PTX)`);
    }
  }
  if (kernelProblem) say(`kernels not built (${kernelProblem}); the cuda engine cannot run here.`);
  if (!addonProblem && !kernelProblem) rmSync(join(root, 'build-error.log'), { force: true });
  process.exit(strict && (addonProblem || kernelProblem) ? 1 : 0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
