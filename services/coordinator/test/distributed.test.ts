// Distributed core, end to end through the CLIs: `pnpm start` trains the real MNIST, and the number of workers does
// not change a single bit of the result (nor does training in one process with `pnpm baseline`).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, cliEnv, serviceRig, testBackend, uniqueRunId } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import type { CoordinatorSummary } from '../src/coordinator';

// A private Redis: on a shared one, other people's workers (maybe on another backend) would take this run's jobs.
const rig = serviceRig('distributed');
// A bound on each test, so that a hang fails here (and `after` cleans up) instead of stalling the suite.
const TEST_TIMEOUT_MS = 420_000;
// The full 60k-sample epoch: about 1-2 minutes on wasm, several on a loaded machine.
const TIMEOUT_FULL_MS = 900_000;

function startRun(name: string, args: string[]) {
  const runId = uniqueRunId(name);
  return rig.procs.spawn(
    CLI.start,
    ['--run-id', runId, '--redis-url', rig.server.url, '--metrics-port', '0', '--worker-metrics-port', '0', ...args],
    { env: cliEnv({ CHECKPOINT_DIR: join(rig.dir, runId) }), name },
  );
}

function assertExactlyOnce(s: CoordinatorSummary): void {
  const d = s.distributed;
  assert.ok(d.shards_planned > 0, 'no shards planned');
  assert.equal(d.shards_applied, d.shards_planned, `applied ${d.shards_applied} of ${d.shards_planned} planned shards`);
}

describe('distributed core', () => {
  test('pnpm start --epochs 1 --workers 2 on the full MNIST: test MSE falls, every shard applied once, both workers used', {
    timeout: TIMEOUT_FULL_MS,
  }, async () => {
    const run = startRun('full', ['--epochs', '1', '--workers', '2']);
    const s = await run.summary<CoordinatorSummary>(600_000);
    assert.equal(s.epochs, 1);
    assert.equal(s.samples, 60_000, 'the full training set was not used');
    assert.equal(s.test_mse_by_epoch.length, 2);
    const [initial, afterEpoch] = s.test_mse_by_epoch as [number, number];
    assert.ok(afterEpoch < initial, `test MSE did not fall: ${initial} -> ${afterEpoch}`);
    assertExactlyOnce(s);
    // 60000 samples in batches of 128 split into 4 shards: 468 full steps of 4 and one of 96 samples in 4.
    assert.equal(s.distributed.shards_planned, 469 * 4);
    assert.equal(s.distributed.workers_seen, 2);
    assert.deepEqual(s.distributed.rejected, {});
    assert.match(s.params_sha256, /^[0-9a-f]{64}$/);
  });

  test('params_sha256 is identical with 1 worker, 2 workers and pnpm baseline (same seed, backend, shards per step)', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // Both distributed runs share the private Redis and so the one gradient queue: each run's workers also take the
    // other run's jobs (any worker serves any run), which must not change a bit either.
    const common = ['--limit', '2048', '--epochs', '2', '--seed', '7', '--shards-per-step', '4'];
    const baseline = rig.procs.spawn(CLI.baseline, [...common, '--run-id', uniqueRunId('base')], { name: 'baseline' });
    const one = startRun('w1', [...common, '--workers', '1']);
    const two = startRun('w2', [...common, '--workers', '2']);
    const [b, s1, s2] = await Promise.all([
      baseline.summary<RunSummary>(300_000),
      one.summary<CoordinatorSummary>(300_000),
      two.summary<CoordinatorSummary>(300_000),
    ]);
    for (const s of [b, s1, s2]) assert.equal(s.backend, testBackend(), `${s.run_id} ran on ${s.backend}`);
    assertExactlyOnce(s1);
    assertExactlyOnce(s2);
    assert.equal(s1.steps, b.steps);
    assert.equal(s1.params_sha256, b.params_sha256, '1 worker differs from the baseline');
    assert.equal(s2.params_sha256, b.params_sha256, '2 workers differ from the baseline');
    assert.deepEqual(s1.test_mse_by_epoch, b.test_mse_by_epoch);
    assert.deepEqual(s2.test_mse_by_epoch, b.test_mse_by_epoch);
  });
});
