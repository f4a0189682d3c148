import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { mnistDir } from '@gradq/testing';
import * as tf from '@tensorflow/tfjs';
import { type AdamState, AdamStep } from './adam';
import { createAutoencoder } from './autoencoder';
import { fromBytes, toBytes } from './codec';
import { shardGradient } from './gradients';
import { MNIST_FILES } from './mnist/files';
import { parseImages } from './mnist/idx';
import { type BoundModel, bindModel, getParams, setParams } from './params';
import { scalePixels } from './pixels';

const MNIST_DIR = mnistDir();
const SIZES = [784, 32, 16, 32, 784];
const BATCH = 32;

let inputs: Float32Array;

/** Step `i` always trains on the same real batch, so two optimizers fed the same steps see the same data. */
function step(bound: BoundModel, adam: AdamStep, i: number): void {
  const start = (i % 30) * BATCH * 784;
  adam.apply(shardGradient(bound, inputs.subarray(start, start + BATCH * 784), BATCH).grad);
}

function bytesOf(values: Float32Array): Buffer {
  return Buffer.from(toBytes(values));
}

/** A state as it would come back from a checkpoint: the moments through bytes, nothing shared. */
function throughBytes(state: AdamState): AdamState {
  return {
    iterations: state.iterations,
    firstMoment: fromBytes(bytesOf(state.firstMoment)),
    secondMoment: fromBytes(bytesOf(state.secondMoment)),
  };
}

before(async () => {
  await selectBackend({ request: 'wasm', log: () => {} });
  const file = join(MNIST_DIR, MNIST_FILES.testImages.name);
  inputs = scalePixels(parseImages(new Uint8Array(await readFile(file)), file).pixels.subarray(0, 30 * BATCH * 784));
});

