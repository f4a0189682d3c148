// A worker SIGKILLed with a job in hand: BullMQ is at-least-once, so its job comes back (stalled lock) and is run
// elsewhere; the coordinator must still apply every (step, shard) exactly once and end on the undisturbed bits.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRedis, GRADIENT_QUEUE, QUEUE_PREFIX, type RedisClient, runKeys } from '@gradq/protocol';
import { CLI, cliEnv, serviceRig, stepOf, uniqueRunId, waitUntil } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import { Queue } from 'bullmq';
import type { CoordinatorSummary } from '../src/coordinator';

const rig = serviceRig('worker-kill');
// A bound on each test, so that a hang fails here (and `after` cleans up) instead of stalling the suite.
const TEST_TIMEOUT_MS = 420_000;
let redis: RedisClient;
let queue: Queue;

// 2048 samples, batch 128: 16 steps per epoch, 32 in all.
const HYPER = ['--limit', '2048', '--epochs', '2', '--seed', '3'];
const TOTAL_STEPS = 32;

before(async () => {
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  queue = new Queue(GRADIENT_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
  rig.onTeardown(() => redis.quit());
  rig.onTeardown(() => queue.close());
});

function worker(id: string) {
  // A short lock, so that the killed worker's job is declared stalled and retried within seconds.
  return rig.procs.spawn(CLI.worker, ['--redis-url', rig.server.url, '--lock-ms', '2000', '--worker-id', id], {
    name: id,
  });
}

test('a worker SIGKILLed mid-job: the run completes, every shard applied once, same bits as undisturbed', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const runId = uniqueRunId('wkill');
  const reference = rig.procs.spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('wkill-ref')], {
    name: 'baseline',
  });
  const coordinator = rig.procs.spawn(
    CLI.coordinator,
    [...HYPER, '--run-id', runId, '--redis-url', rig.server.url, '--check-after-ms', '1000', '--metrics-port', '0'],
    { env: cliEnv({ CHECKPOINT_DIR: rig.dir }), name: 'coordinator' },
  );
  // The victim works alone at first, so that any active job is the victim's.
  const victim = worker('victim');
  const stepKey = runKeys(runId).step;
  // A shard job takes milliseconds, so "active, then kill" would race the job's completion. Freeze the victim
  // first: if a job is active while it is stopped, the victim holds it, and SIGKILL takes it down mid-job.
  const killedAt = await waitUntil(
    'the victim to hold a job after step 3',
    async () => {
      if (!coordinator.running()) throw new Error(`coordinator exited early:\n${coordinator.tail()}`);
      const step = stepOf(await redis.get(stepKey));
      if (step < 3) return undefined;
      victim.kill('SIGSTOP');
      if ((await queue.getActiveCount()) < 1) {
        victim.kill('SIGCONT');
        return undefined;
      }
      victim.kill('SIGKILL');
      return step;
    },
    120_000,
    20,
  );
  const killed = await victim.exited;
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(killedAt < TOTAL_STEPS, `the run was over (step ${killedAt}) when the worker was killed`);
  assert.ok((await queue.getActiveCount()) >= 1, 'the job the victim held is no longer active');

  // A replacement and one more; neither is told anything about the victim.
  worker('replacement-1');
  worker('replacement-2');

  const [s, ref] = await Promise.all([
    coordinator.summary<CoordinatorSummary>(300_000),
    reference.summary<RunSummary>(300_000),
  ]);
  assert.equal(s.steps, TOTAL_STEPS);
  assert.equal(
    s.distributed.shards_applied,
    s.distributed.shards_planned,
    `applied ${s.distributed.shards_applied} of ${s.distributed.shards_planned}: ${JSON.stringify(s.distributed)}`,
  );
  assert.equal(s.distributed.shards_planned, TOTAL_STEPS * 4);
  assert.ok(s.distributed.workers_seen >= 2, `workers_seen ${s.distributed.workers_seen}`);
  assert.equal(
    s.params_sha256,
    ref.params_sha256,
    'the disturbed run ended on other parameters than the undisturbed one',
  );
  assert.deepEqual(s.test_mse_by_epoch, ref.test_mse_by_epoch);
});
