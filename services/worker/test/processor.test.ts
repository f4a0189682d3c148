// GradientProcessor against a real Redis holding a seeded run: what a worker does with bad, stale, early and repeated
// jobs. Each bad one must end without a gradient slice being left in Redis and without a leaf being marked done,
// because an accepted gradient is what the coordinator folds into the next step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { selectEngine } from '@gradq/engine';
import { bindModel, createAutoencoder, FlatAdam, getParams, layoutOf, MNIST_PIXELS } from '@gradq/model';
import {
  type BlockRecord,
  blockResultSchema,
  closeRedis,
  createRedis,
  GRADIENT_QUEUE,
  type GradientJob,
  type GradientJobResult,
  gradientJobId,
  newSession,
  PROTOCOL_VERSION,
  QUEUE_PREFIX,
  type RedisClient,
  RunData,
} from '@gradq/protocol';
import { type RedisInstance, startRedisServer, testBackend, uniqueRunId, waitUntil } from '@gradq/testing';
import { hyperparamsSchema } from '@gradq/trainer';
import { Queue, UnrecoverableError } from 'bullmq';
import { GradientProcessor, StepNotOpenError } from '../src/processor';
import { startWorker } from '../src/worker';

// A tiny network: these tests are about the protocol, not the numbers. A step of 8 samples in K = 2 leaves of 4.
const H = hyperparamsSchema.parse({ layerSizes: [784, 16, 784], batchSize: 8, shardsPerStep: 2, limit: 64 });
const SAMPLES = 64;
const SLICES = 3;
const LEAF = [
  [0, 4],
  [4, 8],
] as const;

let server: RedisInstance;
let redis: RedisClient;
let blocking: RedisClient;
let run: RunData;
let session: string;
let fingerprint: string;
let params: Float32Array;
let processor: GradientProcessor;
let backendName: string;

/** Leaf `first` of step 0 alone, as the coordinator plans it for two jobs per step. */
function validJob(overrides: Partial<GradientJob> = {}): GradientJob {
  const first = overrides.first ?? 0;
  return {
    protocol: PROTOCOL_VERSION,
    runId: run.runId,
    session,
    step: 0,
    epoch: 0,
    first,
    leaves: [[...(LEAF[first] ?? LEAF[0])]],
    leafCount: 2,
    stepSamples: 8,
    fingerprint,
    attempt: 0,
    ...overrides,
  };
}

/** Every gradient slice of the run (of `step` when given), whatever its token: the only bytes that reach the optimizer. */
async function gradientKeys(step?: number): Promise<string[]> {
  return (await redis.keys(`gradq:{${run.runId}#*}:grad:${step ?? '*'}:*`)).sort();
}

/** The steps whose parameters workers asked for (`wanted` records on the results list). */
async function wanted(): Promise<number[]> {
  return (await redis.lrange(run.keys.results, 0, -1))
    .map((r) => blockResultSchema.parse(JSON.parse(r)))
    .flatMap((r) => (r.kind === 'wanted' ? [r.step] : []));
}

/** The block records on the results list (a worker's `wanted` requests are not about a block). */
async function records(): Promise<BlockRecord[]> {
  return (await redis.lrange(run.keys.results, 0, -1))
    .map((r) => blockResultSchema.parse(JSON.parse(r)))
    .filter((r): r is BlockRecord => r.kind !== 'wanted');
}