describe('AdamStep', () => {
  test('the first step moves every parameter with a clear gradient by about the learning rate, against it', () => {
    // Step 1 of Adam: m = (1-b1) g, v = (1-b2) g^2, bias-corrected to g and g^2, so the update is
    // -lr * g / (|g| + eps): -lr * sign(g) wherever |g| is well above eps.
    const bound = bindModel(createAutoencoder({ layerSizes: SIZES }));
    const adam = new AdamStep(bound, { learningRate: 0.01 });
    const before = getParams(bound);
    const { grad } = shardGradient(bound, inputs.subarray(0, BATCH * 784), BATCH);
    adam.apply(grad);
    const after = getParams(bound);
    let checked = 0;
    for (let i = 0; i < grad.length; i++) {
      const g = grad[i] as number;
      // |g| >= 1e-4 keeps lr * eps / (|g| + eps) under 1e-5.
      if (Math.abs(g) < 1e-4) continue;
      const delta = (after[i] as number) - (before[i] as number);
      assert.ok(Math.abs(delta + 0.01 * Math.sign(g)) < 2e-5, `parameter ${i}: moved ${delta} for gradient ${g}`);
      checked++;
    }
    assert.ok(checked > 100, `only ${checked} parameters had a clear gradient`);
    assert.equal(adam.iterations, 1);
    adam.dispose();
    bound.model.dispose();
  });

  test('getState/setState on a fresh model and optimizer continues bit-identically', async () => {
    // tfjs's setWeights sets accBeta = pow(beta, t + 1), training reaches it by t float32 products; on wasm the two
    // first differ at t = 2 for beta2 = 0.999 and t = 8 for beta1 = 0.9 (and agree at t = 7), hence these points.
    const total = 30;
    const resumeAt = [2, 8, 26];
    const a = bindModel(createAutoencoder({ layerSizes: SIZES, seed: 4 }));
    const adamA = new AdamStep(a, { learningRate: 3e-3 });
    const saved = new Map<number, { params: Buffer; state: AdamState }>();
    for (let i = 0; i < total; i++) {
      if (resumeAt.includes(i)) {
        saved.set(i, { params: bytesOf(getParams(a)), state: throughBytes(await adamA.getState()) });
      }
      step(a, adamA, i);
    }
    const final = bytesOf(getParams(a));
    const finalState = await adamA.getState();

    for (const [at, { params, state }] of saved) {
      assert.equal(state.iterations, at);
      // The resumed side: another seed, so that only setParams can make its weights right.
      const b = bindModel(createAutoencoder({ layerSizes: SIZES, seed: 99 }));
      setParams(b, fromBytes(params, b.layout.size));
      const adamB = new AdamStep(b, { learningRate: 3e-3 });
      await adamB.setState(state);
      assert.equal(adamB.iterations, at);
      for (let i = at; i < total; i++) step(b, adamB, i);
      assert.deepEqual(bytesOf(getParams(b)), final, `resumed at step ${at}: parameters differ`);
      const stateB = await adamB.getState();
      assert.equal(stateB.iterations, total);
      assert.deepEqual(bytesOf(stateB.firstMoment), bytesOf(finalState.firstMoment), `resumed at ${at}: m`);
      assert.deepEqual(bytesOf(stateB.secondMoment), bytesOf(finalState.secondMoment), `resumed at ${at}: v`);
      adamB.dispose();
      b.model.dispose();
    }
    adamA.dispose();
    a.model.dispose();
  });

  test('resuming from a state taken before any step equals starting fresh', async () => {
    const a = bindModel(createAutoencoder({ layerSizes: SIZES }));
    const b = bindModel(createAutoencoder({ layerSizes: SIZES }));
    const adamA = new AdamStep(a);
    const initial = await adamA.getState();
    assert.equal(initial.iterations, 0);
    assert.ok(
      initial.firstMoment.every((v) => v === 0),
      'moments of an unused optimizer are not zero',
    );
    const adamB = new AdamStep(b);
    await adamB.setState(initial);
    for (let i = 0; i < 3; i++) {
      step(a, adamA, i);
      step(b, adamB, i);
    }
    assert.deepEqual(bytesOf(getParams(b)), bytesOf(getParams(a)));
    for (const x of [adamA, adamB]) x.dispose();
    for (const x of [a, b]) x.model.dispose();
  });

  test('different learning rates take different steps', () => {
    const a = bindModel(createAutoencoder({ layerSizes: SIZES }));
    const b = bindModel(createAutoencoder({ layerSizes: SIZES }));
    const adamA = new AdamStep(a, { learningRate: 1e-3 });
    const adamB = new AdamStep(b, { learningRate: 2e-3 });
    step(a, adamA, 0);
    step(b, adamB, 0);
    assert.notDeepEqual(getParams(b), getParams(a));
    for (const x of [adamA, adamB]) x.dispose();
    for (const x of [a, b]) x.model.dispose();
  });

  test('rejects a gradient or state of the wrong size, and a bad iteration count', async () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 4, 784] }));
    const size = bound.layout.size;
    const adam = new AdamStep(bound);
    assert.throws(() => adam.apply(new Float32Array(size + 1)), {
      name: 'RangeError',
      message: `gradient: expected ${size} float32 values, got ${size + 1}`,
    });
    const good = { iterations: 1, firstMoment: new Float32Array(size), secondMoment: new Float32Array(size) };
    await assert.rejects(adam.setState({ ...good, secondMoment: new Float32Array(size - 1) }), {
      message: new RegExp(`moments must have ${size} values`),
    });
    for (const iterations of [-1, 1.5]) {
      await assert.rejects(adam.setState({ ...good, iterations }), { message: /invalid iteration count/ });
    }
    adam.dispose();
    bound.model.dispose();
  });

  test('no tensor leaks in apply, getState, or setState on a fresh optimizer', async () => {
    const bound = bindModel(createAutoencoder({ layerSizes: SIZES }));
    const adam = new AdamStep(bound);
    step(bound, adam, 0);
    await adam.getState();
    const afterBurnIn = tf.memory().numTensors;
    for (let i = 1; i <= 4; i++) step(bound, adam, i);
    assert.equal(tf.memory().numTensors, afterBurnIn, 'apply leaks');
    for (let i = 0; i < 4; i++) await adam.getState();
    assert.equal(tf.memory().numTensors, afterBurnIn, 'getState leaks');
    const state = await adam.getState();
    for (let i = 0; i < 4; i++) {
      const resumed = new AdamStep(bound);
      await resumed.setState(state);
      step(bound, resumed, i);
      resumed.dispose();
    }
    assert.equal(tf.memory().numTensors, afterBurnIn, 'setState leaks');
    adam.dispose();
    bound.model.dispose();
  });
});
