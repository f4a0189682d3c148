import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundSamplesPerS, bytesPerStep, runShape, saturation, scalingPoint, withEfficiency } from './scaling-math';
import { point } from './test-support';

const near = (a: number | undefined, b: number, eps = 1e-9) =>
  assert.ok(a !== undefined && Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('runShape: one epoch of just enough whole batches when the training set holds them', () => {
  // 5 + 30 = 35 steps of 128: 4,480 samples.
  assert.deepEqual(runShape(60_000, 128, 5, 30), { limit: 4480, epochs: 1, stepsPerEpoch: 35, totalSteps: 35 });
});

test('runShape: large batches take several epochs of the largest whole number of batches', () => {
  // 16 x 1,024 = 16,384 per step: 3 whole batches in 60,000 (49,152 samples); 35 steps need 12 epochs (36 steps).
  assert.deepEqual(runShape(60_000, 16_384, 5, 30), { limit: 49_152, epochs: 12, stepsPerEpoch: 3, totalSteps: 36 });
  // 2 x 1,024: 29 whole batches; 35 steps take 2 epochs (58 steps).
  assert.deepEqual(runShape(60_000, 2048, 5, 30), { limit: 59_392, epochs: 2, stepsPerEpoch: 29, totalSteps: 58 });
  // Exactly one batch per epoch.
  assert.deepEqual(runShape(1000, 1000, 1, 2), { limit: 1000, epochs: 3, stepsPerEpoch: 1, totalSteps: 3 });
});

test('runShape: a batch larger than the training set is an error that names both', () => {
  assert.throws(() => runShape(60_000, 65_536, 5, 30), /65536 samples does not fit the 60000/);
  assert.throws(() => runShape(60_000, 0, 5, 30), RangeError);
});

test('bytesPerStep and the bound: (1 + 3W) x P at the raw bandwidth, plus one block of compute', () => {
  // One job: its worker derives the next parameters, so none are written or fetched.
  assert.equal(bytesPerStep(1, 3_000_000), 6_000_000);
  assert.equal(bytesPerStep(2, 3_000_000), 21_000_000);
  assert.equal(bytesPerStep(16, 3_000_000), 147_000_000);
  // 512 samples, 39 MB at 780 MB/s = 50 ms, + 14 ms of compute = 64 ms: 8,000 samples/s.
  near(boundSamplesPerS({ samplesPerStep: 512, bytesPerStep: 39e6, rawMBps: 780, computeSeconds: 0.014 }), 8000);
  // Instant workers: all transfer.
  near(boundSamplesPerS({ samplesPerStep: 128, bytesPerStep: 12e6, rawMBps: 600, computeSeconds: 0 }), 6400);
});

test('scalingPoint: median of the steps after warm-up, the serial gaps that precede them, and the bound', () => {
  // W = 2, 128 samples each, 0.05 ms/sample (6.4 ms a block), P = 3 MB: 21 MB per step; raw 700 MB/s -> 30 ms.
  const p = scalingPoint({
    workers: 2,
    samplesPerWorker: 128,
    msPerSample: 0.05,
    paramBytes: 3_000_000,
    raw: { mb_per_s: 700, seconds_per_vector: 3e6 / 700e6, bytes: 3_000_000 },
    // Two warm-up steps (slow), then 40, 50, 60 ms: median 50 ms.
    stepSeconds: [1, 0.5, 0.04, 0.06, 0.05],
    // Entry i is the gap before step i + 1: the measured steps 2..4 follow entries 1..3 -> 2, 3, 4 ms.
    serialMs: [100, 2, 3, 4],
    warmup: 2,
    shape: { limit: 1280, epochs: 1, stepsPerEpoch: 5, totalSteps: 5 },
    cpuSeconds: { redis: 0.03, coordinator: 0.015, workers: 0.006 },
  });
  assert.equal(p.samples_per_step, 256);
  near(p.step_ms_median, 50);
  near(p.step_ms_mean, 50);
  near(p.samples_per_s, 5120);
  assert.equal(p.bytes_per_step, 21_000_000);
  near(p.redis_mb_per_s, 420);
  near(p.transfer_ms_at_raw, 30);
  near(p.compute_ms, 6.4);
  near(p.bound_samples_per_s, 256 / 0.0364);
  near(p.bound_share, 5120 / (256 / 0.0364));
  near(p.serial_ms_median, 3);
  assert.equal(p.steps_measured, 3);
  assert.ok(Number.isNaN(p.efficiency));
  // CPU over 3 steps: 10, 5 and 2 ms per step.
  near(p.cpu_ms_per_step?.redis, 10);
  near(p.cpu_ms_per_step?.coordinator, 5);
  near(p.cpu_ms_per_step?.workers, 2);
});

test('scalingPoint: no steps after the warm-up is an error, not a NaN figure', () => {
  assert.throws(
    () =>
      scalingPoint({
        workers: 1,
        samplesPerWorker: 128,
        msPerSample: 0,
        paramBytes: 1,
        raw: { mb_per_s: 1, seconds_per_vector: 1, bytes: 1 },
        stepSeconds: [1, 1],
        serialMs: [],
        warmup: 2,
        shape: { limit: 256, epochs: 1, stepsPerEpoch: 2, totalSteps: 2 },
      }),
    /no steps after 2 warm-up steps/,
  );
});

test('withEfficiency: against W times the smallest W rate per worker; saturation is the best point', () => {
  const pts = withEfficiency([point(1, 128, 1000, 0.9), point(2, 128, 1800, 0.9), point(4, 128, 2000, 0.9)]);
  assert.deepEqual(
    pts.map((p) => p.efficiency),
    [1, 0.9, 0.5],
  );
  assert.equal(saturation(pts)?.workers, 4);
  assert.equal(saturation([]), undefined);
  assert.deepEqual(withEfficiency([]), []);
  // A series whose first point is W = 2: per-worker rate 900.
  const from2 = withEfficiency([point(2, 128, 1800, 0.9), point(4, 128, 3600, 0.9)]);
  assert.deepEqual(
    from2.map((p) => p.efficiency),
    [1, 1],
  );
});
