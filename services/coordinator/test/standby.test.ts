// Standby (packages/protocol/src/standby.ts): with one job per step and two workers, one worker stands by instead of
// the two taking turns; when the worker taking the jobs is SIGKILLed, the one standing by comes back and the run
// ends on the undisturbed bits, every shard applied once.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRedis, parsePlans, type RedisClient, STANDBY_KEY } from '@gradq/protocol';
import { CLI, type CliProcess, cliEnv, serviceRig, uniqueRunId } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import type { CoordinatorSummary } from '../src/coordinator';

const rig = serviceRig('standby');
const TEST_TIMEOUT_MS = 420_000;
let redis: RedisClient;

// 12,800 samples, batch 128: 100 steps per epoch, 200 in all; long enough to see the standby and kill mid-run.
const HYPER = ['--limit', '12800', '--epochs', '2', '--seed', '5'];
const TOTAL_STEPS = 200;

before(async () => {
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  rig.onTeardown(() => redis.quit());
});

function worker(id: string): CliProcess {
  return rig.procs.spawn(CLI.worker, ['--redis-url', rig.server.url, '--lock-ms', '2000', '--worker-id', id], {
    name: id,
  });
}

test('one job per step, two workers: one stands by, and comes back when the other is killed; same bits', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const runId = uniqueRunId('standby');
  const reference = rig.procs.spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('standby-ref')], {
    name: 'baseline',
  });
  const coordinator = rig.procs.spawn(
    CLI.coordinator,
    [
      ...HYPER,
      '--run-id',
      runId,
      '--redis-url',
      rig.server.url,
      '--jobs-per-step',
      '1',
      '--check-after-ms',
      '1000',
      '--metrics-port',
      '0',
    ],
    { env: cliEnv({ CHECKPOINT_DIR: rig.dir }), name: 'coordinator' },
  );
  const workers = [worker('standby-a'), worker('standby-b')];
  const standing = await Promise.any(
    workers.map((w) => w.waitForStderr(/standing by: 1 job\(s\) per step served by (\S+)/, 180_000).then(() => w)),
  );
  const serving = workers.find((w) => w !== standing) as CliProcess;
  const plan = parsePlans(await redis.hgetall(STANDBY_KEY)).get(runId);
  assert.deepEqual(plan?.workers, [serving.name], `the run's plan: ${JSON.stringify(plan)}`);
  assert.equal(plan?.jobs, 1);
  assert.ok(coordinator.running(), `the run was over before the kill:\n${coordinator.tail()}`);

  serving.kill('SIGKILL');
  await standing.waitForStderr(/back from standby/, 60_000);

  const [s, ref] = await Promise.all([
    coordinator.summary<CoordinatorSummary>(300_000),
    reference.summary<RunSummary>(300_000),
  ]);
  assert.equal(s.steps, TOTAL_STEPS);
  assert.equal(s.distributed.shards_applied, s.distributed.shards_planned, JSON.stringify(s.distributed));
  assert.equal(s.distributed.shards_planned, TOTAL_STEPS * 4);
  assert.equal(s.params_sha256, ref.params_sha256, 'the run with a standby and a kill ended on other parameters');
});