async function expectUnrecoverable(promise: Promise<unknown>, pattern: RegExp): Promise<UnrecoverableError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UnrecoverableError, `expected an UnrecoverableError, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  return caught;
}

/** A job's result once Redis has answered its submission (a `sent` job ends before that). */
async function processed(p: GradientProcessor, data: unknown, jobId: string): Promise<GradientJobResult> {
  const result = await p.process(data, jobId);
  if (result.status !== 'sent') return result;
  const status = await p.lastStatus();
  assert.ok(status, 'a sent job has a submission');
  return { status, count: status === 'accepted' ? result.count : 0 };
}

before(async () => {
  const backend = await selectBackend({ request: testBackend(), log: () => {} });
  backendName = backend.name;
  server = await startRedisServer();
  redis = createRedis({ url: server.url, cluster: false });
  blocking = createRedis({ url: server.url, cluster: false });
  const bound = bindModel(
    createAutoencoder({ layerSizes: H.layerSizes, outputActivation: H.outputActivation, seed: 1 }),
  );
  fingerprint = bound.layout.fingerprint;
  params = getParams(bound);
  run = new RunData(redis, uniqueRunId('proc'), bound.layout.size, SLICES);
  session = newSession();
  const pixels = new Uint8Array(SAMPLES * MNIST_PIXELS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) % 256;
  await run.seed(
    {
      protocol: PROTOCOL_VERSION,
      runId: run.runId,
      hyperparams: H,
      fingerprint,
      paramCount: bound.layout.size,
      trainCount: SAMPLES,
      sampleSize: MNIST_PIXELS,
      slices: SLICES,
    },
    pixels,
    session,
  );
  await run.publishOrder(
    0,
    Uint32Array.from({ length: SAMPLES }, (_, i) => i),
  );
  await run.publishParams(0, params, session);
  bound.model.dispose();
  processor = new GradientProcessor(redis, blocking, 'test-worker', (shape) => selectEngine(shape, backend.name));
});

after(async () => {
  processor?.dispose();
  await Promise.allSettled([blocking && closeRedis(blocking), redis && closeRedis(redis)]);
  await server?.stop();
});

describe('GradientProcessor on a seeded run', () => {
  test('a payload that fails the schema is unrecoverable, names the bad field, and writes nothing', async () => {
    const before = await gradientKeys();
    const cases: Array<[string, unknown, RegExp]> = [
      ['fingerprint not hex', { ...validJob(), fingerprint: 'not-a-fingerprint' }, /fingerprint/],
      ['step is a string', { ...validJob(), step: 'zero' }, /step/],
      ['first negative', { ...validJob(), first: -1 }, /first/],
      ['end not after start', { ...validJob(), leaves: [[4, 4]] }, /leaves\.0: end must be greater than start/],
      [
        'leaves not consecutive',
        {
          ...validJob(),
          leaves: [
            [0, 4],
            [5, 8],
          ],
        },
        /leaves\.1: leaves must be consecutive/,
      ],
      // Leaf 1 with the leaf after it: [1, 3) is no node of a 2-leaf tree.
      [
        'misaligned block',
        {
          ...validJob({ first: 1 }),
          leaves: [
            [4, 8],
            [8, 12],
          ],
          stepSamples: 12,
        },
        /first: leaves \[1, 3\) are not an aligned block of 2/,
      ],
      ['stepSamples below the block', { ...validJob(), stepSamples: 3 }, /stepSamples/],
      ['a v1 shard job', { ...validJob(), shard: 0, start: 0, end: 4 }, /shard/],
      ['unknown key', { ...validJob(), evil: true }, /evil/],
      ['runId missing', { ...validJob(), runId: undefined }, /runId/],
    ];
    for (const [what, data, field] of cases) {
      await expectUnrecoverable(processed(processor, data, `bad-${what}`), field);
    }
    assert.deepEqual(await gradientKeys(), before, 'a rejected payload wrote a gradient slice');
    assert.equal(await redis.exists(run.keys.done(0)), 0, 'a rejected payload marked a leaf done');
  });

  test('a job whose layout fingerprint differs is refused: unrecoverable, a rejected record, no gradient', async () => {
    await redis.del(run.keys.results);
    const before = await gradientKeys();
    await expectUnrecoverable(
      processed(processor, validJob({ fingerprint: '0123456789abcdef', first: 1 }), 'bad-layout'),
      /layout/,
    );
    const [record, ...more] = await records();
    assert.deepEqual(more, []);
    assert.deepEqual(
      { kind: record?.kind, step: record?.step, first: record?.first, end: record?.end },
      { kind: 'rejected', step: 0, first: 1, end: 2 },
    );
    assert.equal(record?.kind === 'rejected' && record.reason, 'layout');
    assert.equal(record?.worker, 'test-worker');
    assert.deepEqual(await gradientKeys(), before);
    assert.equal(await redis.hexists(run.keys.done(0), '1'), 0, 'a refused leaf was marked done');
  });

  test('a job of another protocol version is refused without a gradient', async () => {
    await redis.del(run.keys.results);
    await expectUnrecoverable(
      processed(processor, validJob({ protocol: PROTOCOL_VERSION + 1 }), 'bad-protocol'),
      /protocol/,
    );
    const [record] = await records();
    assert.ok(record, 'no rejected record');
    assert.equal(record.kind === 'rejected' && record.reason, 'protocol');
    assert.deepEqual(await gradientKeys(), []);
  });

  test("a job of another coordinator's session is stale, counted, and writes no gradient", async () => {
    const before = await run.stats();
    const result = await processed(processor, validJob({ session: 'ffffffffffff' }), 'other-session');
    assert.deepEqual(result, { status: 'stale', count: 0 });
    assert.deepEqual(await gradientKeys(), []);
    assert.equal((await run.stats()).stale, before.stale + 1, 'a stale job dropped before computing is counted');
  });

  test('a second run of the same block, a re-issue and an overlapping block are counted duplicates', async () => {
    await redis.del(run.keys.results);
    const statsBefore = await run.stats();
    // The job ends once its gradient has left the worker; Redis's word comes after.
    const first = await processor.process(validJob(), 'dup/0/0/0');
    assert.deepEqual(first, { status: 'sent', count: 4 });
    assert.equal(await processor.lastStatus(), 'accepted');
    const [record, ...more] = await records();
    assert.deepEqual(more, []);
    assert.ok(record?.kind === 'accepted', JSON.stringify(record));
    assert.deepEqual([record.step, record.first, record.end, record.counts], [0, 0, 1, [4]]);
    assert.ok(record.losses.length === 1 && (record.losses[0] as number) > 0, `losses ${record.losses}`);
    assert.equal(record.worker, 'test-worker');
    const keys = await gradientKeys();
    assert.equal(keys.length, SLICES);
    assert.ok(
      keys.every((k) => k.includes(`:grad:0:${record.token}:`)),
      keys.join(', '),
    );
    const read = await run.readGradient(0, record.token, 'f32');
    assert.ok('grad' in read && read.grad.some((v) => v !== 0), 'the accepted gradient is not in Redis');

    // Mark the accepted gradient: a duplicate that wrote its (identical) bytes over it would erase the mark.
    const marker = Buffer.from('accepted-first');
    await redis.set(keys[0] as string, marker);
    // The same job again (BullMQ ran it twice), a re-issued attempt of the same block, and the whole step as one
    // block (another grouping; it overlaps the accepted leaf).
    const again = await processed(processor, validJob(), 'dup/0/0/0');
    const reissued = await processed(processor, validJob({ attempt: 1 }), 'dup/0/0/1');
    const whole = await processed(processor, validJob({ leaves: [[...LEAF[0]], [...LEAF[1]]] }), 'dup/0/0-2/0');
    for (const r of [again, reissued, whole]) assert.deepEqual(r, { status: 'duplicate', count: 0 });
    assert.equal((await run.stats()).duplicates, statsBefore.duplicates + 3);
    assert.deepEqual(await redis.getBuffer(keys[0] as string), marker, 'a duplicate overwrote the gradient');
    assert.deepEqual(await gradientKeys(), keys);
    // Exactly one result reached the coordinator's list for that leaf.
    assert.equal((await records()).length, 1);
    assert.equal(await redis.hlen(run.keys.done(0)), 1);
  });

  test('a job of a step not open yet waits a moment, then is handed back: no failure, nothing written', async () => {
    const started = Date.now();
    await assert.rejects(
      processed(processor, validJob({ step: 1, first: 1 }), 'early/1/1/0'),
      (err: Error) =>
        err instanceof StepNotOpenError && err.name === 'StepNotOpenError' && /has not opened/.test(err.message),
    );
    // Held about a second (the next step usually opens within that), not the two minutes a real timeout takes.
    const held = Date.now() - started;
    assert.ok(held >= 900 && held < 10_000, `held ${held} ms`);
    assert.deepEqual(
      (await gradientKeys()).filter((k) => k.includes(':grad:1:')),
      [],
    );
    assert.equal(await redis.exists(run.keys.done(1)), 0);
  });

  test('a job of the next step runs as soon as its parameters are published; the closed step is stale', async () => {
    await redis.del(run.keys.results);
    // The coordinator closes step 0: a late job for it is stale, and leaves nothing.
    await run.closeStep(0);
    const staleBefore = (await run.stats()).stale;
    const late = await processed(processor, validJob({ first: 1 }), 'late/0/1/0');
    assert.deepEqual(late, { status: 'stale', count: 0 });
    assert.equal((await run.stats()).stale, staleBefore + 1);
    assert.equal(await redis.hexists(run.keys.done(0), '1'), 0);

    // Step 1's job is taken before its parameters exist (the coordinator queues it early) and waits for them.
    const next = processed(processor, validJob({ step: 1, first: 1 }), 'next/1/1/0');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await run.publishParams(1, params, session);
    assert.deepEqual(await next, { status: 'accepted', count: 4 });
    const [record] = await records();
    assert.ok(record?.kind === 'accepted' && record.step === 1 && record.first === 1 && record.end === 2);
    assert.equal((await gradientKeys()).filter((k) => k.includes(':grad:1:')).length, SLICES);

    // Once the run has moved on, a job of a past step is stale before it computes anything.
    const past = await processed(processor, validJob({ first: 1, attempt: 3 }), 'past/0/1/3');
    assert.deepEqual(past, { status: 'stale', count: 0 });
    assert.equal(await redis.hexists(run.keys.done(0), '1'), 0);
  });

  test('a lone worker holding a job of the next step still serves the step being collected (a re-issued block)', async () => {
    // Step 1 is open and its leaf 0 is missing (re-issued, say), but the worker's only slot takes step 2's job first,
    // as it does when the coordinator queued step 2 early. Holding it until step 2 opens would never end: step 2
    // opens only after step 1 has leaf 0.
    const queue = new Queue(GRADIENT_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
    const lines: string[] = [];
    const worker = startWorker({
      redis: { url: server.url, cluster: false },
      workerId: 'lone',
      backend: backendName,
      lockMs: 5000,
      log: (line) => lines.push(line),
    });
    try {
      const early = validJob({ step: 2, first: 0 });
      const needed = validJob({ step: 1, first: 0 });
      const earlyJob = await queue.add('gradient', early, { jobId: gradientJobId(early), attempts: 5 });
      const neededJob = await queue.add('gradient', needed, { jobId: gradientJobId(needed), attempts: 5 });
      const done = await waitUntil(
        'the step-1 job to complete',
        async () => ((await neededJob.getState()) === 'completed' ? true : undefined),
        20_000,
        50,
      );
      assert.ok(done);
      assert.equal(await redis.hexists(run.keys.done(1), '0'), 1, 'leaf 0 of step 1 was not accepted');
      // The early job was handed back, not failed: no attempt used, still to be done.
      const handedBack = await queue.getJob(earlyJob.id as string);
      assert.ok(handedBack, 'the early job vanished');
      assert.equal(handedBack.attemptsMade, 0);
      assert.notEqual(await handedBack.getState(), 'failed');
      assert.notEqual(await handedBack.getState(), 'completed');

      // Step 1 applied, step 2 published: the early job runs.
      await run.closeStep(1);
      await run.publishParams(2, params, session);
      await waitUntil(
        'the step-2 job to complete',
        async () => ((await redis.hexists(run.keys.done(2), '0')) === 1 ? true : undefined),
        20_000,
        50,
      );
      assert.deepEqual(
        lines.filter((l) => /failed/.test(l)),
        [],
      );
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});

describe('a worker computing whole steps derives the next parameters', () => {
  const whole = (step: number): GradientJob =>
    validJob({
      step,
      leaves: [
        [0, 4],
        [4, 8],
      ],
    });
  /** What the worker's engine computes for a whole step on `p`: the gradient a correct submission carries. */
  async function expectedGradient(p: Float32Array): Promise<Buffer> {
    const { engine } = await selectEngine(
      { layerSizes: H.layerSizes, outputActivation: H.outputActivation },
      backendName,
    );
    const pixels = new Uint8Array(SAMPLES * MNIST_PIXELS);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) % 256;
    engine.setTrainingSet(pixels, MNIST_PIXELS);
    const block = await engine.computeBlock({
      version: 0,
      params: p,
      order: Uint32Array.from({ length: SAMPLES }, (_, i) => i),
      leaves: LEAF.map(([start, end]) => ({ start, end })),
      stepSamples: 8,
      rounding: H.gradEncoding,
      out: new Float32Array(p.length),
    });
    const bytes = Buffer.from(
      block.grad.buffer.slice(block.grad.byteOffset, block.grad.byteOffset + block.grad.byteLength),
    );
    engine.dispose();
    return bytes;
  }
  /** The gradient the last accepted record of `step` names, as bytes. */
  async function submitted(step: number): Promise<{ bytes: Buffer; wantsState: boolean; derives: boolean }> {
    const record = (await records()).filter((r) => r.kind === 'accepted' && r.step === step).at(-1);
    assert.ok(record?.kind === 'accepted', `no accepted record of step ${step}`);
    const read = await run.readGradient(step, record.token, 'f32');
    assert.ok('grad' in read);
    return {
      bytes: Buffer.from(new Uint8Array(read.grad.buffer)),
      wantsState: record.wantsState === true,
      derives: record.derives === true,
    };
  }
  const shifted = (by: number) => params.map((x, i) => x + by * Math.sin(i));

  test('from the state the coordinator writes when asked; checked by the hash of the parameters, refetched and recomputed on a mismatch', async () => {
    const events = { derived: [] as string[], paramFetches: 0, lines: [] as string[] };
    const deriving = new GradientProcessor(
      redis,
      blocking,
      'deriving-worker',
      (shape) => selectEngine(shape, backendName),
      {
        onDerived: (r) => events.derived.push(r),
        onFetch: (_r, kind) => {
          if (kind === 'params') events.paramFetches += 1;
        },
        onLog: (line) => events.lines.push(line),
      },
    );
    try {
      await redis.del(run.keys.results);
      // Step 9: a first whole step does not ask (workers may still be taking turns).
      await run.publishParams(9, shifted(5e-4), session);
      assert.deepEqual(await processed(deriving, whole(9), 'w/9'), { status: 'accepted', count: 8 });
      assert.equal((await submitted(9)).wantsState, false);
      await run.closeStep(9);
      // Step 10: two whole steps in a row and no copy of the optimizer yet, so the result asks for one.
      const p10 = shifted(1e-3);
      await run.publishParams(10, p10, session);
      assert.deepEqual(await processed(deriving, whole(10), 'w/10'), { status: 'accepted', count: 8 });
      const g10 = await submitted(10);
      assert.equal(g10.wantsState, true, 'the second whole step in a row asks for the state');
      assert.equal(g10.derives, false, 'no copy of the optimizer: it will not derive parameters 11');
      await run.closeStep(10);

      // The coordinator writes its Adam state (5 steps in) beside parameters 11.
      const adam = new FlatAdam(layoutOf(createAutoencoder({ layerSizes: H.layerSizes, seed: 0 })), {
        learningRate: H.learningRate,
      });
      for (let i = 0; i < 5; i++)
        adam.step(
          shifted(0),
          Float32Array.from(params, (_, j) => Math.cos(i + j) * 1e-2),
        );
      const p11 = shifted(2e-3);
      await run.publishParams(11, p11, session, adam.getState());
      assert.deepEqual(await processed(deriving, whole(11), 'w/11'), { status: 'accepted', count: 8 });
      const g11 = await submitted(11);
      assert.equal(g11.wantsState, false, 'holding the state, it does not ask again');
      assert.equal(g11.derives, true, 'it will derive parameters 12: the coordinator need not write them');
      assert.ok(g11.bytes.equals(await expectedGradient(p11)));
      await run.closeStep(11);
      assert.equal(events.paramFetches, 3);

      // The coordinator applies step 11: parameters 12 are what the worker derived, and it opens step 12 without
      // writing them (deferred). Computed with at once, no fetch, nothing asked; its gradient is in Redis before the
      // step opens, and submitted once it has.
      const p12 = p11.slice();
      adam.step(p12, new Float32Array(g11.bytes.buffer, g11.bytes.byteOffset, p12.length));
      const job12 = processed(deriving, whole(12), 'w/12');
      await waitUntil('the gradient of step 12 written before its step opens', async () =>
        (await gradientKeys(12)).length === run.slices ? true : undefined,
      );
      assert.deepEqual(await records().then((r) => r.filter((x) => x.step === 12)), [], 'not submitted yet');
      await run.publishParams(12, p12, session, undefined, true);
      assert.deepEqual(await job12, { status: 'accepted', count: 8 });
      assert.deepEqual(events.derived, [run.runId], 'step 12 ran on derived parameters');
      assert.equal(events.paramFetches, 3, 'parameters 12 were not fetched');
      const g12 = await submitted(12);
      assert.ok(g12.bytes.equals(await expectedGradient(p12)), 'the derived parameters were wrong');
      assert.equal(g12.derives, true);
      assert.deepEqual(await wanted(), [], 'a deriving worker asks for no parameters');
      await run.closeStep(12);

      // Parameters 13 are not what Adam gives (a coordinator with another optimizer, say): the hash differs, so the
      // worker asks for them (the step opened deferred), fetches them once written, computes again, and derives no
      // more for this run.
      const p13 = shifted(5e-3);
      await run.publishParams(13, p13, session, undefined, true);
      const job13 = processed(deriving, whole(13), 'w/13');
      await waitUntil('the worker to ask for parameters 13', async () =>
        (await wanted()).length > 0 ? true : undefined,
      );
      assert.deepEqual(await wanted(), [13]);
      await run.writeParams(13, p13, session);
      assert.deepEqual(await job13, { status: 'accepted', count: 8 });
      assert.equal(events.derived.length, 1);
      assert.equal(events.paramFetches, 4);
      assert.match(events.lines.join('\n'), /step 13: parameters derived here differ from the coordinator's/);
      assert.ok(
        (await submitted(13)).bytes.equals(await expectedGradient(p13)),
        'the submission used wrong parameters',
      );
      assert.equal((await records()).filter((r) => r.kind === 'accepted' && r.step === 13).length, 1, 'one submission');
      assert.equal((await gradientKeys(13)).length, run.slices, 'the gradient computed on its own parameters deleted');
      await run.closeStep(13);
      const p14 = shifted(6e-3);
      await run.publishParams(14, p14, session);
      assert.deepEqual(await processed(deriving, whole(14), 'w/14'), { status: 'accepted', count: 8 });
      assert.equal((await submitted(14)).wantsState, false, 'deriving is off for this run');
      assert.equal(events.paramFetches, 5);
    } finally {
      deriving.dispose();
    }
  });
});
