// GradientProcessor against a real Redis holding a seeded run: what a worker does with bad, stale and repeated
// jobs. Each of these must end without a gradient key being written, because a gradient key is what the
// coordinator averages into the next step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { bindModel, createAutoencoder, getParams, MNIST_PIXELS } from '@gradq/model';
import { createRedis, type GradientJob, PROTOCOL_VERSION, type RedisClient, shardResultSchema } from '@gradq/protocol';
import { type RedisInstance, startRedisServer, testBackend, uniqueRunId } from '@gradq/testing';
import { hyperparamsSchema } from '@gradq/trainer';
import { UnrecoverableError } from 'bullmq';
import { RedisRun } from '../../coordinator/src/redis-run';
import { GradientProcessor } from '../src/processor';

// A tiny network: these tests are about the protocol, not the numbers.
const H = hyperparamsSchema.parse({ layerSizes: [784, 16, 784], batchSize: 8, shardsPerStep: 2, limit: 64 });
const SAMPLES = 64;

let server: RedisInstance;
let redis: RedisClient;
let run: RedisRun;
let fingerprint: string;
let processor: GradientProcessor;

function validJob(overrides: Partial<GradientJob> = {}): GradientJob {
  return {
    protocol: PROTOCOL_VERSION,
    runId: run.runId,
    session: run.session,
    step: 0,
    shard: 0,
    version: 0,
    epoch: 0,
    start: 0,
    end: 4,
    fingerprint,
    attempt: 0,
    ...overrides,
  };
}

/** Every gradient key of the run: the only keys that reach the optimizer. */
async function gradientKeys(): Promise<string[]> {
  return (await redis.keys(`gradq:{${run.runId}}:grad:*`)).sort();
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

before(async () => {
  await selectBackend({ request: testBackend(), log: () => {} });
  server = await startRedisServer();
  redis = createRedis({ url: server.url, cluster: false });
  run = new RedisRun(redis, uniqueRunId('proc'));
  const bound = bindModel(
    createAutoencoder({ layerSizes: H.layerSizes, outputActivation: H.outputActivation, seed: 1 }),
  );
  fingerprint = bound.layout.fingerprint;
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
    },
    pixels,
  );
  await run.publishOrder(
    0,
    Uint32Array.from({ length: SAMPLES }, (_, i) => i),
  );
  await run.publishParams(0, getParams(bound), 'f32');
  bound.model.dispose();
  processor = new GradientProcessor(redis, 'test-worker');
});

after(async () => {
  processor?.dispose();
  await redis?.quit().catch(() => undefined);
  await server?.stop();
});

describe('GradientProcessor on a seeded run', () => {
  test('a payload that fails the schema is unrecoverable, names the bad field, and writes nothing', async () => {
    const before = await gradientKeys();
    const cases: Array<[string, unknown, RegExp]> = [
      ['fingerprint not hex', { ...validJob(), fingerprint: 'not-a-fingerprint' }, /fingerprint/],
      ['step is a string', { ...validJob(), step: 'zero' }, /step/],
      ['shard negative', { ...validJob(), shard: -1 }, /shard/],
      ['end not after start', { ...validJob(), start: 4, end: 4 }, /end/],
      ['unknown key', { ...validJob(), evil: true }, /evil/],
      ['runId missing', { ...validJob(), runId: undefined }, /runId/],
    ];
    for (const [what, data, field] of cases) {
      await expectUnrecoverable(processor.process(data, `bad-${what}`), field);
    }
    assert.deepEqual(await gradientKeys(), before, 'a rejected payload wrote a gradient key');
  });

  test('a job whose layout fingerprint differs is refused: unrecoverable, a rejected record, no gradient', async () => {
    await redis.del(run.keys.results);
    const before = await gradientKeys();
    await expectUnrecoverable(
      processor.process(validJob({ fingerprint: '0123456789abcdef', shard: 1, start: 4, end: 8 }), 'bad-layout'),
      /layout/,
    );
    const records = (await redis.lrange(run.keys.results, 0, -1)).map((r) => shardResultSchema.parse(JSON.parse(r)));
    assert.equal(records.length, 1);
    assert.deepEqual(
      { kind: records[0]?.kind, step: records[0]?.step, shard: records[0]?.shard },
      { kind: 'rejected', step: 0, shard: 1 },
    );
    assert.equal(records[0]?.kind === 'rejected' && records[0].reason, 'layout');
    assert.deepEqual(await gradientKeys(), before);
    assert.equal(await redis.hexists(run.keys.done(0), '1'), 0, 'a refused shard was marked done');
  });

  test('a job of another protocol version is refused without a gradient', async () => {
    await redis.del(run.keys.results);
    await expectUnrecoverable(
      processor.process(validJob({ protocol: PROTOCOL_VERSION + 1 }), 'bad-protocol'),
      /protocol/,
    );
    const [record] = await redis.lrange(run.keys.results, 0, -1);
    assert.ok(record, 'no rejected record');
    const parsed = shardResultSchema.parse(JSON.parse(record));
    assert.equal(parsed.kind === 'rejected' && parsed.reason, 'protocol');
    assert.deepEqual(await gradientKeys(), []);
  });

  test('a job for a step that is not open is stale and writes nothing', async () => {
    for (const step of [1, 7]) {
      const result = await processor.process(validJob({ step, version: step }), `stale-${step}`);
      assert.equal(result.status, 'stale');
      assert.equal(result.count, 0);
    }
    assert.deepEqual(await gradientKeys(), []);
  });

  test('a second submit of the same (step, shard) is a counted duplicate that does not overwrite the first', async () => {
    await redis.del(run.keys.results);
    const statsBefore = await run.stats();
    const first = await processor.process(validJob(), 'dup/0/0/0');
    assert.equal(first.status, 'accepted');
    assert.equal(first.count, 4);
    assert.ok(Number.isFinite(first.loss) && first.loss > 0, `loss ${first.loss}`);
    assert.deepEqual(await gradientKeys(), [run.keys.grad(0, 0)]);

    // Mark the accepted gradient: a duplicate that wrote its (identical) bytes again would erase the mark.
    const marker = Buffer.from('accepted-first');
    await redis.set(run.keys.grad(0, 0), marker);
    // The same job again (BullMQ ran it twice), and a re-issued attempt of the same shard.
    const again = await processor.process(validJob(), 'dup/0/0/0');
    const reissued = await processor.process(validJob({ attempt: 1 }), 'dup/0/0/1');
    assert.equal(again.status, 'duplicate');
    assert.equal(reissued.status, 'duplicate');
    const statsAfter = await run.stats();
    assert.equal(statsAfter.duplicates, statsBefore.duplicates + 2);
    assert.deepEqual(await redis.getBuffer(run.keys.grad(0, 0)), marker, 'a duplicate overwrote the gradient');
    assert.deepEqual(await gradientKeys(), [run.keys.grad(0, 0)]);
    // Exactly one result reached the coordinator's list for that shard.
    const records = await redis.lrange(run.keys.results, 0, -1);
    assert.equal(records.length, 1, `results: ${records.join(', ')}`);
  });

  test('once the coordinator closes the step, a late job for it is stale', async () => {
    await run.closeStep(0);
    const late = await processor.process(validJob({ shard: 1, start: 4, end: 8 }), 'late/0/1/0');
    assert.equal(late.status, 'stale');
    assert.equal(await redis.exists(run.keys.grad(0, 1)), 0);
  });
});
