// A run id used again after its first coordinator died: the dead coordinator's jobs are still queued, for the same
// (step, first leaf) blocks the new one plans, but with sample spans of the old batch size. Each coordinator start has its own session (in job ids and checked by the submit
// script), so those jobs are stale for the new one, which must train on its own shards only.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { createRedis, GRADIENT_QUEUE, QUEUE_PREFIX, type RedisClient, runKeys } from '@gradq/protocol';
import { CLI, cliEnv, serviceRig, uniqueRunId, waitUntil } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import { Queue } from 'bullmq';
import type { CoordinatorSummary } from '../src/coordinator';

const rig = serviceRig('reuse');
const TEST_TIMEOUT_MS = 420_000;
let redis: RedisClient;
let queue: Queue;

const HYPER = ['--limit', '1024', '--epochs', '1', '--seed', '5'];

before(async () => {
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  queue = new Queue(GRADIENT_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
  rig.onTeardown(() => redis.quit());
  rig.onTeardown(() => queue.close());
});

test('a fresh run reusing a dead run id trains on its own shards, not the dead run’s queued jobs', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const runId = uniqueRunId('reuse');
  const env = cliEnv({ CHECKPOINT_DIR: rig.dir });
  const reference = rig.procs.spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('reuse-ref')], {
    name: 'baseline',
  });

  // The first attempt, with another batch size, dies before any worker has come: its jobs for steps 0 and 1 (one
  // per leaf) stay queued.
  const first = rig.procs.spawn(
    CLI.coordinator,
    [
      ...HYPER,
      '--batch-size',
      '64',
      '--jobs-per-step',
      '4',
      '--run-id',
      runId,
      '--redis-url',
      rig.server.url,
      '--metrics-port',
      '0',
    ],
    { env, name: 'first' },
  );
  await waitUntil(
    'the first coordinator to queue step 0',
    async () => {
      if (!first.running()) throw new Error(`first coordinator exited early:\n${first.tail()}`);
      const open = (await redis.get(runKeys(runId).step)) === '0';
      return open && (await queue.getWaitingCount()) >= 8 ? true : undefined;
    },
    120_000,
  );
  const deadSession = await redis.get(runKeys(runId).session);
  assert.ok(deadSession);
  first.kill('SIGKILL');
  await first.exited;

  const second = rig.procs.spawn(
    CLI.coordinator,
    [...HYPER, '--run-id', runId, '--redis-url', rig.server.url, '--check-after-ms', '1000', '--metrics-port', '0'],
    { env, name: 'second' },
  );
  // Only once the second coordinator has (tried to) queue its own step 0 does a worker start taking jobs.
  await second.waitForStderr(/run .*: 1 epoch/, 120_000);
  await waitUntil(
    'the second coordinator to open step 0',
    async () => ((await redis.get(runKeys(runId).step)) === '0' ? true : undefined),
    120_000,
  );
  const worker = rig.procs.spawn(CLI.worker, ['--redis-url', rig.server.url, '--worker-id', 'w1'], { name: 'w1' });

  const [s, ref] = await Promise.all([
    second.summary<CoordinatorSummary>(300_000),
    reference.summary<RunSummary>(300_000),
  ]);
  assert.equal(s.distributed.shards_applied, s.distributed.shards_planned);
  // The dead run's jobs were taken (they were first in the queue) and dropped as stale before computing anything.
  assert.match(worker.stderr(), new RegExp(`job ${runId}/${deadSession}/0/0/0: stale, dropped`), worker.tail());
  assert.equal(s.samples, ref.samples);
  assert.equal(s.params_sha256, ref.params_sha256, 'the dead run’s queued jobs changed what the new run trained on');
});

test('a long-lived worker serves a new run under a reused run id from that run’s data, not from its cache', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  // One worker serves run r with seed 7, then a new run r with seed 8 (both from scratch): the second must end on the
  // bits of a fresh seed-8 run, not on parameters, orders or data the worker cached for the first.
  const runId = uniqueRunId('reuse-cache');
  const hyper = (seed: string) => ['--limit', '512', '--epochs', '1', '--seed', seed];
  const worker = rig.procs.spawn(CLI.worker, ['--redis-url', rig.server.url, '--worker-id', 'long-lived'], {
    name: 'long-lived',
  });
  const run = (seed: string) =>
    rig.procs.spawn(
      CLI.coordinator,
      [
        ...hyper(seed),
        '--run-id',
        runId,
        '--redis-url',
        rig.server.url,
        '--metrics-port',
        '0',
        '--checkpoint-every',
        '0',
      ],
      { env: cliEnv({ CHECKPOINT_DIR: join(rig.dir, `cache-${seed}`) }), name: `seed ${seed}` },
    );
  const first = await run('7').summary<CoordinatorSummary>(300_000);
  const reference = rig.procs.spawn(CLI.baseline, [...hyper('8'), '--run-id', uniqueRunId('reuse-cache-ref')], {
    name: 'baseline seed 8',
  });
  const [second, ref] = await Promise.all([
    run('8').summary<CoordinatorSummary>(300_000),
    reference.summary<RunSummary>(300_000),
  ]);
  assert.notEqual(first.params_sha256, second.params_sha256);
  assert.equal(second.distributed.shards_applied, second.distributed.shards_planned);
  assert.equal(
    second.params_sha256,
    ref.params_sha256,
    `the worker served the new run from its cache:\n${worker.tail()}`,
  );
});
