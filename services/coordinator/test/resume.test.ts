// Checkpoints, end to end: a coordinator SIGKILLed mid-run and restarted with --resume must finish on exactly the
// bits of a run that was never interrupted, on a local directory and on S3; and a checkpoint whose weights were
// altered after upload must be skipped (with a warning naming it) in favour of the previous valid one.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  CHECKPOINT_FILES,
  checkpointFileKey,
  LocalStore,
  listCheckpoints,
  type ObjectStore,
  readLatestStep,
  S3Store,
} from '@gradq/checkpoint';
import { createRedis, type RedisClient, runKeys } from '@gradq/protocol';
import {
  CLI,
  cliEnv,
  type S3rverInstance,
  serviceRig,
  startS3rver,
  stepOf,
  uniqueRunId,
  waitUntil,
} from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import type { CoordinatorSummary } from '../src/coordinator';

const rig = serviceRig('resume');
// A bound on each test, so that a hang fails here (and `after` cleans up) instead of stalling the suite.
const TEST_TIMEOUT_MS = 420_000;
let redis: RedisClient;
let s3: S3rverInstance;
/** The undisturbed run's summary, computed once for every test here (same hyperparameters, same backend). */
let reference: Promise<RunSummary>;

// 2048 samples, batch 128: 16 steps per epoch, 32 in all; a checkpoint every 3 steps and at each epoch end.
const HYPER = ['--limit', '2048', '--epochs', '2', '--seed', '9'];
const TOTAL_STEPS = 32;

before(async () => {
  s3 = await startS3rver({ bucket: 'gradq-resume' });
  rig.onTeardown(() => s3.stop());
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  rig.onTeardown(() => redis.quit());
  reference = rig.procs
    .spawn(CLI.baseline, [...HYPER, '--run-id', uniqueRunId('resume-ref')], { name: 'baseline' })
    .summary<RunSummary>(300_000);
  // Workers outlive the coordinators: they serve the killed one and then the resumed one, untouched.
  for (const id of ['w1', 'w2']) {
    rig.procs.spawn(CLI.worker, ['--redis-url', rig.server.url, '--lock-ms', '5000', '--worker-id', id], { name: id });
  }
});

interface StoreUnderTest {
  readonly store: ObjectStore;
  /** What makes the coordinator use that store. */
  readonly env: Record<string, string>;
}

async function localStore(name: string): Promise<StoreUnderTest> {
  const path = await mkdtemp(join(rig.dir, `${name}-`));
  return { store: new LocalStore(path), env: { CHECKPOINT_DIR: path } };
}

function s3Store(): StoreUnderTest {
  const store = new S3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3.credentials,
  });
  return { store, env: s3.env };
}

function coordinator(name: string, target: StoreUnderTest, runArgs: string[]) {
  return rig.procs.spawn(
    CLI.coordinator,
    [...HYPER, ...runArgs, '--redis-url', rig.server.url, '--checkpoint-every', '3', '--metrics-port', '0'],
    { env: cliEnv(target.env), name },
  );
}

/**
 * Starts a run and SIGKILLs its coordinator once `latest` names a checkpoint at or past `minStep`; returns the run id
 * and the step Redis had open at the kill.
 */
async function runAndKill(target: StoreUnderTest, name: string, minStep: number) {
  const runId = uniqueRunId(name);
  const first = coordinator(`${name}-1`, target, ['--run-id', runId]);
  const killedAtStep = await waitUntil(
    `a checkpoint at step >= ${minStep}`,
    async () => {
      if (!first.running()) throw new Error(`coordinator exited before the kill:\n${first.tail()}`);
      // s3rver writes an object in place: read while the coordinator rewrites `latest`, it can be empty (S3's PUT
      // is atomic; the coordinator's own reads happen only after its writes). Read again then.
      const latest = await readLatestStep(target.store, runId).catch((err: Error) => {
        if (/^latest is not JSON: ''$/.test(err.message)) return undefined;
        throw err;
      });
      if (latest === undefined || latest < minStep) return undefined;
      first.kill('SIGKILL');
      return stepOf(await redis.get(runKeys(runId).step));
    },
    120_000,
    20,
  );
  const exit = await first.exited;
  assert.equal(exit.signal, 'SIGKILL', `the coordinator was not killed but exited with ${exit.code}`);
  assert.ok(killedAtStep < TOTAL_STEPS, `the run was over (step ${killedAtStep}) when the coordinator was killed`);
  return { runId, killedAtStep };
}

function assertCompletesLikeReference(s: CoordinatorSummary, ref: RunSummary): void {
  assert.equal(s.steps, TOTAL_STEPS);
  assert.equal(s.distributed.shards_applied, s.distributed.shards_planned, JSON.stringify(s.distributed));
  assert.equal(
    s.params_sha256,
    ref.params_sha256,
    'the resumed run ended on other parameters than the undisturbed one',
  );
  assert.deepEqual(s.test_mse_by_epoch, ref.test_mse_by_epoch);
}

