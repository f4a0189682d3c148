import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { AdamStep, bindModel, createAutoencoder, evaluateMse, getParams, shardGradient } from '@gradq/model';
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend } from './backend';
import type { NativeCpuBackend } from './native-backend';
import { seeded, skipWithoutNative, tensor } from './test-support';

async function trainFew(backend: string): Promise<{ params: Float32Array; tensors: number[]; mse: number }> {
  await tf.setBackend(backend);
  const bound = bindModel(createAutoencoder({ seed: 5 }));
  const adam = new AdamStep(bound);
  const inputs = seeded(64 * 784, 9, 0.5).map(Math.abs);
  const tensors: number[] = [];
  let mse = 0;
  for (let step = 0; step < 6; step++) {
    adam.apply(shardGradient(bound, inputs.subarray(0, 32 * 784), 32).grad);
    mse = evaluateMse(bound, inputs, 64, 20);
    tensors.push(tf.memory().numTensors);
  }
  const params = getParams(bound);
  adam.dispose();
  bound.model.dispose();
  return { params, tensors, mse };
}

describe('cpu-native output recycling', { skip: skipWithoutNative() }, () => {
  before(() => {
    registerNativeBackend();
    registerNativeBackend({ name: 'cpu-native-nopool', poolBytes: 0 });
  });

  test('training steps and predictions are bit-identical with and without recycling, with no tensor leak', async () => {
    const pooled = await trainFew('cpu-native');
    const plain = await trainFew('cpu-native-nopool');
    assert.deepEqual(
      new Uint32Array(pooled.params.buffer),
      new Uint32Array(plain.params.buffer),
      'params differ between pooled and unpooled runs',
    );
    assert.equal(pooled.mse, plain.mse);
    assert.ok((tf.findBackend('cpu-native') as NativeCpuBackend).pooledBytes > 0, 'the pool was used');
    // After the first step (Adam creates its moments), the tensor count stays flat.
    assert.equal(new Set(pooled.tensors.slice(1)).size, 1, `tensor counts ${pooled.tensors}`);
  });

  test('arrays read out of the backend are copies: disposing and reusing does not change them', async () => {
    await tf.setBackend('cpu-native');
    const t = tf.add(tensor([1000], 1), tensor([1000], 2));
    const read = t.dataSync();
    const expected = read.slice();
    t.dispose();
    for (let i = 0; i < 4; i++) tf.mul(tensor([1000], 3 + i), tensor([1000], 4)).dispose();
    assert.deepEqual(read, expected);
  });

  test('a stock kernel that keeps a view of an output (Slice) pins that output against recycling', async () => {
    await tf.setBackend('cpu-native');
    const whole = tf.add(tensor([4, 250], 1), tensor([4, 250], 2));
    const part = tf.slice(whole, [1, 0], [2, 250]);
    const expected = part.dataSync().slice();
    whole.dispose();
    for (let i = 0; i < 4; i++) tf.mul(tensor([4, 250], 5 + i), tensor([4, 250], 6)).dispose();
    assert.deepEqual(part.dataSync(), expected);
    part.dispose();
  });

  test('the pool keeps at most its cap', async () => {
    registerNativeBackend({ name: 'cpu-native-small', poolBytes: 64 * 1024 });
    await tf.setBackend('cpu-native-small');
    tf.tidy(() => {
      for (let i = 0; i < 20; i++) tf.add(tensor([4096], i + 1), tensor([4096], 2));
    });
    const backend = tf.findBackend('cpu-native-small') as NativeCpuBackend;
    assert.ok(backend.pooledBytes <= 64 * 1024, `${backend.pooledBytes} bytes pooled`);
    assert.ok(backend.pooledBytes > 0);
  });
});
