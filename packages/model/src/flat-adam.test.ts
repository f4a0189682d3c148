import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { AdamStep } from './adam';
import { createAutoencoder } from './autoencoder';
import { FlatAdam, FlatAdamError } from './flat-adam';
import { makeLayout } from './layout';
import { bindModel, getParams } from './params';

/** Deterministic gradients with a spread of magnitudes, signs and exact zeros (xorshift32). */
function testGradient(size: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const u = s / 2 ** 32;
    out[i] = i % 97 === 0 ? 0 : (u - 0.5) * 10 ** ((s % 7) - 4);
  }
  return out;
}

function bitsEqual(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}[${i}]: ${actual[i]} !== ${expected[i]}`);
  }
}

describe('FlatAdam (JS) against tf.train.adam on the cpu backend', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  test('21 steps on the default model: bit-identical params, moments and iterations', async () => {
    const bound = bindModel(createAutoencoder({ seed: 3 }));
    const reference = new AdamStep(bound);
    const flat = new FlatAdam(bound.layout);
    const params = getParams(bound);
    for (let step = 0; step < 21; step++) {
      const grad = testGradient(bound.layout.size, step + 1);
      reference.apply(grad);
      flat.step(params, grad);
    }
    bitsEqual(params, getParams(bound), 'params');
    const state = await reference.getState();
    bitsEqual(flat.firstMoment, state.firstMoment, 'firstMoment');
    bitsEqual(flat.secondMoment, state.secondMoment, 'secondMoment');
    assert.equal(flat.iterations, state.iterations);
    reference.dispose();
  });

  test('a state from AdamStep continues bit-identically (accBeta replayed), and back', async () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [20, 8, 20], seed: 1 }));
    const reference = new AdamStep(bound);
    for (let step = 0; step < 5; step++) reference.apply(testGradient(bound.layout.size, 100 + step));
    const flat = new FlatAdam(bound.layout);
    flat.setState(await reference.getState());
    const params = getParams(bound);
    for (let step = 5; step < 12; step++) {
      const grad = testGradient(bound.layout.size, 100 + step);
      reference.apply(grad);
      flat.step(params, grad);
    }
    bitsEqual(params, getParams(bound), 'params');
    const resumed = new AdamStep(bound);
    await resumed.setState(flat.getState());
    const grad = testGradient(bound.layout.size, 999);
    resumed.apply(grad);
    flat.step(params, grad);
    bitsEqual(params, getParams(bound), 'params after handing the state back');
    reference.dispose();
    resumed.dispose();
  });

  test('custom hyperparameters follow tf.train.adam(lr, beta1, beta2, epsilon)', async () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [16, 4, 16], seed: 2 }));
    const opts = { learningRate: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 1e-5 };
    const optimizer = tf.train.adam(opts.learningRate, opts.beta1, opts.beta2, opts.epsilon);
    const flat = new FlatAdam(bound.layout, opts);
    const params = getParams(bound);
    for (let step = 0; step < 6; step++) {
      const grad = testGradient(bound.layout.size, 7 + step);
      tf.tidy(() =>
        optimizer.applyGradients(
          bound.layout.entries.map((e, i) => ({
            name: (bound.variables[i] as tf.Variable).name,
            tensor: tf.tensor(grad.subarray(e.offset, e.offset + e.size), e.shape as number[]),
          })),
        ),
      );
      flat.step(params, grad);
    }
    bitsEqual(params, getParams(bound), 'params');
    optimizer.dispose();
  });

  test('an injected update function is called with the state and hyperparameters', () => {
    const layout = makeLayout([{ name: 'w', shape: [3] }]);
    const calls: number[][] = [];
    const flat = new FlatAdam(layout, {
      update: (p, m, v, g, lr, b1, b2, eps, acc1, acc2) => {
        assert.equal(m, flat.firstMoment);
        assert.equal(v, flat.secondMoment);
        calls.push([p.length, g.length, lr, b1, b2, eps, acc1, acc2]);
      },
    });
    flat.step(new Float32Array(3), new Float32Array(3));
    flat.step(new Float32Array(3), new Float32Array(3));
    assert.deepEqual(calls[0], [3, 3, 1e-3, 0.9, 0.999, 1e-7, Math.fround(0.9), Math.fround(0.999)]);
    assert.equal(calls[1]?.[6], Math.fround(Math.fround(0.9) * Math.fround(0.9)));
    assert.equal(flat.iterations, 2);
  });

  test('invalid arguments name the bad field', () => {
    const layout = makeLayout([{ name: 'w', shape: [4] }]);
    const flat = new FlatAdam(layout);
    assert.throws(() => flat.step(new Float32Array(3), new Float32Array(4)), {
      name: 'FlatAdamError',
      message: /params/,
    });
    assert.throws(() => flat.step(new Float32Array(4), new Float32Array(5)), {
      name: 'FlatAdamError',
      message: /grad/,
    });
    assert.throws(() => new FlatAdam(layout, { beta1: 1 }), { name: 'FlatAdamError', message: /beta1/ });
    assert.throws(() => new FlatAdam(layout, { learningRate: 0 }), { name: 'FlatAdamError', message: /learningRate/ });
    assert.throws(
      () => flat.setState({ iterations: 1, firstMoment: new Float32Array(3), secondMoment: new Float32Array(4) }),
      FlatAdamError,
    );
    assert.throws(
      () => flat.setState({ iterations: -1, firstMoment: new Float32Array(4), secondMoment: new Float32Array(4) }),
      { message: /iteration/ },
    );
  });
});
