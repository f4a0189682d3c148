import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { AdamStep, adamUpdateJs, bindModel, createAutoencoder, FlatAdam, getParams } from '@gradq/model';
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

describe('moments below FLT_MIN', { skip }, () => {
  test('are zero, in the JS and the native update alike; parameters move as tf.train.adam moves them', async () => {
    // A dead unit: gradients that stopped, first moments decayed to subnormals (where tf.train.adam's stick at
    // 1.4e-45 and each step took ~40x longer in C), or about to become one.
    const n = 64;
    const moments = Float32Array.from({ length: n }, (_, i) => [1e-44, 1.4e-45, 1.3e-38, 2e-38, 1e-3][i % 5] as number);
    const grad = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : i % 3 === 1 ? 1e-23 : 0.5));
    const params = Float32Array.from({ length: n }, (_, i) => (i % 2 ? 0.05 : -0.3));
    const run = (update: (p: Float32Array, m: Float32Array, v: Float32Array) => void) => {
      const p = params.slice();
      const m = moments.slice();
      const v = moments.slice();
      for (let step = 0; step < 3; step++) update(p, m, v);
      return { p, m, v };
    };
    const native = await nativeAdamUpdate();
    assert.ok(native);
    const a = run((p, m, v) => adamUpdateJs(p, m, v, grad, 1e-3, 0.9, 0.999, 1e-7, 0.729, 0.997));
    const b = run((p, m, v) => native(p, m, v, grad, 1e-3, 0.9, 0.999, 1e-7, 0.729, 0.997));
    assertBits(b.p, a.p, 'params');
    assertBits(b.m, a.m, 'first moments');
    assertBits(b.v, a.v, 'second moments');
    for (const x of [...a.m, ...a.v]) assert.ok(x === 0 || Math.abs(x) >= 1.1754943508222875e-38, `${x} is subnormal`);
    // The parameters whose moments were flushed keep tf.train.adam's value: an update of ~1e-41 moves none of them.
    for (let i = 0; i < n; i += 3) {
      if (i % 5 !== 4) assert.equal(a.p[i], params[i], `parameter ${i} (zero gradient, tiny moments) moved`);
    }
  });
});

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
