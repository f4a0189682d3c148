import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import * as tf from '@tensorflow/tfjs';
import { createAutoencoder } from './autoencoder';
import { fromBytes, toBytes } from './codec';
import { bindModel, getParams, setParams, splitByVariable } from './params';

before(async () => {
  await selectBackend({ request: 'wasm', log: () => {} });
});

function sameBits(a: Float32Array, b: Float32Array, message?: string): void {
  assert.deepEqual(
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
    message,
  );
}

describe('getParams / setParams', () => {
  test('getParams follows the layout: each entry holds that variable, biases start at zero', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 16, 8, 16, 784] }));
    const params = getParams(bound);
    assert.equal(params.length, bound.layout.size);
    for (const [i, entry] of bound.layout.entries.entries()) {
      const expected = bound.variables[i]?.dataSync() as Float32Array;
      sameBits(params.subarray(entry.offset, entry.offset + entry.size), expected, entry.name);
      if (entry.name.endsWith('/bias'))
        assert.ok(
          expected.every((v) => v === 0),
          `${entry.name} is not zero`,
        );
      else
        assert.ok(
          expected.some((v) => v !== 0),
          `${entry.name} is all zero`,
        );
    }
    bound.model.dispose();
  });

  test('the same seed gives the same initial bits; another seed does not', () => {
    const a = bindModel(createAutoencoder({ layerSizes: [784, 16, 784], seed: 5 }));
    const b = bindModel(createAutoencoder({ layerSizes: [784, 16, 784], seed: 5 }));
    const c = bindModel(createAutoencoder({ layerSizes: [784, 16, 784], seed: 6 }));
    sameBits(getParams(b), getParams(a));
    assert.notDeepEqual(getParams(c), getParams(a));
    for (const m of [a, b, c]) m.model.dispose();
  });

  test('setParams then getParams round-trips exactly, through the wire codec too', () => {
    const source = bindModel(createAutoencoder({ layerSizes: [784, 16, 784], seed: 1 }));
    const target = bindModel(createAutoencoder({ layerSizes: [784, 16, 784], seed: 2 }));
    const params = getParams(source);
    // Values a float32 path could mangle: negative zero, subnormals, large magnitudes.
    params[0] = -0;
    params[1] = 1.4e-45;
    params[2] = -3e38;
    const wire = Buffer.concat([Buffer.alloc(1), toBytes(params)]).subarray(1);
    setParams(target, fromBytes(wire, target.layout.size));
    sameBits(getParams(target), params);
    source.model.dispose();
    target.model.dispose();
  });

  test('setParams changes what the model computes', () => {
    const a = bindModel(createAutoencoder({ layerSizes: [784, 16, 784], seed: 1 }));
    const b = bindModel(createAutoencoder({ layerSizes: [784, 16, 784], seed: 2 }));
    const x = tf.randomUniform([4, 784], 0, 1, 'float32', 7);
    const predict = (m: typeof a) => tf.tidy(() => (m.model.predict(x) as tf.Tensor).dataSync());
    assert.notDeepEqual(predict(b), predict(a));
    setParams(b, getParams(a));
    sameBits(predict(b) as Float32Array, predict(a) as Float32Array);
    x.dispose();
    a.model.dispose();
    b.model.dispose();
  });

  test('setParams rejects a vector of the wrong length, naming both lengths', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 4, 784] }));
    const size = bound.layout.size;
    assert.throws(() => setParams(bound, new Float32Array(size - 1)), {
      name: 'RangeError',
      message: `parameters: expected ${size} float32 values, got ${size - 1}`,
    });
    bound.model.dispose();
  });

  test('splitByVariable slices in layout order with each variable name and shape', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 4, 784] }));
    const flat = Float32Array.from({ length: bound.layout.size }, (_, i) => i);
    const parts = splitByVariable(bound, flat);
    assert.deepEqual(
      parts.map((p) => [p.name, p.tensor.shape]),
      bound.variables.map((v) => [v.name, v.shape]),
    );
    for (const [i, part] of parts.entries()) {
      const entry = bound.layout.entries[i];
      assert.equal(part.tensor.dataSync()[0], entry?.offset, entry?.name);
    }
    tf.dispose(parts.map((p) => p.tensor));
    bound.model.dispose();
  });

  test('no tensor leaks in getParams / setParams', () => {
    const bound = bindModel(createAutoencoder({ layerSizes: [784, 16, 784] }));
    const params = getParams(bound);
    setParams(bound, params);
    const afterBurnIn = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      params[i] = i;
      setParams(bound, params);
      getParams(bound);
    }
    assert.equal(tf.memory().numTensors, afterBurnIn);
    bound.model.dispose();
  });
});
