// Nothing from a job payload is ever evaluated or used as a path: hostile run ids (path traversal, shell syntax) are
// refused by the schema before anything is touched, a malformed job fails once without retry while the worker keeps
// serving, and the worker's code has no file-system, process or eval access for job data to reach.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  createRedis,
  GRADIENT_QUEUE,
  type GradientJob,
  gradientJobSchema,
  PROTOCOL_VERSION,
  QUEUE_PREFIX,
  type RedisClient,
  runKeys,
} from '@gradq/protocol';
import { CLI, cliEnv, REPO_ROOT, serviceRig, uniqueRunId, waitUntil } from '@gradq/testing';
import { Queue, UnrecoverableError } from 'bullmq';
import { GradientProcessor } from '../src/processor';

const rig = serviceRig('hostile-jobs');
let redis: RedisClient;
let queue: Queue;

before(async () => {
  await rig.ready;
  redis = createRedis({ url: rig.server.url, cluster: false });
  queue = new Queue(GRADIENT_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
  rig.onTeardown(() => redis.quit());
  rig.onTeardown(() => queue.close());
});

/** Leaf 0 of 4 of step 0: samples [0, 32) of a batch of 128. */
const VALID: GradientJob = {
  protocol: PROTOCOL_VERSION,
  runId: 'run-ok',
  session: 'deadbeef',
  step: 0,
  epoch: 0,
  first: 0,
  leaves: [[0, 32]],
  leafCount: 4,
  stepSamples: 128,
  fingerprint: '0123456789abcdef',
  attempt: 0,
};

const PWNED = `/tmp/gradq-pwned-${process.pid}`;
const HOSTILE_RUN_IDS = [
  '../../etc/passwd',
  '..',
  '.hidden',
  'a/b',
  '/abs',
  'run\\..\\x',
  `$(touch ${PWNED})`,
  `\`touch ${PWNED}\``,
  'run;rm -rf /',
  'run|cat',
  'run&&id',
  'run id',
  'run\nid',
  'run}:{other',
  '',
  'x'.repeat(65),
];

test('the job schema accepts a sane job and refuses every hostile run id and unknown field', () => {
  assert.equal(gradientJobSchema.safeParse(VALID).success, true);
  for (const runId of HOSTILE_RUN_IDS) {
    assert.equal(gradientJobSchema.safeParse({ ...VALID, runId }).success, false, JSON.stringify(runId));
    // Keys are built from run ids too: the same ids never become a key (nor a checkpoint path: same pattern).
    assert.throws(() => runKeys(runId), RangeError, JSON.stringify(runId));
  }
  for (const extra of [{ path: '/etc/passwd' }, { cmd: 'id' }, JSON.parse('{"__proto__": {"polluted": 1}}')]) {
    assert.equal(gradientJobSchema.safeParse({ ...VALID, ...extra }).success, false, JSON.stringify(extra));
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('the processor refuses hostile jobs before touching Redis or the file system', async () => {
  // An engine factory that must never be called: no hostile job gets as far as a model.
  const processor = new GradientProcessor(redis, redis, 'hostile-test', () => {
    throw new Error('a hostile job reached the engine');
  });
  // Run data lives under gradq:{<run-id>}; BullMQ's own keys ({gradq}:...) are not the processor's doing.
  const runKeysNow = () => redis.keys('gradq:*');
  const before = await runKeysNow();
  for (const runId of HOSTILE_RUN_IDS) {
    await assert.rejects(
      processor.process({ ...VALID, runId }, 'j1'),
      (err: Error) => err instanceof UnrecoverableError && /invalid gradient job j1: runId/.test(err.message),
      JSON.stringify(runId),
    );
  }
  await assert.rejects(processor.process('not an object', 'j2'), UnrecoverableError);
  await assert.rejects(processor.process({ ...VALID, leaves: [[32, 0]] }, 'j3'), /end must be greater than start/);
  // Spans past the step or out of the leaf tree: refused by the schema, not by whatever indexes with them.
  await assert.rejects(
    processor.process({ ...VALID, leaves: [[0, 2 ** 31]] }, 'j4'),
    (err: Error) => err instanceof UnrecoverableError && /stepSamples/.test(err.message),
  );
  await assert.rejects(processor.process({ ...VALID, first: 3, leafCount: 2 }, 'j5'), /not an aligned block/);
  assert.deepEqual(await runKeysNow(), before, 'a refused job wrote to Redis');
  assert.equal(existsSync(PWNED), false, 'a run id was executed by a shell');
  processor.dispose();
});

test('a malformed job on the queue fails once, without retry, and the worker keeps serving', async () => {
  const w = rig.procs.spawn(
    CLI.worker,
    ['--redis-url', rig.server.url, '--worker-id', 'hostile', '--metrics-port', '0'],
    {
      env: cliEnv(),
      name: 'worker',
    },
  );
  await w.waitForStderr(/taking gradient jobs/, 120_000);
  const id = uniqueRunId('malformed');
  // Retries allowed by the options: only UnrecoverableError keeps BullMQ from using them.
  await queue.add('gradient', { ...VALID, runId: `../${id}` }, { jobId: id, attempts: 5 });
  const job = await waitUntil(
    'the malformed job to fail',
    // The state first, then the job: read the other way round, the job's fields could predate its failure
    // (attemptsMade 0 on a job already failed: seen once in a full run).
    async () => ((await queue.getJobState(id)) === 'failed' ? await queue.getJob(id) : undefined),
    60_000,
  );
  assert.equal(job.attemptsMade, 1, 'a malformed job was retried');
  assert.match(job.failedReason, /invalid gradient job .*runId/);
  assert.ok(w.running(), `the worker died on a malformed job:\n${w.tail()}`);
  assert.match(w.stderr(), /failed: invalid gradient job/);
});

test('a job whose stored data is not JSON fails once, naming it, and the worker keeps serving', async () => {
  const w = rig.procs.spawn(
    CLI.worker,
    ['--redis-url', rig.server.url, '--worker-id', 'corrupt', '--metrics-port', '0'],
    { env: cliEnv(), name: 'worker' },
  );
  await w.waitForStderr(/taking gradient jobs/, 120_000);
  const id = uniqueRunId('corrupt');
  // Paused while the job's data is corrupted in Redis, so that no worker reads it before.
  await queue.pause();
  await queue.add('gradient', VALID, { jobId: id, attempts: 5 });
  const key = `${QUEUE_PREFIX}:${GRADIENT_QUEUE}:${id}`;
  await redis.hset(key, 'data', '{"runId": "half a job');
  await queue.resume();
  // Read raw: BullMQ's own reader (queue.getJob) cannot parse the job either.
  await waitUntil(
    'the corrupted job to fail',
    async () => (await queue.getJobState(id)) === 'failed' || undefined,
    60_000,
  );
  const [failedReason, attemptsMade] = await redis.hmget(key, 'failedReason', 'atm');
  assert.equal(attemptsMade, '1', 'a corrupted job was retried');
  assert.match(failedReason ?? '', new RegExp(`invalid gradient job ${id}: stored data is not JSON`));
  assert.ok(w.running(), `the worker died on a corrupted job:\n${w.tail()}`);
});

/** Every non-test .ts file under `dir`. */
async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

test('the worker and the protocol it speaks have no file-system, process or eval access for job data to reach', async () => {
  const files = [
    ...(await sources(join(REPO_ROOT, 'services/worker/src'))),
    ...(await sources(join(REPO_ROOT, 'packages/protocol/src'))),
  ];
  assert.ok(files.length >= 8, `too few files found: ${files.join(', ')}`);
  const forbidden: Array<[RegExp, string]> = [
    [/from ['"](node:)?fs(\/promises)?['"]/, 'file system'],
    [/from ['"](node:)?child_process['"]/, 'processes'],
    [/from ['"](node:)?(vm|worker_threads)['"]/, 'code execution'],
    [/from ['"](node:)?path['"]/, 'path building'],
    [/\beval\s*\(|new\s+Function\s*\(|\brequire\s*\(|\bimport\s*\(/, 'dynamic code'],
  ];
  const found: string[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const [pattern, what] of forbidden) {
      const m = text.match(pattern);
      if (m) found.push(`${file.slice(REPO_ROOT.length)}: ${what} (${m[0]})`);
    }
  }
  assert.deepEqual(found, []);
});
