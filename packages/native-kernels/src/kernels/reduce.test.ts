import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { assertBitIdentical, both, setUpBackends, skipWithoutNative, tensor } from '../test-support';

const skip = skipWithoutNative();

// [shape, axis]: the bias-gradient Sum over the batch axis, the MSE Mean over everything, inner and outer axes,
// axis order (tfjs reduces in the order given), several axes, rank 0 and 1.
const CASES: [number[], number | number[] | null][] = [
  [[128, 784], 0],
  [[128, 784], null],
  [[128, 784], 1],
  [[128, 784], -1],
  [
    [128, 784],
    [0, 1],
  ],
  [
    [128, 784],
    [1, 0],
  ],
  [
    [4, 5, 6],
    [0, 2],
  ],
  [
    [4, 5, 6],
    [2, 0],
  ],
  [[4, 5, 6], 1],
  [
    [2, 3, 4, 5],
    [1, 3],
  ],
  [
    [2, 3, 4, 5],
    [3, 1, 0],
  ],
  [[1000], 0],
  [[], null],
  [[7, 1, 3], 1],
];

const OPS: [string, (x: tf.Tensor, axis: number | number[] | null, keepDims: boolean) => tf.Tensor][] = [
  ['Sum', (x, axis, keepDims) => tf.sum(x, axis ?? undefined, keepDims)],
  ['Mean', (x, axis, keepDims) => tf.mean(x, axis ?? undefined, keepDims)],
];

describe('Sum and Mean are bit-identical to tfjs-backend-cpu', { skip }, () => {
  before(setUpBackends);
  for (const [name, op] of OPS) {
    for (const [shape, axis] of CASES) {
      for (const keepDims of [false, true]) {
        test(`${name} [${shape}] axis ${JSON.stringify(axis)}${keepDims ? ' keepDims' : ''}`, async () => {
          const [stock, native] = await both(() => op(tensor(shape, 3, 1), axis, keepDims));
          assertBitIdentical(native, stock, name);
        });
      }
    }
    test(`${name} of large and cancelling terms`, async () => {
      const values = Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? 1e8 : i % 3 === 1 ? -1e8 : 0.1 * i));
      const [stock, native] = await both(() => op(tf.tensor(values, [200, 3]), 0, false));
      assertBitIdentical(native, stock, name);
    });
    test(`${name} int32 and bool fall back to the stock kernel`, async () => {
      const [stockI, nativeI] = await both(() => op(tf.tensor([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), 1, false));
      assertBitIdentical(nativeI, stockI, `${name} int32`);
      const [stockB, nativeB] = await both(() => op(tf.tensor([1, 0, 1, 1], [2, 2], 'bool'), 0, false));
      assertBitIdentical(nativeB, stockB, `${name} bool`);
    });
    test(`${name} of an empty tensor falls back`, async () => {
      const [stock, native] = await both(() => op(tf.zeros([0, 3]), 0, false));
      assertBitIdentical(native, stock, name);
    });
  }
});
