// Jobs no worker should ever run, injected straight into the live queue: a payload that fails the schema (a
// protocol-v1 shard job) and a valid-looking job for a real block of leaves whose layout fingerprint is not the
// run's. Both must fail at once (no BullMQ retries), the refused block must be re-issued by the coordinator, and
// neither may touch the parameters.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  createRedis,
  GRADIENT_QUEUE,
  type GradientJob,
  PROTOCOL_VERSION,
  QUEUE_PREFIX,
  type RedisClient,
  runKeys,
} from '@gradq/protocol';
import { CLI, cliEnv, serviceRig, uniqueRunId, waitUntil } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import { type Job, Queue } from 'bullmq';
import type { CoordinatorSummary } from '../src/coordinator';

const rig = serviceRig('bad-jobs');
// A bound on each test, so that a hang fails here (and `after` cleans up) instead of stalling the suite.
const TEST_TIMEOUT_MS = 420_000;
let redis: RedisClient;
let queue: Queue;

// 1024 samples, batch 128 in 4 leaves of 32: 8 steps. Four jobs per step, so that a job is one leaf.
const HYPER = ['--limit', '1024', '--epochs', '1', '--seed', '5'];

before(async () => {
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  queue = new Queue(GRADIENT_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
  rig.onTeardown(() => redis.quit());
  rig.onTeardown(() => queue.close());
});

async function finished(job: Job): Promise<{ state: string; attemptsMade: number; failedReason: string }> {
  return waitUntil(
    `job ${job.id} to fail`,
    async () => {
      const state = await job.getState();
      if (state !== 'failed' && state !== 'completed') return undefined;
      const fresh = await queue.getJob(job.id as string);
      return { state, attemptsMade: fresh?.attemptsMade ?? -1, failedReason: fresh?.failedReason ?? '' };
    },
    60_000,
    100,
  );
}

test('a malformed job and a wrong-layout job fail without retry and never reach the optimizer', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const runId = uniqueRunId('badjobs');
  const reference = rig.procs.spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('badjobs-ref')], {
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
      '--check-after-ms',
      '1000',
      '--metrics-port',
      '0',
      '--jobs-per-step',
      '4',
    ],
    { env: cliEnv({ CHECKPOINT_DIR: rig.dir }), name: 'coordinator' },
  );

  // No worker yet: step 0 is open and its four jobs (and step 1's four) wait until the bad ones are in front of them.
  await waitUntil(
    'step 0 to be open with its jobs queued',
    async () => {
      if (!coordinator.running()) throw new Error(`coordinator exited early:\n${coordinator.tail()}`);
      const open = (await redis.get(runKeys(runId).step)) === '0';
      return open && (await queue.getWaitingCount()) >= 8 ? true : undefined;
    },
    120_000,
  );

  // Both with retries allowed, so that "failed after one attempt" can only mean UnrecoverableError.
  const retrying = { attempts: 5, backoff: { type: 'fixed', delay: 100 }, removeOnFail: false, lifo: true };
  const malformed = await queue.add(
    'gradient',
    { protocol: PROTOCOL_VERSION, runId, step: 0, shard: 0, fingerprint: 'not hex at all' },
    { ...retrying, jobId: 'malformed-payload' },
  );
  // Leaf 0 of step 0 is samples [0, 32) of epoch 0's order: the very block the coordinator queued, only the
  // fingerprint is wrong.
  const wrongLayout: GradientJob = {
    protocol: PROTOCOL_VERSION,
    runId,
    // The live coordinator's session, so that only the fingerprint is wrong.
    session: (await redis.get(runKeys(runId).session)) ?? '',
    step: 0,
    epoch: 0,
    first: 0,
    leaves: [[0, 32]],
    leafCount: 4,
    stepSamples: 128,
    fingerprint: '0000000000000000',
    attempt: 0,
  };
  // lifo: taken before everything else, so the refusal reaches the coordinator while leaf 0 is still missing.
  const layout = await queue.add('gradient', wrongLayout, { ...retrying, jobId: 'wrong-layout' });

  rig.procs.spawn(CLI.worker, ['--redis-url', rig.server.url, '--lock-ms', '5000', '--worker-id', 'w1'], {
    name: 'w1',
  });

  const m = await finished(malformed);
  assert.equal(m.state, 'failed');
  assert.equal(m.attemptsMade, 1, 'a malformed payload was retried');
  assert.match(m.failedReason, /fingerprint/, 'the failure does not name the bad field');
  for (const field of ['session', 'first', 'leaves', 'leafCount', 'stepSamples', 'attempt', 'shard'])
    assert.match(m.failedReason, new RegExp(field), `the failure does not name '${field}'`);

  const l = await finished(layout);
  assert.equal(l.state, 'failed');
  assert.equal(l.attemptsMade, 1, 'a wrong-layout job was retried');
  assert.match(l.failedReason, /layout/);

  const [s, ref] = await Promise.all([
    coordinator.summary<CoordinatorSummary>(300_000),
    reference.summary<RunSummary>(300_000),
  ]);
  const d = s.distributed;
  assert.equal(d.rejected.layout, 1, `rejected: ${JSON.stringify(d.rejected)}`);
  assert.ok(d.reissued >= 1, 'the refused block was not re-added');
  assert.match(coordinator.stderr(), /step 0 leaves \[0, 1\) refused by w1: .*layout 0000000000000000/);
  assert.equal(d.shards_applied, d.shards_planned, JSON.stringify(d));
  assert.equal(s.params_sha256, ref.params_sha256, 'the bad jobs changed the parameters');
  assert.deepEqual(s.test_mse_by_epoch, ref.test_mse_by_epoch);
});
