import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  assertBitIdentical,
  assertClose,
  both,
  runOn,
  setUpBackends,
  skipWithoutNative,
  tensor,
} from '../test-support';

const skip = skipWithoutNative();

// Inputs in [-0.5, 0.5), K <= 784: rounding differences between summation orders stay below ~1e-5; a wrong
// transpose or batch index would be off by O(0.1).
const GEMM_TOL = 1e-4;

// [a shape, b shape, transposeA, transposeB]: the model's forward and backward GEMMs, all transposes, batch dims,
// batch broadcasting, degenerate sizes.
const CASES: [number[], number[], boolean, boolean][] = [
  [[128, 784], [784, 392], false, false],
  [[128, 784], [392, 784], false, true],
  [[128, 392], [128, 784], true, false],
  [[128, 392], [784, 128], true, true],
  [[1, 32, 392], [1, 392, 784], false, false],
  [[3, 5, 7], [3, 7, 4], false, false],
  [[3, 7, 5], [3, 4, 7], true, true],
  [[3, 5, 7], [1, 7, 4], false, false],
  [[1, 5, 7], [3, 7, 4], false, false],
  [[2, 3, 5, 7], [2, 3, 7, 4], false, false],
  [[1, 1], [1, 1], false, false],
  [[5, 1], [1, 4], false, false],
  [[4, 0], [0, 3], false, false],
];

describe('BatchMatMul (OpenBLAS) matches tfjs-backend-cpu to float32 rounding', { skip }, () => {
  before(setUpBackends);
  for (const [sa, sb, ta, tb] of CASES) {
    test(`[${sa}]${ta ? 'T' : ''} x [${sb}]${tb ? 'T' : ''}`, async () => {
      const [stock, native] = await both(() => tf.matMul(tensor(sa, 1, 0.5), tensor(sb, 2, 0.5), ta, tb));
      assertClose(native, stock, 'matMul', GEMM_TOL);
    });
  }

  test('results are reproducible run to run (fixed thread count)', async () => {
    const op = () => tf.matMul(tensor([128, 784], 4), tensor([784, 392], 5));
    assertBitIdentical(await runOn('cpu-native', op), await runOn('cpu-native', op), 'matMul');
  });

  test('int32 falls back to the stock kernel', async () => {
    const [stock, native] = await both(() =>
      tf.matMul(tf.tensor([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), tf.tensor([1, -1, 2, 0, 3, 1], [3, 2], 'int32')),
    );
    assertBitIdentical(native, stock, 'matMul int32');
  });

  test('mismatched inner dimensions still throw the stock error', async () => {
    await tf.setBackend('cpu-native');
    assert.throws(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2])), /inner shapes/);
  });
});

describe('_FusedMatMul (sgemm + bias + activation) matches tfjs-backend-cpu', { skip }, () => {
  before(setUpBackends);
  const fused = (
    sa: number[],
    sb: number[],
    ta: boolean,
    tb: boolean,
    bias: number[] | null,
    activation: tf.fused.Activation,
  ) =>
    both(() =>
      tf.fused.matMul({
        a: tensor(sa, 6, 0.5),
        b: tensor(sb, 7, 0.5),
        transposeA: ta,
        transposeB: tb,
        bias: bias ? tensor(bias, 8) : undefined,
        activation,
        ...(activation === 'prelu' ? { preluActivationWeights: tensor([sb.at(tb ? -2 : -1) as number], 9) } : {}),
        ...(activation === 'leakyrelu' ? { leakyreluAlpha: 0.3 } : {}),
      }),
    );

  for (const activation of ['linear', 'relu'] as const) {
    for (const [sa, sb, ta, tb] of CASES.slice(0, 9)) {
      const n = sb.at(tb ? -2 : -1) as number;
      test(`${activation} [${sa}]${ta ? 'T' : ''} x [${sb}]${tb ? 'T' : ''} + bias [${n}]`, async () => {
        const [stock, native] = await fused(sa, sb, ta, tb, [n], activation);
        assertClose(native, stock, 'fused', GEMM_TOL);
      });
    }
    test(`${activation} without bias`, async () => {
      const [stock, native] = await fused([32, 196], [196, 392], false, false, null, activation);
      assertClose(native, stock, 'fused', GEMM_TOL);
    });
    test(`${activation} with a [1, n] bias`, async () => {
      const [stock, native] = await fused([32, 196], [196, 392], false, false, [1, 392], activation);
      assertClose(native, stock, 'fused', GEMM_TOL);
    });
  }

  test('a per-row bias (not over the last dim) falls back', async () => {
    const [stock, native] = await fused([3, 5], [5, 4], false, false, [3, 1], 'relu');
    assert.deepEqual(native.shape, [3, 4]);
    assertClose(native, stock, 'fused', GEMM_TOL);
  });

  for (const activation of ['elu', 'sigmoid', 'relu6', 'leakyrelu', 'prelu'] as const) {
    test(`${activation} falls back to the stock kernel`, async () => {
      const [stock, native] = await fused([8, 16], [16, 12], false, false, [12], activation);
      assertClose(native, stock, 'fused', GEMM_TOL);
    });
  }
});