describe('coordinator killed and resumed', () => {
  for (const kind of ['local', 's3'] as const) {
    test(`SIGKILL mid-run, --resume: bit-identical to the uninterrupted run (${kind} store)`, {
      timeout: TEST_TIMEOUT_MS,
    }, async () => {
      const target = kind === 'local' ? await localStore('kill') : s3Store();
      try {
        const { runId } = await runAndKill(target, `resume-${kind}`, 3);
        const resumed = coordinator(`${kind}-resumed`, target, ['--resume', runId]);
        const [s, ref] = await Promise.all([resumed.summary<CoordinatorSummary>(300_000), reference]);
        const from = s.distributed.resumed_from_step;
        assert.ok(from !== null && from > 0, `resumed_from_step ${from}`);
        assert.ok(from < TOTAL_STEPS);
        assert.equal(s.run_id, runId);
        assertCompletesLikeReference(s, ref);
      } finally {
        if (kind === 's3') await target.store.close();
      }
    });
  }

  test('a checkpoint whose weights were altered after upload is skipped with a warning; resume uses the one before', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const target = s3Store();
    try {
      // At least two checkpoints, so that there is a previous one to fall back to.
      const { runId } = await runAndKill(target, 'tamper', 6);
      const latest = await readLatestStep(target.store, runId);
      assert.ok(latest !== undefined);
      const complete = (await listCheckpoints(target.store, runId)).filter((c) => c.complete).map((c) => c.step);
      const previous = Math.max(...complete.filter((step) => step < latest));
      assert.ok(Number.isFinite(previous) && previous > 0, `no valid checkpoint before ${latest}: ${complete}`);

      // One flipped bit in the middle of the weights, size unchanged: only the sha256 can tell.
      const key = checkpointFileKey(runId, latest, CHECKPOINT_FILES.weights);
      const weights = new Uint8Array(await target.store.get(key));
      const at = Math.floor(weights.length / 2);
      weights[at] = (weights[at] ?? 0) ^ 0x01;
      await target.store.put(key, weights);

      const resumed = coordinator('tamper-resumed', target, ['--resume', runId]);
      const [s, ref] = await Promise.all([resumed.summary<CoordinatorSummary>(300_000), reference]);
      const warning = resumed
        .stderr()
        .split('\n')
        .find((line) => line.includes(`step ${latest}`) && line.includes(CHECKPOINT_FILES.weights));
      assert.ok(warning, `no warning naming step ${latest} and ${CHECKPOINT_FILES.weights}:\n${resumed.tail()}`);
      assert.equal(s.distributed.resumed_from_step, previous);
      assertCompletesLikeReference(s, ref);
    } finally {
      await target.store.close();
    }
  });
});

describe('what a resume takes from the checkpoint', () => {
  test('other training settings are refused naming them; a finished run says so; --epochs trains longer, same bits', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const target = await localStore('extend');
    const runId = uniqueRunId('extend');
    const run = (name: string, args: string[]) =>
      rig.procs.spawn(
        CLI.coordinator,
        [...args, '--redis-url', rig.server.url, '--checkpoint-every', '0', '--metrics-port', '0'],
        { env: cliEnv(target.env), name },
      );
    // One epoch of the reference's two.
    const first = await run('extend-1', [
      '--limit',
      '2048',
      '--epochs',
      '1',
      '--seed',
      '9',
      '--run-id',
      runId,
    ]).summary<CoordinatorSummary>(300_000);
    assert.equal(first.steps, TOTAL_STEPS / 2);

    const refused = run('extend-refused', ['--resume', runId, '--batch-size', '256', '--seed', '9']);
    const exit = await refused.exited;
    assert.equal(exit.code, 2, refused.tail());
    assert.match(refused.stderr(), /--batch-size 256: this run was trained with 128/);
    assert.match(refused.stderr(), /only --epochs may change/);
    assert.doesNotMatch(refused.stderr(), /--seed/, 'a setting equal to the checkpoint is no problem');

    const done = run('extend-done', ['--resume', runId]);
    const same = await done.summary<CoordinatorSummary>(300_000);
    assert.match(done.stderr(), /it has done its 1 epoch\(s\): nothing to train; pass --epochs N \(more than 1\)/);
    assert.equal(same.params_sha256, first.params_sha256);

    const longer = run('extend-2', ['--resume', runId, '--epochs', '2']);
    const [s, ref] = await Promise.all([longer.summary<CoordinatorSummary>(300_000), reference]);
    assert.match(longer.stderr(), /training settings from the checkpoint: 2 epoch\(s\) \(was 1\)/);
    assertCompletesLikeReference(s, ref);
  });
});
