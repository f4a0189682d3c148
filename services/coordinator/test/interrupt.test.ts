// Ctrl-C on `pnpm start`, as a terminal sends it (SIGINT to the foreground process group): the run saves a
// checkpoint where it stands, says so once and how to resume, stops its workers, exits 130; resumed, it ends on the
// bits of a run that was never stopped (#16 items 1 and 2).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { LocalStore, readLatestStep } from '@gradq/checkpoint';
import { createRedis, GRADIENT_QUEUE, QUEUE_PREFIX, type RedisClient, runKeys } from '@gradq/protocol';
import { CLI, cliEnv, REPO_ROOT, serviceRig, stepOf, uniqueRunId, waitUntil } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import { Queue } from 'bullmq';
import type { CoordinatorSummary } from '../src/coordinator';

const rig = serviceRig('interrupt');
const TEST_TIMEOUT_MS = 420_000;
let redis: RedisClient;
let queue: Queue;

// 1,280 samples, batch 128: 10 steps per epoch (a test evaluation every 10 steps, where a Ctrl-C used to kill the
// coordinator silently), 120 in all (30 epochs took the wasm backend's baseline over 5 min on a loaded machine); no
// periodic checkpoints, so the one at the stop is the stop's own.
const HYPER = ['--limit', '1280', '--epochs', '12', '--seed', '4'];
const TOTAL_STEPS = 120;

before(async () => {
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  queue = new Queue(GRADIENT_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
  rig.onTeardown(() => redis.quit());
  rig.onTeardown(() => queue.close());
});

function start(name: string, args: string[]) {
  return rig.procs.spawn(
    CLI.start,
    [...args, '--workers', '1', '--redis-url', rig.server.url, '--metrics-port', '0', '--worker-metrics-port', '0'],
    { env: cliEnv({ CHECKPOINT_DIR: rig.dir }), name },
  );
}

test('the pnpm scripts run node itself, so that a signal reaches the command (the tsx launcher SIGKILLed it)', async () => {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  for (const name of ['start', 'coordinator', 'worker', 'baseline', 'ckpt']) {
    assert.match(pkg.scripts[name] ?? '', /^node --import tsx \S+\.ts$/, `pnpm ${name}: ${pkg.scripts[name]}`);
  }
});

test('Ctrl-C: a checkpoint where the run stands, one message saying how to resume, exit 130; resumed: same bits', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const reference = rig.procs
    .spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('interrupt-ref')], { name: 'baseline' })
    .summary<RunSummary>(300_000);
  const runId = uniqueRunId('interrupt');
  const first = start('start-1', [...HYPER, '--run-id', runId, '--checkpoint-every', '0']);
  await waitUntil(
    'step 25',
    async () => {
      if (!first.running()) throw new Error(`pnpm start exited before the Ctrl-C:\n${first.tail()}`);
      return stepOf(await redis.get(runKeys(runId).step)) >= 25 ? true : undefined;
    },
    180_000,
    20,
  );
  first.kill('SIGINT'); // to the process group, as a terminal does
  const exit = await first.exited;
  const err = first.stderr();
  assert.equal(exit.code, 130, `exit ${exit.code} ${exit.signal ?? ''}:\n${first.tail()}`);
  assert.equal(err.match(/SIGINT received/g)?.length, 1, `"SIGINT received" not printed exactly once:\n${err}`);
  assert.doesNotMatch(err, /restarting it/);
  const stopped = err.match(/stopped at step (\d+) \(epoch \d+ of 12, step \d+ of 10\); checkpoint in /);
  assert.ok(stopped, `no "stopped at step" line:\n${first.tail()}`);
  const step = Number(stopped[1]);
  assert.ok(step >= 25 && step < TOTAL_STEPS, `stopped at step ${step}`);
  assert.match(err, new RegExp(`resume with: pnpm start --resume ${runId}\\n`));
  assert.equal(
    await readLatestStep(new LocalStore(rig.dir), runId),
    step,
    'the checkpoint is not at the step the run stopped',
  );
  // The worker is not orphaned: it stopped with the run.
  await waitUntil('the worker to stop', async () => ((await queue.getWorkersCount()) === 0 ? true : undefined), 30_000);

  const second = start('start-2', ['--resume', runId]);
  const resumed = await second.summary<CoordinatorSummary>(300_000);
  // The end of a run says where the model is and how to take it.
  assert.match(
    second.stderr(),
    new RegExp(`the model: run ${runId} step ${TOTAL_STEPS} in .*; take it with pnpm ckpt download ${runId} --out DIR`),
  );
  const ref = await reference;
  assert.equal(resumed.steps, TOTAL_STEPS);
  assert.equal(resumed.distributed.resumed_from_step, step);
  assert.equal(resumed.params_sha256, ref.params_sha256, 'the stopped and resumed run ended on other bits');
  assert.deepEqual(resumed.test_mse_by_epoch, ref.test_mse_by_epoch);
});
