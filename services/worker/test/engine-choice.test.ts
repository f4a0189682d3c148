/**
 * How `pnpm worker` picks its engine, as a user sees it: GRADQ_ENGINE=cuda (or --engine cuda) on a machine that
 * cannot run CUDA exits non-zero naming the reason; with a driver it runs CUDA and says so in its log, /healthz and
 * /metrics. The driver here is the fake one (@gradq/cuda-kernels test/fake-cuda.c). The workers point at a Redis
 * that does not exist, so they never take another test's jobs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fakeCudaEnv, skipWithoutCudaAddon } from '@gradq/cuda-kernels/test-support';
import { CudaEngine } from '@gradq/engine';
import { CLI, cliEnv, spawnCli } from '@gradq/testing';

const NO_REDIS = 'redis://127.0.0.1:1';

/** Why the CUDA engine cannot run on this machine with the default libraries, or undefined where it can. */
function noDriverHere(): string | undefined {
  try {
    new CudaEngine({ layerSizes: [4, 2, 4], outputActivation: 'relu' }).dispose();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function failsWith(args: string[], env: Record<string, string>, reason: RegExp): Promise<void> {
  const worker = spawnCli(CLI.worker, ['--worker-id', 'engine-test', ...args], {
    env: cliEnv({ REDIS_URL: NO_REDIS, ...env }),
  });
  const exit = await worker.exited;
  assert.equal(exit.code, 1, worker.tail());
  assert.match(worker.stderr(), reason);
}

describe('pnpm worker and GRADQ_ENGINE', () => {
  const reason = noDriverHere();
  test('GRADQ_ENGINE=cuda without an NVIDIA driver exits 1 naming it', {
    skip: reason === undefined ? 'this machine has a working NVIDIA driver' : false,
  }, async () => {
    // Where no driver is installed the reason is that; elsewhere (a driver but no GPU, no kernels) another one.
    const why = /libcuda\.so\.1 not found/.test(reason ?? '') ? 'libcuda\\.so\\.1 not found: no NVIDIA driver' : '.+';
    await failsWith([], { GRADQ_ENGINE: 'cuda' }, new RegExp(`gradq: the cuda engine cannot run here: ${why}`));
  });

  // Needs the addon: without it (`pnpm install --ignore-scripts`) the reason given is the missing addon, as the test
  // above checks.
  test('--engine cuda with a driver that is not there exits 1 naming the library', {
    skip: skipWithoutCudaAddon(),
  }, async () => {
    await failsWith(
      ['--engine', 'cuda'],
      { GRADQ_CUDA_DRIVER: '/nonexistent/libcuda.so.1' },
      /gradq: the cuda engine cannot run here: \/nonexistent\/libcuda\.so\.1 not found: no NVIDIA driver/,
    );
  });

  test('an unknown engine is a usage error (exit 2)', async () => {
    const worker = spawnCli(CLI.worker, ['--engine', 'gpu'], { env: cliEnv({ REDIS_URL: NO_REDIS }) });
    const exit = await worker.exited;
    assert.equal(exit.code, 2, worker.tail());
    assert.match(worker.stderr(), /--engine \(GRADQ_ENGINE\): .*"auto"\|"cuda"\|"cpu"/);
  });

  test('with a driver, the cuda engine passes its self-test and is named in the log, /healthz and /metrics', {
    skip: skipWithoutCudaAddon(),
  }, async () => {
    const env = cliEnv({ ...fakeCudaEnv(), REDIS_URL: NO_REDIS, GRADQ_ENGINE: 'cuda', WORKER_ID: 'fake-gpu' });
    // The fake driver does not read the kernels: any file will do where nvcc did not build them.
    env.GRADQ_CUDA_FATBIN = CLI.worker;
    const worker = spawnCli(CLI.worker, ['--metrics-port', '0', '--metrics-host', '127.0.0.1'], { env });
    try {
      const [, port] = await worker.waitForStderr(/metrics on port (\d+)/, 60_000);
      assert.match(
        worker.stderr(),
        /engine cuda on fake GPU \(OpenBLAS\) .*self-test against native-cpu: relative error/,
      );
      const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
      assert.match(health, /^ok\nengine cuda on fake GPU/);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, /gradq_worker_engine_info\{engine="cuda",device="fake GPU \(OpenBLAS\)",role="worker"\} 1/);
    } finally {
      await worker.stop();
    }
  });

  test('the default on a machine without a GPU is the CPU engine, and says why', {
    skip: reason === undefined,
  }, async () => {
    const worker = spawnCli(CLI.worker, ['--metrics-port', '0', '--metrics-host', '127.0.0.1'], {
      env: cliEnv({ REDIS_URL: NO_REDIS, WORKER_ID: 'cpu-default' }),
    });
    try {
      const [line] = await worker.waitForStderr(/engine (native-cpu|tfjs-\S+) \(skipped cuda: [^\n]+/, 60_000);
      assert.ok(line);
    } finally {
      await worker.stop();
    }
  });
});
