import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HISTORY_POINTS, RECENT_STEPS, RunHistory } from './history';

/** Step `step` of a run at 128 samples a step, `seconds` each, loss `loss`. */
const step = (history: RunHistory, n: number, loss = 0.1, seconds = 0.01) =>
  history.step({ step: n, loss, samples: 128, seconds }, 1);

describe('RunHistory', () => {
  test('before the first step: the plan, no points, no parts, no preview', () => {
    const h = new RunHistory('r', () => 3);
    h.begin({ epochs: 10, stepsTotal: 4690, step: 0, epoch: 1 });
    const s = h.snapshot();
    assert.deepEqual(
      { state: s.state, epochs: s.epochs, stepsTotal: s.stepsTotal, workers: s.workersAlive },
      { state: 'starting', epochs: 10, stepsTotal: 4690, workers: 3 },
    );
    assert.deepEqual(s.steps, { step: [], loss: [], samplesPerSecond: [] });
    assert.equal(s.parts, null);
    assert.equal(s.samplesPerSecond, null);
    assert.equal(s.preview, null);
  });

  test('a point a step while the arrays have room, each with its loss and samples/s', () => {
    const h = new RunHistory('r');
    step(h, 1, 0.5, 0.1);
    step(h, 2, 0.25, 0.2);
    const s = h.snapshot();
    assert.deepEqual(s.steps, { step: [1, 2], loss: [0.5, 0.25], samplesPerSecond: [1280, 640] });
    assert.equal(s.state, 'training');
    // 256 samples in 0.3 s.
    assert.ok(Math.abs((s.samplesPerSecond ?? 0) - 256 / 0.3) < 1e-9);
  });

  test('full arrays merge pairs and take a point every other step: bounded, every step still counted', () => {
    const h = new RunHistory('r');
    // Loss 1 on odd steps, 3 on even: every merged point's mean is 2.
    const steps = HISTORY_POINTS * 4;
    for (let n = 1; n <= steps; n++) step(h, n, n % 2 ? 1 : 3);
    const s = h.snapshot();
    assert.ok(s.steps.step.length <= HISTORY_POINTS);
    assert.ok(s.steps.step.length >= HISTORY_POINTS / 2);
    // The last point trails the last step by less than two points' span (4 steps each by now).
    assert.ok(steps - (s.steps.step.at(-1) ?? 0) < 8, String(s.steps.step.at(-1)));
    assert.ok(s.steps.step.every((x, i) => i === 0 || x > (s.steps.step[i - 1] as number)));
    assert.deepEqual([...new Set(s.steps.loss)], [2], 'a merged point is the mean of its steps');
    assert.ok(s.steps.samplesPerSecond.every((r) => Math.abs(r - 12_800) < 1e-6));
  });

  test("a step's parts: summed within the step, averaged over the last steps, in ms", () => {
    const h = new RunHistory('r');
    for (let n = 1; n <= RECENT_STEPS + 10; n++) {
      // The last RECENT_STEPS steps wait 2 ms (two reports of 1 ms), the ten before 100 ms.
      const wait = n <= 10 ? 0.1 : 0.002;
      h.part('wait_gradients', wait / 2);
      h.part('wait_gradients', wait / 2);
      h.part('reduce', 0.0005);
      h.part('optimizer', 0.001);
      h.part('publish', 0.003);
      step(h, n);
    }
    const parts = h.snapshot().parts;
    assert.ok(parts);
    assert.ok(Math.abs(parts.wait_gradients - 2) < 1e-9, String(parts.wait_gradients));
    assert.ok(Math.abs(parts.reduce - 0.5) < 1e-9);
    assert.ok(Math.abs(parts.optimizer - 1) < 1e-9);
    assert.ok(Math.abs(parts.publish - 3) < 1e-9);
  });

  test('test MSE at its steps, the latest preview, finish; a NaN loss is null in the JSON', () => {
    const h = new RunHistory('r');
    h.testMse(0, 0.107);
    step(h, 1, Number.NaN);
    h.testMse(1, 0.05);
    h.preview(1, new Uint8Array([1]));
    h.preview(2, new Uint8Array([2]));
    h.finish();
    const s = JSON.parse(JSON.stringify(h.snapshot()));
    assert.deepEqual(s.testMse, { step: [0, 1], value: [0.107, 0.05] });
    assert.deepEqual(s.steps.loss, [null]);
    assert.deepEqual(s.preview, { step: 2 });
    assert.deepEqual(h.previewImage, new Uint8Array([2]));
    assert.equal(s.state, 'finished');
  });

  test('costs nothing measurable per step: microseconds at most (a step takes milliseconds)', () => {
    const h = new RunHistory('r');
    const run = (from: number, n: number) => {
      const t = performance.now();
      for (let i = from; i < from + n; i++) {
        h.part('wait_gradients', 0.004);
        h.part('optimizer', 0.001);
        h.step({ step: i, loss: 0.01, samples: 128, seconds: 0.005 }, 1);
      }
      return ((performance.now() - t) * 1000) / n;
    };
    run(1, 10_000); // compiled
    const perStepUs = run(10_001, 200_000);
    // Measured 0.1-0.3 us on the shared 2-core machine; the bound leaves room for a loaded one.
    assert.ok(perStepUs < 5, `${perStepUs.toFixed(3)} us per step`);
  });
});
