import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { AdamStep, bindModel, createAutoencoder, FlatAdam, getParams } from '@gradq/model';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { nativeAdamUpdate } from './adam';
import { loadAddon } from './addon';
import { registerNativeBackend } from './backend';
import { seeded, skipWithoutNative } from './test-support';

const skip = skipWithoutNative();

function assertBits(actual: Float32Array, expected: Float32Array, what: string): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}[${i}]: ${actual[i]} !== ${expected[i]}`);
  }
}

/** Gradients spanning 1e-4..1e2 with both signs and exact zeros, different every step. */
function gradient(size: number, step: number): Float32Array {
  const g = seeded(size, 1000 + step, 1);
  for (let i = 0; i < size; i++) g[i] = (g[i] as number) * 10 ** ((i % 7) - 4);
  return g;
}

const STEPS = 21;

for (const backend of ['cpu', 'wasm', 'cpu-native']) {
  describe(`FlatAdam against tf.train.adam on ${backend}, default model, ${STEPS} steps`, { skip }, () => {
    before(() => {
      registerNativeBackend();
    });

    test('JS and native updates give bit-identical params and moments', async () => {
      assert.ok(await tf.setBackend(backend));
      const bound = bindModel(createAutoencoder({ seed: 2 }));
      const reference = new AdamStep(bound);
      const js = new FlatAdam(bound.layout);
      const native = new FlatAdam(bound.layout, { update: nativeAdamUpdate() });
      const jsParams = getParams(bound);
      const nativeParams = jsParams.slice();
      for (let step = 0; step < STEPS; step++) {
        const grad = gradient(bound.layout.size, step);
        reference.apply(grad);
        js.step(jsParams, grad);
        native.step(nativeParams, grad);
      }
      const expected = getParams(bound);
      const state = await reference.getState();
      for (const [name, flat, params] of [
        ['js', js, jsParams],
        ['native', native, nativeParams],
      ] as const) {
        assertBits(params, expected, `${name} params`);
        assertBits(flat.firstMoment, state.firstMoment, `${name} firstMoment`);
        assertBits(flat.secondMoment, state.secondMoment, `${name} secondMoment`);
        assert.equal(flat.iterations, state.iterations);
      }
      reference.dispose();
      bound.model.dispose();
    });
  });
}

describe('adamUpdate argument checks', { skip }, () => {
  test('rejects mismatched lengths and non-float32 arrays', () => {
    const addon = loadAddon();
    const f = new Float32Array(4);
    assert.throws(() => addon.adamUpdate(f, f, f, new Float32Array(3), 1e-3, 0.9, 0.999, 1e-7, 0.9, 0.999), {
      message: /equal lengths/,
    });
    assert.throws(
      () => addon.adamUpdate(f, f, f, new Float64Array(4) as unknown as Float32Array, 1e-3, 0.9, 0.999, 1e-7, 0.9, 0.9),
      { message: /Float32Arrays/ },
    );
  });
});
