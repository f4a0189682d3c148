import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { mnistDir } from '@gradq/testing';
import * as tf from '@tensorflow/tfjs';
import { AdamStep } from './adam';
import { createAutoencoder } from './autoencoder';
import { evaluateMse, shardGradient } from './gradients';
import { MNIST_FILES } from './mnist/files';
import { parseImages } from './mnist/idx';
import { type BoundModel, bindModel, setParams } from './params';
import { scalePixels } from './pixels';

const MNIST_DIR = mnistDir();
const PIXELS = 784;

/** The first 512 test images, scaled to [0, 1]. */
let inputs: Float32Array;

function samples(start: number, count: number): Float32Array {
  return inputs.subarray(start * PIXELS, (start + count) * PIXELS);
}

/** max |a - b| / max |b|: relative to the gradient's scale, since most single elements are near zero. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / scale;
}

/**
 * sum_i w_i grad_i / sum_i w_i, summed in float64 in the order given and rounded to float32 once. Shard i's gradient
 * is the mean over its n_i samples, grad_i = (1/n_i) sum_{s in i} g_s, so with w_i = n_i this is
 * sum_i sum_{s in i} g_s / sum_i n_i = (1/N) sum_s g_s: the mean gradient over the whole batch of N samples.
 */
function weightedMean(grads: readonly Float32Array[], weights: readonly number[]): Float32Array {
  const sum = new Float64Array((grads[0] as Float32Array).length);
  for (const [i, grad] of grads.entries()) {
    const w = weights[i] as number;
    for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) + w * (grad[j] as number);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return Float32Array.from(sum, (x) => x / total);
}

/** Splits samples [start, start + sum(sizes)) into consecutive shards of these sizes and averages their gradients. */
function shardedGradient(bound: BoundModel, start: number, sizes: readonly number[]) {
  let offset = start;
  const parts = sizes.map((n) => {
    const part = shardGradient(bound, samples(offset, n), n);
    offset += n;
    return part;
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  const grads = parts.map((p) => p.grad);
  const counts = parts.map((p) => p.count);
  const ones = parts.map(() => 1);
  return {
    grad: weightedMean(grads, counts),
    loss: parts.reduce((sum, p) => sum + p.loss * p.count, 0) / total,
    unweighted: weightedMean(grads, ones),
  };
}

before(async () => {
  await selectBackend({ request: 'wasm', log: () => {} });
  const file = join(MNIST_DIR, MNIST_FILES.testImages.name);
  const images = parseImages(new Uint8Array(await readFile(file)), file);
  inputs = scalePixels(images.pixels.subarray(0, 512 * PIXELS));
});

describe('the weighted mean of shard gradients is the whole-batch gradient', () => {
  for (const { name, layerSizes, batch, shards } of [
    { name: 'small model, uneven shards', layerSizes: [784, 32, 784], batch: 96, shards: [7, 33, 56] },
    {
      name: 'small model, four equal shards',
      layerSizes: [784, 32, 16, 32, 784],
      batch: 128,
      shards: [32, 32, 32, 32],
    },
    { name: 'small model, one-sample shards', layerSizes: [784, 32, 784], batch: 12, shards: Array(12).fill(1) },
    { name: 'the seed network (784-392-196-392-784)', layerSizes: undefined, batch: 64, shards: [5, 27, 32] },
  ]) {
    test(name, () => {
      const bound = bindModel(createAutoencoder({ layerSizes, seed: 3 }));
      const whole = shardGradient(bound, samples(100, batch), batch);
      const sharded = shardedGradient(bound, 100, shards);
      assert.equal(whole.count, batch);
      assert.equal(whole.grad.length, bound.layout.size);
      assert.ok(
        whole.grad.some((g) => g !== 0),
        'the whole-batch gradient is all zero',
      );
      const error = relativeError(sharded.grad, whole.grad);
      assert.ok(error <= 1e-5, `relative error ${error}`);
      // The loss is a float32 tf.mean over batch x 784 values; measured 5e-5 relative apart on wasm.
      assert.ok(Math.abs(sharded.loss - whole.loss) <= 2e-4 * whole.loss, `loss ${sharded.loss} vs ${whole.loss}`);
      if (new Set(shards).size > 1) {
        // Sanity check on the tolerance: ignoring the counts must be caught.
        assert.ok(relativeError(sharded.unweighted, whole.grad) > 1e-3, 'the tolerance cannot tell counts apart');
      }
      bound.model.dispose();
    });
  }
});

describe('shardGradient', () => {
  test('matches the gradient derived by hand for a tiny network', () => {
    // y = W2 relu(W1 x + b1) + b2 (linear output), loss = mean over n*3 values of (y - x)^2, so
    // dL/dy = 2 (y - x) / (3n); dL/dW2 = sum_s h dy^T; dL/dh = W2 dy masked by relu'; dL/dW1 = sum_s x dh^T.
    const bound = bindModel(createAutoencoder({ layerSizes: [3, 2, 3], outputActivation: 'linear' }));
    assert.deepEqual(
      bound.layout.entries.map((e) => e.name),
      ['dense_0/kernel', 'dense_0/bias', 'dense_1/kernel', 'dense_1/bias'],
    );
    // Kernels are [in, out] row-major, as tfjs stores them.
    const W1 = [0.5, -0.25, 0.125, 0.75, -0.5, 0.25];
    const b1 = [0.0625, -0.5];
    const W2 = [1, -0.5, 0.25, 0.75, 0.5, -1];
    const b2 = [0.125, 0, -0.25];
    setParams(bound, Float32Array.from([...W1, ...b1, ...W2, ...b2]));
    const xs = [0.1, 0.9, 0.4, 0.8, 0.2, 0.6, 0.3, 0.3, 1];
    const n = 3;
    const at = (a: readonly number[], i: number) => a[i] as number;
    const gW1 = W1.map(() => 0);
    const gb1 = b1.map(() => 0);
    const gW2 = W2.map(() => 0);
    const gb2 = b2.map(() => 0);
    let loss = 0;
    for (let s = 0; s < n; s++) {
      const x = xs.slice(3 * s, 3 * s + 3);
      const z = [0, 1].map((j) => at(b1, j) + x.reduce((sum, xi, i) => sum + xi * at(W1, 2 * i + j), 0));
      const h = z.map((v) => Math.max(0, v));
      const y = [0, 1, 2].map((k) => at(b2, k) + h.reduce((sum, hj, j) => sum + hj * at(W2, 3 * j + k), 0));
      const dy = y.map((yk, k) => (2 * (yk - at(x, k))) / (3 * n));
      loss += y.reduce((sum, yk, k) => sum + (yk - at(x, k)) ** 2, 0) / (3 * n);
      const dh = [0, 1].map((j) => (at(z, j) > 0 ? dy.reduce((sum, d, k) => sum + d * at(W2, 3 * j + k), 0) : 0));
      for (let k = 0; k < 3; k++) {
        gb2[k] = at(gb2, k) + at(dy, k);
        for (let j = 0; j < 2; j++) gW2[3 * j + k] = at(gW2, 3 * j + k) + at(h, j) * at(dy, k);
      }
      for (let j = 0; j < 2; j++) {
        gb1[j] = at(gb1, j) + at(dh, j);
        for (let i = 0; i < 3; i++) gW1[2 * i + j] = at(gW1, 2 * i + j) + at(x, i) * at(dh, j);
      }
    }
    // One hidden unit is dead for some sample, so the relu mask matters.
    const { grad, loss: got, count } = shardGradient(bound, Float32Array.from(xs), n);
    const expected = [...gW1, ...gb1, ...gW2, ...gb2];
    assert.equal(count, n);
    assert.ok(Math.abs(got - loss) < 1e-6, `loss ${got} vs ${loss}`);
    for (const [i, e] of expected.entries()) {
      assert.ok(Math.abs((grad[i] as number) - e) < 1e-6, `element ${i}: ${grad[i]} vs ${e}`);
    }
    bound.model.dispose();
  });

  test('rejects inputs that do not split into the sample count', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 8, 784] }));
    assert.throws(() => shardGradient(bound, samples(0, 2).subarray(1), 2), {
      name: 'RangeError',
      message: /1567 input values do not split into 2 samples/,
    });
    assert.throws(() => shardGradient(bound, new Float32Array(0), 0), { name: 'RangeError' });
    bound.model.dispose();
  });

  test('does not depend on the samples around it: same inputs, same bits', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 16, 784] }));
    const a = shardGradient(bound, samples(10, 8), 8);
    const b = shardGradient(bound, Float32Array.from(samples(10, 8)), 8);
    assert.deepEqual(new Uint8Array(b.grad.buffer), new Uint8Array(a.grad.buffer));
    assert.equal(b.loss, a.loss);
    bound.model.dispose();
  });
});

