import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peakWorkers, powersOfTwo, projectScaling, type ScalingInputs, stepTerms } from './scaling-model';

// Round numbers so the arithmetic can be checked by hand: 3 MB vectors, Redis at 600 MB/s both ways (5 ms per
// transfer), a 10 Gb/s link (1250 MB/s, not the limit), 20 ms compute per 32-sample shard.
const INPUTS: ScalingInputs = {
  paramBytes: 3e6,
  gradientBytes: 3e6,
  shardSamples: 32,
  redisSetMBps: 600,
  redisGetMBps: 600,
  linkMBps: 1250,
  computeSeconds: 0.02,
  publishSeconds: 0.006,
  optimizerSeconds: 0.003,
  averagePerGradientSeconds: 0.0005,
  dispatchPerJobSeconds: 0.0005,
};

test('one worker: every term once; 5 ms per 3 MB transfer', () => {
  const t = stepTerms(INPUTS, 1);
  assert.deepEqual(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v * 1e6) / 1e6])), {
    publish: 0.006,
    fetch: 0.005,
    dispatch: 0.0005,
    compute: 0.02,
    push: 0.005,
    read: 0.005,
    average: 0.0005,
    optimizer: 0.003,
  });
});

test('transfer terms grow with W, compute and optimizer do not; efficiency is 1 at W = 1 and falls', () => {
  const [p1, p2, p4] = projectScaling(INPUTS, [1, 2, 4]);
  assert.ok(p1 && p2 && p4);
  // W = 1: 0.045 s per step, 32 samples -> 711.1 samples/s.
  assert.ok(Math.abs(p1.stepSeconds - 0.045) < 1e-12);
  assert.ok(Math.abs(p1.samplesPerSecond - 32 / 0.045) < 1e-9);
  assert.equal(p1.efficiency, 1);
  // W = 2: fetch, push, read 10 ms each, dispatch and average 1 ms each: 0.006 + 0.01*3 + 0.001*2 + 0.02 + 0.003 = 0.061 s.
  assert.ok(Math.abs(p2.stepSeconds - 0.061) < 1e-12);
  assert.ok(Math.abs(p2.efficiency - 0.045 / 0.061) < 1e-12);
  assert.ok(p4.efficiency < p2.efficiency);
  assert.equal(p4.limit, 'fetch');
});

test('the link caps Redis when it is slower than the measured Redis', () => {
  const slow = stepTerms({ ...INPUTS, linkMBps: 125 }, 2);
  // 2 x 3 MB at 125 MB/s = 48 ms.
  assert.ok(Math.abs(slow.fetch - 0.048) < 1e-12);
});

test('the model peaks where serialized transfers outgrow the added workers', () => {
  const points = projectScaling(INPUTS, powersOfTwo(256));
  assert.deepEqual(
    points.map((p) => p.workers),
    [1, 2, 4, 8, 16, 32, 64, 128, 256],
  );
  // Throughput W*32/(a + b*W) approaches 32/b: it rises monotonically toward an asymptote, so no interior peak.
  assert.equal(peakWorkers(points), undefined);
  assert.ok((points.at(-1)?.samplesPerSecond ?? 0) < 32 / (0.005 * 3 + 0.001));
});

test('invalid sizes and bandwidths are refused', () => {
  assert.throws(() => stepTerms(INPUTS, 0), /workers must be a positive integer/);
  assert.throws(() => stepTerms({ ...INPUTS, redisGetMBps: 0 }, 1), /bandwidths must be positive/);
});
