// `--algorithm local` end to end through the CLIs: DiLoCo rounds, one job per replica, each replica's inner Adam
// state in Redis between rounds. The number of workers does not change a bit, nor does `pnpm baseline`.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LocalStore, readLatestStep } from '@gradq/checkpoint';
import { CLI, cliEnv, serviceRig, testBackend, uniqueRunId, waitUntil } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import type { CoordinatorSummary } from '../src/coordinator';

// A private Redis: on a shared one, other people's workers would take this run's jobs.
const rig = serviceRig('local');
const TEST_TIMEOUT_MS = 420_000;

function startRun(name: string, args: string[]) {
  const runId = uniqueRunId(name);
  return rig.procs.spawn(
    CLI.start,
    ['--run-id', runId, '--redis-url', rig.server.url, '--metrics-port', '0', '--worker-metrics-port', '0', ...args],
    { env: cliEnv({ CHECKPOINT_DIR: join(rig.dir, runId) }), name },
  );
}

describe('--algorithm local', () => {
  test('params_sha256 is identical with 1 worker, 2 workers and pnpm baseline; each replica applied once per round', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // 2048 samples in rounds of 4 replicas x 3 inner steps x 64 = 768: 2 full rounds and one of 512 (4 spans of 128,
    // 2 inner steps each) per epoch; the second epoch's inner steps start from the states the first epoch's last
    // round left in Redis.
    const common = [
      ...['--limit', '2048', '--epochs', '2', '--seed', '7', '--batch-size', '64'],
      ...['--algorithm', 'local', '--replicas', '4', '--inner-steps', '3'],
    ];
    const baseline = rig.procs.spawn(CLI.baseline, [...common, '--run-id', uniqueRunId('base')], { name: 'baseline' });
    const one = startRun('w1', [...common, '--workers', '1']);
    const two = startRun('w2', [...common, '--workers', '2']);
    const [b, s1, s2] = await Promise.all([
      baseline.summary<RunSummary>(300_000),
      one.summary<CoordinatorSummary>(300_000),
      two.summary<CoordinatorSummary>(300_000),
    ]);
    for (const s of [b, s1, s2]) assert.equal(s.backend, testBackend(), `${s.run_id} ran on ${s.backend}`);
    assert.equal(b.steps, 6, 'rounds');
    assert.equal(b.samples, 4096);
    for (const s of [s1, s2]) {
      assert.equal(s.distributed.shards_planned, 6 * 4);
      assert.equal(s.distributed.shards_applied, s.distributed.shards_planned);
      assert.equal(s.steps, b.steps);
    }
    assert.equal(s1.params_sha256, b.params_sha256, '1 worker differs from the baseline');
    assert.equal(s2.params_sha256, b.params_sha256, '2 workers differ from the baseline');
    assert.deepEqual(s1.test_mse_by_epoch, b.test_mse_by_epoch);
    const [initial, last] = [b.test_mse_by_epoch[0] as number, b.test_mse_by_epoch.at(-1) as number];
    assert.ok(last < initial, `test MSE did not fall: ${initial} -> ${last}`);
  });

  test('--inner-state reset: the same across workers and the baseline, and not the same as keep', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const common = [
      ...['--limit', '1024', '--epochs', '1', '--seed', '3', '--batch-size', '64'],
      ...['--algorithm', 'local', '--replicas', '2', '--inner-steps', '4', '--inner-state', 'reset'],
    ];
    const baseline = rig.procs.spawn(CLI.baseline, [...common, '--run-id', uniqueRunId('base')], { name: 'baseline' });
    const keep = rig.procs.spawn(CLI.baseline, [...common.slice(0, -1), 'keep', '--run-id', uniqueRunId('keep')], {
      name: 'keep',
    });
    const two = startRun('w2', [...common, '--workers', '2']);
    const [b, k, s2] = await Promise.all([
      baseline.summary<RunSummary>(300_000),
      keep.summary<RunSummary>(300_000),
      two.summary<CoordinatorSummary>(300_000),
    ]);
    assert.equal(s2.params_sha256, b.params_sha256);
    assert.notEqual(k.params_sha256, b.params_sha256);
  });

  test('coordinator SIGKILLed mid-run, --resume: the inner states come back from the checkpoint, bit-identical', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // 4096 samples in rounds of 4 x 2 x 64 = 512: 8 rounds per epoch, 16 in all; a checkpoint every 2 rounds.
    const hyper = [
      ...['--limit', '4096', '--epochs', '2', '--seed', '11', '--batch-size', '64'],
      ...['--algorithm', 'local', '--replicas', '4', '--inner-steps', '2'],
    ];
    const reference = rig.procs
      .spawn(CLI.baseline, [...hyper, '--run-id', uniqueRunId('ref')], { name: 'reference' })
      .summary<RunSummary>(300_000);
    for (const id of ['rw1', 'rw2'])
      rig.procs.spawn(CLI.worker, ['--redis-url', rig.server.url, '--lock-ms', '5000', '--worker-id', id], {
        name: id,
      });
    const dir = join(rig.dir, 'resume-store');
    const store = new LocalStore(dir);
    const runId = uniqueRunId('resume');
    const coordinator = (name: string, args: string[]) =>
      rig.procs.spawn(
        CLI.coordinator,
        [...hyper, ...args, '--redis-url', rig.server.url, '--checkpoint-every', '2', '--metrics-port', '0'],
        { env: cliEnv({ CHECKPOINT_DIR: dir }), name },
      );
    const first = coordinator('first', ['--run-id', runId]);
    await waitUntil(
      'a checkpoint at round >= 3',
      async () => {
        if (!first.running()) throw new Error(`coordinator exited before the kill:\n${first.tail()}`);
        const latest = await readLatestStep(store, runId);
        if (latest === undefined || latest < 3) return undefined;
        first.kill('SIGKILL');
        return latest;
      },
      120_000,
      20,
    );
    assert.equal((await first.exited).signal, 'SIGKILL');
    const resumed = coordinator('resumed', ['--resume', runId]);
    const [s, ref] = await Promise.all([resumed.summary<CoordinatorSummary>(300_000), reference]);
    const from = s.distributed.resumed_from_step;
    assert.ok(from !== null && from >= 3 && from < 16, `resumed_from_step ${from}`);
    assert.equal(s.steps, 16);
    assert.equal(s.params_sha256, ref.params_sha256, 'the resumed run ended on other parameters than the baseline');
    assert.deepEqual(s.test_mse_by_epoch, ref.test_mse_by_epoch);
  });
});
