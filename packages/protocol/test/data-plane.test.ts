// RunData on a real Redis: what the coordinator and the workers read and write, and the exactly-once decisions of
// the submit script, without BullMQ or a model. Uses REDIS_URL (default the local 127.0.0.1:6379) under a run id of
// its own, removed at the end.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { paramsHash } from '@gradq/native-kernels';
import { hyperparamsSchema } from '@gradq/trainer';
import type { Redis } from 'ioredis';
import { newSession, RunData } from '../src/data-plane';
import { RunFencedError } from '../src/fence';
import { blockResultSchema, PROTOCOL_VERSION } from '../src/jobs';
import { runKeys } from '../src/keys';
import { RunLease } from '../src/lease';
import { closeRedis, createRedis, type RedisClient, whenSent } from '../src/redis';
import { DEFAULT_REDIS_URL } from '../src/redis-options';

// Not a multiple of the slice count: the last slices are one value longer.
const PARAMS = 1003;
const SLICES = 12;
const SAMPLES = 8;
const runId = `dataplane-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const session = newSession();

let redis: RedisClient;
let blocking: RedisClient;
let data: RunData;

/** Values whose bits would show any rounding or reordering: signed zeros, subnormals, extremes. */
function vector(seed: number): Float32Array {
  const v = new Float32Array(PARAMS);
  for (let i = 0; i < PARAMS; i++) v[i] = Math.sin(seed * 1000 + i) * 10 ** ((i % 70) - 35);
  v.set([-0, 1e-45, -3.4028234663852886e38, Number.MIN_VALUE], 0);
  return v;
}

const bytesOf = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** The keys of the run's gradient slices, all tokens. */
async function gradientKeys(): Promise<string[]> {
  return (await redis.keys(`gradq:{${runId}#*}:grad:*`)).sort();
}

function record(token: string, first: number, end: number): string {
  return JSON.stringify({
    kind: 'accepted',
    step: 0,
    first,
    end,
    token,
    losses: [],
    counts: [],
    computeSeconds: 0,
    worker: 'test',
  });
}

before(async () => {
  const url = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  redis = createRedis({ url, cluster: false });
  blocking = createRedis({ url, cluster: false });
  data = new RunData(redis, runId, PARAMS, SLICES);
  const meta = {
    protocol: PROTOCOL_VERSION,
    runId,
    hyperparams: hyperparamsSchema.parse({ layerSizes: [784, 16, 784], batchSize: 8, shardsPerStep: 4 }),
    fingerprint: '0123456789abcdef',
    paramCount: PARAMS,
    trainCount: SAMPLES,
    sampleSize: 784,
    slices: SLICES,
  };
  const train = Uint8Array.from({ length: SAMPLES * 784 }, (_, i) => (i * 7) % 256);
  assert.deepEqual(await data.seed(meta, train, session), { uploadedBytes: train.byteLength });
  // The same bytes again (a restarted coordinator): not uploaded twice.
  assert.deepEqual(await data.seed(meta, train, session), { uploadedBytes: 0 });
});

after(async () => {
  await data?.remove();
  const left = redis
    ? [...(await redis.keys(`gradq:{${runId}}:*`)), ...(await redis.keys(`gradq:{${runId}#*}:*`))]
    : [];
  await Promise.allSettled([closeRedis(blocking), closeRedis(redis)]);
  assert.deepEqual(left, [], 'remove() left keys of the run behind');
});

