import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ceiled, perRoundRatios, rotation, spread, timedRun, truncated } from './stats';

test('spread: median of odd and even counts, range, values kept in round order; nothing for no values', () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, perRound: [3, 1, 2] });
  assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, perRound: [4, 1, 3, 2] });
  assert.deepEqual(spread([7]), { median: 7, min: 7, max: 7, perRound: [7] });
  assert.equal(spread([]), undefined);
});

test('rotation: over as many rounds as items, each item runs in every position once', () => {
  const items = ['torch', 'k4', 'k1'];
  const rounds = [0, 1, 2].map((r) => rotation(items, r));
  assert.deepEqual(rounds, [
    ['torch', 'k4', 'k1'],
    ['k4', 'k1', 'torch'],
    ['k1', 'torch', 'k4'],
  ]);
  for (const item of items) assert.deepEqual(rounds.map((o) => o.indexOf(item)).sort(), [0, 1, 2]);
  assert.deepEqual(rotation(items, 3), items);
  assert.deepEqual(rotation([], 1), []);
});

test('perRoundRatios: only rounds where both were measured', () => {
  assert.deepEqual(perRoundRatios([2, undefined, 3, 4], [1, 1, undefined, 8]), [2, 0.5]);
  assert.deepEqual(perRoundRatios([1], [0]), []);
});

test('truncated: a shortfall never prints as the threshold', () => {
  assert.equal(truncated(0.996), '0.99');
  assert.equal(truncated(0.8999), '0.89');
  assert.equal(truncated(1), '1.00');
  assert.equal(truncated(0.29), '0.29');
  assert.equal(truncated(0.9), '0.90');
  assert.equal(truncated(1.2345, 3), '1.234');
  assert.equal(truncated(Number.NaN), 'n/a');
});

test('timedRun: totals and halves from per-step times', () => {
  // 4 steps of 128 samples: 0.01 s each in the first half, 0.02 s in the second; then a short last step.
  const r = timedRun(50, [0.01, 0.01, 0.02, 0.02, 0.01], [128, 128, 128, 128, 96], 0.97);
  assert.equal(r.warmupSteps, 50);
  assert.equal(r.cpuShare, 0.97);
  assert.equal(r.steps, 5);
  assert.equal(r.samples, 608);
  assert.ok(Math.abs(r.seconds - 0.07) < 1e-12);
  assert.ok(Math.abs(r.samplesPerSecond - 608 / 0.07) < 1e-6);
  // Halves: steps [0, 2) and [2, 5).
  assert.ok(Math.abs(r.halves[0] - 256 / 0.02) < 1e-6);
  assert.ok(Math.abs(r.halves[1] - 352 / 0.05) < 1e-6);
});

test('ceiled: rounds up, so an excess over a "<=" threshold never prints as the threshold', () => {
  assert.equal(ceiled(3.004), '3.01');
  assert.equal(ceiled(3), '3.00');
  // Binary noise (0.1 + 0.2 = 0.30000000000000004) is not an excess.
  assert.equal(ceiled(0.1 + 0.2), '0.30');
  assert.equal(ceiled(2.991, 1), '3.0');
  assert.equal(ceiled(Number.NaN), 'n/a');
});
