// One coordinator per run (packages/protocol/src/lease.ts): a second coordinator on a live run's id waits for the
// owner's lease, then refuses naming it (exit 2), and the owner finishes on the undisturbed bits. Two coordinators
// on one run id used to deadlock each other silently (#17 item 2). A killed owner's lease lapses: the resume tests
// restart a SIGKILLed coordinator at once and it takes the run over.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRedis, type RedisClient, runKeys } from '@gradq/protocol';
import { CLI, cliEnv, serviceRig, stepOf, testBackend, uniqueRunId, waitUntil } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import type { CoordinatorSummary } from '../src/coordinator';

const rig = serviceRig('owner');
let redis: RedisClient;

// 12,800 samples, batch 128, 6 epochs: 600 steps. The run's only worker stops once the second coordinator is
// started, so that the owner cannot finish during the second's wait (12 s) however fast the steps are (a native run
// of 600 steps once finished inside it, and the second then trained the run after it); a new worker finishes it. The
// wasm backend (no native addon) is 20-100x slower: a fifth of the samples, where all of them took its baseline past
// 5 minutes on a loaded machine.
const LIMIT = testBackend() === 'wasm' ? '2560' : '12800';
const HYPER = ['--limit', LIMIT, '--epochs', '6', '--seed', '6'];

before(async () => {
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  rig.onTeardown(() => redis.quit());
});

test('a second coordinator on a live run waits for its lease, then refuses naming the owner; the owner finishes', {
  timeout: 420_000,
}, async () => {
  const runId = uniqueRunId('owner');
  const coordinator = (name: string) =>
    rig.procs.spawn(
      CLI.coordinator,
      [...HYPER, '--run-id', runId, '--redis-url', rig.server.url, '--metrics-port', '0', '--checkpoint-every', '0'],
      { env: cliEnv({ CHECKPOINT_DIR: rig.dir }), name },
    );
  const reference = rig.procs
    .spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('owner-ref')], { name: 'baseline' })
    .summary<RunSummary>(300_000);
  const owner = coordinator('owner');
  const worker = (id: string) =>
    rig.procs.spawn(CLI.worker, ['--redis-url', rig.server.url, '--worker-id', id], { name: id });
  const first = worker('owner-w1');
  await waitUntil(
    'step 3',
    async () => {
      if (!owner.running()) throw new Error(`the owner exited early:\n${owner.tail()}`);
      return stepOf(await redis.get(runKeys(runId).step)) >= 3 ? true : undefined;
    },
    180_000,
    20,
  );
  await first.stop();
  const stoppedAt = stepOf(await redis.get(runKeys(runId).step));
  const second = coordinator('second');
  const exit = await second.exited;
  assert.equal(exit.code, 2, second.tail());
  assert.match(second.stderr(), /is owned by coordinator session \S+ .*waiting up to 12 s/);
  assert.match(second.stderr(), new RegExp(`run ${runId} is being trained by another coordinator \\(session `));
  assert.ok(owner.running(), `the owner stopped before the second gave up:\n${owner.tail()}`);
  assert.ok(stepOf(await redis.get(runKeys(runId).step)) <= stoppedAt + 1, 'the run went on without a worker');
  worker('owner-w2');

  const [s, ref] = await Promise.all([owner.summary<CoordinatorSummary>(300_000), reference]);
  assert.equal(s.distributed.shards_applied, s.distributed.shards_planned, JSON.stringify(s.distributed));
  assert.equal(s.params_sha256, ref.params_sha256, 'the owner ended on other bits');
  assert.equal(await redis.exists(runKeys(runId).owner), 0, 'the lease outlived the run');
});
