/**
 * The native engine against the tfjs reference, leaf by leaf: every layout entry's gradient within 1e-5 of its scale
 * (OpenBLAS's summation order and the fused output delta differ from tfjs's in the last bits), losses within 1e-5.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { bindModel, createAutoencoder, getParams, OUTPUT_ACTIVATIONS, type OutputActivation } from '@gradq/model';
import { skipWithoutNative } from '@gradq/native-kernels/test-support';
import { NativeEngine } from './native-engine';
import { leavesOf, mnistOrRandom, random, relativeError, seededBytes, seededFloats, shuffled } from './test-support';
import { type ModelShape, TfjsEngine } from './tfjs-engine';
import type { BlockTask } from './types';

const TOLERANCE = 1e-5;
const skip = skipWithoutNative();

/** Kernels from the model's Glorot initialiser, biases random so that the bias gradients are exercised too. */
function paramsFor(shape: ModelShape, seed: number): Float32Array {
  const bound = bindModel(createAutoencoder({ ...shape, seed }));
  const params = getParams(bound);
  const next = random(seed + 1);
  for (const entry of bound.layout.entries) {
    if (entry.shape.length !== 1) continue;
    for (let i = entry.offset; i < entry.offset + entry.size; i++) params[i] = (next() - 0.4) * 0.2;
  }
  bound.model.dispose();
  return params;
}

function layoutEntries(shape: ModelShape) {
  const bound = bindModel(createAutoencoder({ ...shape, seed: 0 }));
  bound.model.dispose();
  return bound.layout.entries;
}

/** Computes each leaf as a block of one on both engines and compares them. */
function compareLeaves(shape: ModelShape, pixels: Uint8Array, leafSizes: readonly number[], seed: number): void {
  const sampleSize = shape.layerSizes[0] as number;
  const native = new NativeEngine(shape);
  const reference = new TfjsEngine(shape);
  native.setTrainingSet(pixels, sampleSize);
  reference.setTrainingSet(pixels, sampleSize);
  const order = shuffled(pixels.length / sampleSize, seed);
  const params = paramsFor(shape, seed);
  const leaves = leavesOf(3, leafSizes);
  const stepSamples = leafSizes.reduce((a, b) => a + b, 0) + 5;
  try {
    for (const [i, leaf] of leaves.entries()) {
      const task: BlockTask = { version: 0, params, order, leaves: [leaf], stepSamples, rounding: 'f32' };
      const got = native.computeBlock(task);
      const want = reference.computeBlock(task);
      assert.deepEqual(got.counts, want.counts);
      for (const entry of layoutEntries(shape)) {
        const range = [entry.offset, entry.offset + entry.size] as const;
        const error = relativeError(got.grad.subarray(...range), want.grad.subarray(...range));
        assert.ok(
          error <= TOLERANCE,
          `leaf ${i} (${leaf.end - leaf.start} samples) ${entry.name}: relative error ${error}`,
        );
      }
      const lossError = Math.abs((got.losses[0] as number) - (want.losses[0] as number)) / (want.losses[0] as number);
      assert.ok(lossError <= TOLERANCE, `leaf ${i} loss ${got.losses[0]} vs ${want.losses[0]}`);
    }
  } finally {
    native.dispose();
    reference.dispose();
  }
}

describe('native engine against the tfjs engine, leaf by leaf', { skip }, () => {
  before(async () => {
    await selectBackend({ request: 'cpu-native', log: () => {} });
  });

  const shapes: readonly (readonly number[])[] = [
    [12, 7, 5, 12],
    [30, 17, 30],
    [9, 16, 3, 16, 9],
  ];
  for (const layerSizes of shapes) {
    for (const outputActivation of OUTPUT_ACTIVATIONS) {
      test(`[${layerSizes.join(', ')}] ${outputActivation}, leaves of 1, 5 and 17 samples`, () => {
        const pixels = seededBytes(64 * (layerSizes[0] as number), layerSizes.length * 10 + 1);
        compareLeaves({ layerSizes, outputActivation }, pixels, [1, 5, 17], layerSizes.length);
      });
    }
  }

  const { pixels, real } = mnistOrRandom(512);
  for (const outputActivation of ['relu', 'sigmoid', 'linear'] satisfies OutputActivation[]) {
    test(`seed model 784-392-196-392-784 ${outputActivation} on ${real ? 'MNIST' : 'random pixels'}, leaves of 32 and 7`, () => {
      compareLeaves({ layerSizes: [784, 392, 196, 392, 784], outputActivation }, pixels, [32, 7], 11);
    });
  }
});

describe('native engine results', { skip }, () => {
  test('losses are the mean squared error per pixel and counts the leaf sizes', () => {
    // One layer, zero weights, bias 0.5, linear output: y = 0.5 everywhere, so each pixel's error is (0.5 - v/255)^2.
    const shape: ModelShape = { layerSizes: [2, 2], outputActivation: 'linear' };
    const engine = new NativeEngine(shape);
    const pixels = Uint8Array.from([0, 255, 51, 102]);
    engine.setTrainingSet(pixels, 2);
    const params = Float32Array.from([0, 0, 0, 0, 0.5, 0.5]);
    const order = Uint32Array.from([1, 0]);
    const leaves = leavesOf(0, [1, 1]);
    const { grad, losses, counts } = engine.computeBlock({
      version: 0,
      params,
      order,
      leaves,
      stepSamples: 2,
      rounding: 'f32',
    });
    const x = [0.2, 0.4, 0, 1].map((v) => Math.fround(v));
    const mse = (a: number, b: number) => ((0.5 - a) ** 2 + (0.5 - b) ** 2) / 2;
    assert.deepEqual(counts, [1, 1]);
    assert.ok(Math.abs((losses[0] as number) - mse(x[0] as number, x[1] as number)) < 1e-7);
    assert.ok(Math.abs((losses[1] as number) - mse(x[2] as number, x[3] as number)) < 1e-7);
    // Bias gradient: sum over both samples of 2 (y - x) / (2 pixels * 2 samples) for each output unit.
    assert.ok(Math.abs((grad[4] as number) - (2 * (0.5 - 0.2) + 2 * (0.5 - 0)) / 4) < 1e-6);
    assert.ok(Math.abs((grad[5] as number) - (2 * (0.5 - 0.4) + 2 * (0.5 - 1)) / 4) < 1e-6);
    engine.dispose();
  });

  const engines: NativeEngine[] = [];
  after(() => {
    for (const e of engines) e.dispose();
  });

  test('a fresh gradient array per call: results already returned are never overwritten', () => {
    const shape: ModelShape = { layerSizes: [10, 4, 10], outputActivation: 'relu' };
    const engine = new NativeEngine(shape);
    engines.push(engine);
    engine.setTrainingSet(seededBytes(40, 3), 10);
    const params = seededFloats(engine.paramCount, 4, 0.5);
    const task = (start: number): BlockTask => ({
      version: 0,
      params,
      order: Uint32Array.from([0, 1, 2, 3]),
      leaves: leavesOf(start, [2]),
      stepSamples: 2,
      rounding: 'f32',
    });
    const first = engine.computeBlock(task(0));
    const copy = first.grad.slice();
    const second = engine.computeBlock(task(2));
    assert.notEqual(first.grad, second.grad);
    assert.deepEqual(first.grad, copy);
  });
});
