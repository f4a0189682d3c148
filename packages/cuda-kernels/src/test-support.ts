/**
 * Helpers for tests of the CUDA engine without a GPU: whether the addon loads here, and the fake driver
 * (test/fake-cuda.c, over OpenBLAS, running kernels.cu compiled as C) that it can be pointed at. Other packages'
 * tests import it as `@gradq/cuda-kernels/test-support`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCudaAddon } from './addon';

const root = new URL('..', import.meta.url).pathname;

let addonSkip: string | false | undefined;

/**
 * node:test's `skip` option for tests that need the addon (not a GPU): false where it loads, else what is missing.
 * GRADQ_REQUIRE_NATIVE=1 (.ci/run) never skips, as for @gradq/native-kernels.
 */
export function skipWithoutCudaAddon(): string | false {
  addonSkip ??= probeAddon();
  return addonSkip;
}

function probeAddon(): string | false {
  if (process.env.GRADQ_REQUIRE_NATIVE === '1') return false;
  try {
    loadCudaAddon();
    return false;
  } catch (err) {
    return (
      `${(err as Error).message}. Fix: apt-get install build-essential python3 && pnpm --filter ` +
      '@gradq/cuda-kernels build (GRADQ_REQUIRE_NATIVE=1 makes this skip a failure)'
    );
  }
}

let fake: string | undefined;

/**
 * Builds the fake libcuda + libcublas (one library) with cc once per process and returns its path, to hand to the
 * engine as GRADQ_CUDA_DRIVER and GRADQ_CUBLAS. Needs a C compiler and OpenBLAS's headers (libopenblas-dev), as
 * @gradq/native-kernels does; throws with the compiler's message otherwise.
 */
export function buildFakeCuda(): string {
  if (fake) return fake;
  const out = join(mkdtempSync(join(tmpdir(), 'gradq-fake-cuda-')), 'libfake-cuda.so');
  const cc = process.env.CC || 'cc';
  const run = spawnSync(
    cc,
    [
      '-shared',
      '-fPIC',
      '-std=c11',
      '-O2',
      // As the CPU engine and nvcc's --fmad=false: the kernels' elementwise math unfused.
      '-ffp-contract=off',
      '-Wall',
      '-Wno-unused-parameter',
      '-o',
      out,
      join(root, 'test', 'fake-cuda.c'),
      '-x',
      'c',
      join(root, 'native', 'kernels.cu'),
      '-x',
      'none',
      '-lopenblas',
      '-ldl',
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0)
    throw new Error(`building the fake CUDA driver failed (${cc}): ${run.stderr || run.error?.message}`);
  fake = out;
  return out;
}

/** The environment that points the engine at the fake driver. */
export function fakeCudaEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const lib = buildFakeCuda();
  return { ...process.env, GRADQ_CUDA_DRIVER: lib, GRADQ_CUBLAS: lib, ...extra };
}