describe('RunData on a real Redis', () => {
  test('the run reads back: meta, training bytes, epoch order', async () => {
    const meta = await RunData.readMeta(redis, runId);
    assert.equal(meta?.slices, SLICES);
    assert.equal(meta?.paramCount, PARAMS);
    assert.equal(await data.present(), true);
    assert.equal((await data.readTrain(SAMPLES * 784)).byteLength, SAMPLES * 784);
    await assert.rejects(data.readTrain(SAMPLES * 784 + 1), /expected 6273/);
    const order = Uint32Array.from([5, 3, 0, 7, 1, 2, 6, 4]);
    await data.publishOrder(0, order);
    assert.deepEqual(await data.readOrder(0), order);
    await assert.rejects(data.readOrder(1), /no sample order for epoch 1/);
  });

  test('publishParams -> readParams round-trips every bit, in slices, and opens the step', async () => {
    assert.equal(await data.stepState(), undefined, 'a step is open before any was published');
    const params = vector(1);
    assert.equal(await data.publishParams(0, params, session), PARAMS * 4);
    const read = await data.readParams(0, session);
    assert.ok(read);
    assert.equal(read.bytes, PARAMS * 4);
    assert.ok(bytesOf(read.params).equals(bytesOf(params)), 'parameters changed on the way');
    // One key per slice, each under its own tag.
    assert.equal((await redis.keys(`gradq:{${runId}#*}:params:${session}:0:*`)).length, SLICES);
    assert.deepEqual(await data.stepState(), { step: 0, open: true, session });
    assert.equal(await data.readParams(1, session), undefined, 'a version never published');
  });

  test('a submitted gradient is accepted once; an overlapping block after it is a duplicate and leaves no bytes', async () => {
    const grad = vector(2);
    const first = await data.submitGradient({ step: 0, session, first: 0, end: 2 }, bytesOf(grad), 'f32', (t) =>
      record(t, 0, 2),
    );
    assert.equal(first.status, 'accepted');
    assert.equal((await gradientKeys()).length, SLICES);
    const read = await data.readGradient(0, first.token, 'f32');
    assert.ok('grad' in read, JSON.stringify(read));
    assert.ok(bytesOf(read.grad).equals(bytesOf(grad)), 'the gradient changed on the way');
    assert.equal(await data.anyLeafDone(0, 0, 1), true);
    assert.equal(await data.anyLeafDone(0, 2, 4), false);

    // The same block again (BullMQ ran it twice), a block inside it, a block around it: all duplicates.
    for (const [f, e] of [
      [0, 2],
      [1, 2],
      [0, 4],
    ] as const) {
      const dup = await data.submitGradient({ step: 0, session, first: f, end: e }, bytesOf(vector(9)), 'f32', (t) =>
        record(t, f, e),
      );
      assert.equal(dup.status, 'duplicate', `[${f}, ${e})`);
    }
    assert.equal((await gradientKeys()).length, SLICES, "a duplicate's slices were left behind");
    const again = await data.readGradient(0, first.token, 'f32');
    assert.ok('grad' in again && bytesOf(again.grad).equals(bytesOf(grad)), 'a duplicate overwrote the winner');
    assert.deepEqual(await data.stats(), { duplicates: 3, stale: 0 });
    // Exactly one record reached the coordinator.
    const records = await redis.lrange(data.keys.results, 0, -1);
    assert.equal(records.length, 1);
    assert.equal(JSON.parse(records[0] as string).token, first.token);

    // The rest of the step is still free.
    const rest = await data.submitGradient({ step: 0, session, first: 2, end: 4 }, bytesOf(grad), 'f32', (t) =>
      record(t, 2, 4),
    );
    assert.equal(rest.status, 'accepted');
    await data.dropStep(0, session, [first.token, rest.token]);
    assert.deepEqual(await gradientKeys(), []);
    assert.equal(await redis.exists(data.keys.done(0)), 0);
    await redis.del(data.keys.results);
  });

  test('a gradient the coordinator refused is forgotten: its recomputation is accepted', async () => {
    const bad = await data.submitGradient({ step: 0, session, first: 4, end: 5 }, bytesOf(vector(3)), 'f32', (t) =>
      record(t, 4, 5),
    );
    assert.equal(bad.status, 'accepted');
    await data.forgetBlock(0, 4, 5, bad.token);
    assert.deepEqual(await gradientKeys(), []);
    const redo = await data.submitGradient({ step: 0, session, first: 4, end: 5 }, bytesOf(vector(3)), 'f32', (t) =>
      record(t, 4, 5),
    );
    assert.equal(redo.status, 'accepted');
    await data.dropStep(0, session, [redo.token]);
    await redis.del(data.keys.results);
  });

  test('a slice of the wrong length is reported, not decoded; a missing one is reported as missing', async () => {
    const ok = await data.submitGradient({ step: 0, session, first: 5, end: 6 }, bytesOf(vector(4)), 'f32', (t) =>
      record(t, 5, 6),
    );
    await redis.set(data.keys.grad(0, ok.token, 3), Buffer.alloc(12));
    assert.match(JSON.stringify(await data.readGradient(0, ok.token, 'f32')), /slice 3 has 12 bytes, expected \d+/);
    await redis.del(data.keys.grad(0, ok.token, 3));
    assert.deepEqual(await data.readGradient(0, ok.token, 'f32'), { missing: true });
    await assert.rejects(
      data.submitGradient({ step: 0, session, first: 6, end: 7 }, Buffer.alloc(12), 'f32', (t) => record(t, 6, 7)),
      RangeError,
    );
    await data.dropStep(0, session, [ok.token]);
    await redis.del(data.keys.results);
  });

  test('a submission to a closed step, another step or another session is stale and leaves no bytes', async () => {
    const stale = async (block: { step: number; session: string; first: number; end: number }) =>
      (await data.submitGradient(block, bytesOf(vector(5)), 'f32', (t) => record(t, block.first, block.end))).status;
    assert.equal(await stale({ step: 1, session, first: 0, end: 1 }), 'stale', 'a step not open yet');
    assert.equal(await stale({ step: 0, session: 'ffffffffffff', first: 0, end: 1 }), 'stale', 'another session');
    await data.closeStep(0);
    assert.deepEqual(await data.stepState(), { step: 0, open: false, session });
    assert.equal(await stale({ step: 0, session, first: 7, end: 8 }), 'stale', 'a closed step');
    assert.deepEqual(await gradientKeys(), []);
    assert.equal((await data.stats()).stale, 3);
    assert.equal(await redis.llen(data.keys.results), 0);
  });

  test('waitForStep wakes when the step is published, not at its timeout', async () => {
    // Published about 1.3 s into the wait: past the first 1 s XREAD, so a waiter that only polled would see it at
    // its next poll, hundreds of milliseconds later.
    const started = Date.now();
    const waiting = data.waitForStep(blocking, 1, session, 10_000).then((r) => ({ r, at: Date.now() }));
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const publishedAt = Date.now();
    await data.publishParams(1, vector(6), session);
    const { r, at } = await waiting;
    assert.deepEqual(r, { hash: paramsHash(vector(6)) }, "the opening names its parameters' hash");
    assert.ok(publishedAt - started >= 1200, 'published too early to tell a wake from a poll');
    assert.ok(at - publishedAt < 500, `returned ${at - publishedAt} ms after the publish`);
    // Already open: at once.
    assert.deepEqual(await data.waitForStep(blocking, 1, session, 10_000), { hash: paramsHash(vector(6)) });
  });

  test('the step opens first; a waiter hears of each quarter of the slices once Redis holds it, and returns with the last', async () => {
    const fetch = data.fetchParams(2, session);
    const heard: number[] = [];
    // Step 2 stays open for the tests below.
    const waiting = data.waitForStep(blocking, 2, session, 10_000, (n) => {
      heard.push(n);
      fetch.ready(n);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const params = vector(2);
    await data.publishParams(2, params, session);
    assert.equal(typeof (await waiting), 'object', 'open');
    assert.deepEqual(heard, [3, 6, 9, 12]);
    const read = await fetch.done();
    assert.ok(read && bytesOf(read.params).equals(bytesOf(params)), 'parameters changed on the way');
    const announced = (await redis.xrange(data.keys.versions, '-', '+'))
      .map(([, fields]) => fields)
      .filter((fields) => fields[1] === '2');
    assert.deepEqual(
      announced.map((fields) => fields.slice(4)),
      [
        ['hash', paramsHash(params)],
        ['ready', '3'],
        ['ready', '6'],
        ['ready', '9'],
        ['ready', '12'],
      ],
      'the opening, then four progress entries',
    );
  });

  test("the optimizer's state goes beside the parameters when given, is named by the opening, and goes with the step", async () => {
    const state = { iterations: 41, firstMoment: vector(8), secondMoment: vector(9) };
    const params = vector(10);
    await data.publishParams(3, params, session, state);
    const opening = await data.waitForStep(blocking, 3, session, 10_000);
    assert.ok(typeof opening === 'object' && opening.state, 'the opening names the state');
    assert.equal(opening.hash, paramsHash(params));
    assert.equal(opening.state.iterations, 41);
    const into = { firstMoment: new Float32Array(PARAMS), secondMoment: new Float32Array(PARAMS) };
    assert.equal(await data.readState(3, opening.state.token, into), true);
    assert.ok(bytesOf(into.firstMoment).equals(bytesOf(state.firstMoment)), 'first moment changed on the way');
    assert.ok(bytesOf(into.secondMoment).equals(bytesOf(state.secondMoment)), 'second moment changed on the way');
    await data.dropStep(3, session, []);
    assert.equal(await data.readState(3, opening.state.token, into), false, 'dropped with its step');
    assert.deepEqual(await redis.keys(`gradq:{${runId}#*}:moments:*`), []); // Step 2 open again, for the tests below.
    await data.publishParams(2, vector(2), session);
  });

  test('a step whose publish stopped part-way is open to derived parameters only: a fetching waiter times out', async () => {
    // A coordinator that died while writing step 4: opened, its first quarter announced, no more.
    await redis.xadd(data.keys.versions, '*', 'step', '4', 'session', session, 'hash', '0123456789abcdef');
    await redis.xadd(data.keys.versions, '*', 'step', '4', 'session', session, 'ready', '3');
    const heard: number[] = [];
    assert.equal(await data.waitForStep(blocking, 4, session, 300, (n) => heard.push(n)), 'timeout');
    assert.deepEqual(heard, [3]);
    assert.deepEqual(await data.waitForStep(blocking, 4, session, 300, undefined, false), { hash: '0123456789abcdef' });
  });

  test('a step opened deferred holds no parameters; a fetching waiter asks once (wanted) and returns when they are written', async () => {
    await redis.del(data.keys.results);
    const params = vector(11);
    assert.equal(await data.publishParams(6, params, session, undefined, true), 0, 'nothing but the opening written');
    const hash = paramsHash(params);
    // A worker that derived them needs only the opening.
    assert.deepEqual(await data.waitForStep(blocking, 6, session, 10_000, undefined, false), { hash, deferred: true });
    assert.equal(await data.readParams(6, session), undefined);
    assert.equal(await redis.llen(data.keys.results), 0, 'a deriving worker asks for nothing');
    const fetch = data.fetchParams(6, session);
    const waiting = data.waitForStep(blocking, 6, session, 10_000, (n) => fetch.ready(n));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      (await redis.lrange(data.keys.results, 0, -1)).map((r) => blockResultSchema.parse(JSON.parse(r))),
      [{ kind: 'wanted', step: 6 }],
    );
    assert.equal(await data.writeParams(6, params, session), 4 * PARAMS);
    assert.deepEqual(await waiting, { hash, deferred: true });
    const read = await fetch.done();
    assert.ok(read && bytesOf(read.params).equals(bytesOf(params)), 'parameters changed on the way');
    assert.equal(await redis.llen(data.keys.results), 1, 'asked once');
    await redis.del(data.keys.results);
    // Step 2 open again, for the tests below.
    await data.publishParams(2, vector(2), session);
  });

  test("whenSent resolves once a command's bytes have all left the process (16 MB, within its time limit)", async () => {
    const client = redis as Redis;
    const key = `${data.keys.step}:sent-probe`;
    const written = client.set(key, Buffer.alloc(16 * 1024 * 1024, 7));
    const started = Date.now();
    await whenSent(client);
    assert.equal(client.stream.writableLength, 0, 'bytes still queued in the process');
    assert.ok(Date.now() - started < 2000, 'resolved by its time limit, not by the bytes leaving');
    assert.equal(await written, 'OK');
    assert.equal(await redis.strlen(key), 16 * 1024 * 1024);
    await redis.del(key);
  });

  test("with the owner's lease as fence, steering writes are made only while the lease names this coordinator", async () => {
    const fence = {
      ownerKey: data.keys.owner,
      releasedKey: `${data.keys.owner}:released`,
      token: `${session} here pid 1`,
      ttlMs: 5000,
    };
    const fenced = new RunData(redis, runId, PARAMS, SLICES);
    fenced.fenceWith(fence);
    await redis.hset(data.keys.done(7), '0', 'x', '1', 'y');
    // Another coordinator took the run over: refused, naming it, and nothing changed.
    await redis.set(data.keys.owner, 'ffffffffffff there pid 2', 'PX', 5000);
    await assert.rejects(
      fenced.forgetBlock(7, 0, 1, 'token'),
      (err: Error) => err instanceof RunFencedError && /session ffffffffffff there pid 2/.test(err.message),
    );
    assert.deepEqual(await redis.hkeys(data.keys.done(7)), ['0', '1']);
    // Ours: made.
    await redis.set(data.keys.owner, fence.token, 'PX', 5000);
    await fenced.forgetBlock(7, 0, 1, 'token');
    assert.deepEqual(await redis.hkeys(data.keys.done(7)), ['1']);
    // Gone with a Redis that restarted empty: taken back first, as a renewal would.
    await redis.del(data.keys.owner);
    await fenced.forgetBlock(7, 1, 2, 'token');
    assert.equal(await redis.exists(data.keys.done(7)), 0);
    assert.equal(await redis.get(data.keys.owner), fence.token);
    // Gone because a successor finished, removed the run and released it: not taken back (a coordinator frozen past
    // its lease and thawed then would train the finished run again).
    await redis.del(data.keys.owner);
    await redis.set(fence.releasedKey, 'ffffffffffff there pid 2', 'PX', 5000);
    await redis.hset(data.keys.done(8), '0', 'x');
    await assert.rejects(
      fenced.forgetBlock(8, 0, 1, 'token'),
      (err: Error) => err instanceof RunFencedError && /session ffffffffffff there pid 2/.test(err.message),
    );
    assert.equal(await redis.exists(data.keys.owner), 0);
    assert.deepEqual(await redis.hkeys(data.keys.done(8)), ['0']);
    await redis.del(fence.releasedKey, data.keys.done(8));
  });

  test('a lease released by a successor is not renewed by a thawed owner; acquiring clears the release', async () => {
    const id = `${runId}-lease`;
    const released = `${runKeys(id).owner}:released`;
    const a = new RunLease(redis, id, 'aaaaaaaaaaaa', { ttlMs: 2000, renewMs: 50 });
    let lost: string | undefined;
    await a.acquire((owner) => {
      lost = owner;
    });
    // While A was frozen past its lease, B took the run over, finished it (removing its keys) and released it.
    await redis.del(runKeys(id).owner);
    await redis.set(released, 'bbbbbbbbbbbb there pid 2', 'PX', 5000);
    const t = Date.now();
    while (lost === undefined && Date.now() - t < 3000) await new Promise((r) => setTimeout(r, 20));
    assert.match(lost ?? 'still renewing', /^bbbbbbbbbbbb there pid 2, which has since released it$/);
    assert.equal(await redis.exists(runKeys(id).owner), 0, 'the thawed owner took the lease back');
    // Its release neither takes the lease nor claims the release.
    await a.release();
    assert.equal(await redis.get(released), 'bbbbbbbbbbbb there pid 2');
    // A new owner (a resume, or a new run under the id) clears the release.
    const c = new RunLease(redis, id, 'cccccccccccc', { ttlMs: 2000, renewMs: 50 });
    await c.acquire(() => {});
    assert.equal(await redis.exists(released), 0, 'a new owner clears the release');
    await c.release();
    assert.match((await redis.get(released)) ?? '', /^cccccccccccc /);
    await redis.del(released);
  });

  test("waitForStep is 'stale' for a past step or another session, 'timeout' for a step that never opens", async () => {
    let t = Date.now();
    assert.equal(await data.waitForStep(blocking, 0, session, 10_000), 'stale');
    assert.equal(await data.waitForStep(blocking, 1, 'ffffffffffff', 10_000), 'stale');
    assert.equal(await data.waitForStep(blocking, 2, 'ffffffffffff', 10_000), 'stale');
    assert.ok(Date.now() - t < 1000, `'stale' took ${Date.now() - t} ms`);
    t = Date.now();
    assert.equal(await data.waitForStep(blocking, 5, session, 300), 'timeout');
    assert.ok(Date.now() - t >= 250, `'timeout' after ${Date.now() - t} ms`);
  });

  test('resetSteps forgets every step in flight but keeps the run', async () => {
    const g = await data.submitGradient({ step: 2, session, first: 0, end: 1 }, bytesOf(vector(7)), 'f32', (t) =>
      record(t, 0, 1),
    );
    assert.equal(g.status, 'accepted');
    await data.resetSteps();
    assert.equal(await data.stepState(), undefined);
    assert.deepEqual(await gradientKeys(), []);
    assert.equal(await data.readParams(2, session), undefined);
    assert.equal(await redis.exists(data.keys.done(2), data.keys.results, data.keys.versions), 0);
    assert.equal(await data.present(), true);
  });
});