describe('evaluateMse', () => {
  test('is the mean squared error over every pixel, whatever the chunk size', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 32, 784], outputActivation: 'sigmoid' }));
    const x = samples(0, 300);
    const y = tf.tidy(() => (bound.model.predict(tf.tensor2d(x, [300, PIXELS])) as tf.Tensor).dataSync());
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += ((y[i] as number) - (x[i] as number)) ** 2;
    const reference = sum / x.length;
    // Each chunk's sum is float32 over up to chunk x 784 values, hence the tolerance.
    for (const chunk of [1000, 300, 64, 7]) {
      const mse = evaluateMse(bound, x, 300, chunk);
      assert.ok(Math.abs(mse - reference) <= 1e-4 * reference, `chunk ${chunk}: ${mse} vs ${reference}`);
    }
    bound.model.dispose();
  });
});

describe('no tensor leaks', () => {
  test('across shardGradient + AdamStep.apply steps', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 32, 16, 32, 784] }));
    const adam = new AdamStep(bound);
    const step = (i: number) => {
      const parts = [0, 1, 2].map((k) => shardGradient(bound, samples(i * 30 + k * 10, 10), 10));
      const grads = parts.map((p) => p.grad);
      const counts = parts.map((p) => p.count);
      adam.apply(weightedMean(grads, counts));
    };
    // The first step creates Adam's moment variables; later steps must create nothing that outlives them.
    step(0);
    const afterBurnIn = tf.memory().numTensors;
    for (let i = 1; i <= 5; i++) step(i);
    assert.equal(tf.memory().numTensors, afterBurnIn);
    adam.dispose();
    bound.model.dispose();
  });

  test('in evaluateMse', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 16, 784] }));
    evaluateMse(bound, samples(0, 50), 50, 16);
    const afterBurnIn = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) evaluateMse(bound, samples(0, 50), 50, 16);
    assert.equal(tf.memory().numTensors, afterBurnIn);
    bound.model.dispose();
  });
});
