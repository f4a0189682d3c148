import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { assertBitIdentical, both, setUpBackends, skipWithoutNative, tensor } from '../test-support';

const skip = skipWithoutNative();

// [a shape, b shape]: same shape, scalars either side, the MSE gradient's [128,1]x[128,784], bias adds, batch dims,
// inner broadcast, rank 0, empty.
const BROADCASTS: [number[], number[]][] = [
  [
    [128, 784],
    [128, 784],
  ],
  [[392, 784], []],
  [[], [392, 784]],
  [
    [1, 1],
    [128, 784],
  ],
  [
    [128, 1],
    [128, 784],
  ],
  [
    [128, 784],
    [128, 1],
  ],
  [[128, 784], [784]],
  [[784], [128, 784]],
  [
    [2, 1, 3],
    [4, 1],
  ],
  [
    [3, 1, 4, 1, 2],
    [1, 5, 1, 3, 2],
  ],
  [[], []],
  [[0, 3], [3]],
  [[7], [7]],
];

const BINARY: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
  ['Add', tf.add],
  ['Sub', tf.sub],
  ['Multiply', tf.mul],
  ['RealDiv', tf.div],
  ['SquaredDifference', tf.squaredDifference],
];

describe('binary kernels are bit-identical to tfjs-backend-cpu', { skip }, () => {
  before(setUpBackends);
  for (const [name, op] of BINARY) {
    for (const [sa, sb] of BROADCASTS) {
      test(`${name} [${sa}] x [${sb}]`, async () => {
        const [stock, native] = await both(() => op(tensor(sa, 11, 3), tensor(sb, 17, 3)));
        assertBitIdentical(native, stock, name);
      });
    }
    test(`${name} int32 falls back to the stock kernel`, async () => {
      const [stock, native] = await both(() =>
        op(tf.tensor([1, -7, 9, 4], [2, 2], 'int32'), tf.tensor([3, 2], [2], 'int32')),
      );
      assertBitIdentical(native, stock, name);
    });
  }

  test('special values: zeros, infinities, NaN, subnormals, -0', async () => {
    const specials = [0, -0, 1, -1, Infinity, -Infinity, Number.NaN, 1e-45, -3e-39, 3.4e38, 1e-20, 7];
    for (const [name, op] of BINARY) {
      const [stock, native] = await both(() => op(tf.tensor(specials, [12, 1]), tf.tensor(specials, [1, 12])));
      assertBitIdentical(native, stock, name);
    }
  });
});

const UNARY: [string, (x: tf.Tensor) => tf.Tensor, string][] = [
  ['Sqrt', tf.sqrt, 'Sqrt'],
  ['Square', tf.square, 'Square'],
  ['Relu', tf.relu, 'Relu'],
  ['Step', (x) => tf.step(x), 'Step'],
  ['Step alpha 0.25', (x) => tf.step(x, 0.25), 'Step'],
];

describe('unary kernels are bit-identical to tfjs-backend-cpu', { skip }, () => {
  before(setUpBackends);
  for (const [name, op, kernel] of UNARY) {
    for (const shape of [[128, 392], [784], [], [0]]) {
      test(`${name} [${shape}]`, async () => {
        const [stock, native] = await both(() => op(tensor(shape, 5, 4)));
        assertBitIdentical(native, stock, name);
      });
    }
    test(`${name} special values`, async () => {
      const [stock, native] = await both(() =>
        op(tf.tensor([0, -0, 1, -1, Infinity, -Infinity, Number.NaN, 1e-45, 2e-38, 3.4e38])),
      );
      assertBitIdentical(native, stock, name);
    });
    test(`${name} int32 falls back to the stock kernel`, async () => {
      // Through the engine: some ops (sqrt) refuse int32 before reaching the kernel.
      const [stock, native] = await both(
        () => tf.engine().runKernel(kernel, { x: tf.tensor([4, -9, 0, 16], [4], 'int32') }, { alpha: 0 }) as tf.Tensor,
      );
      assertBitIdentical(native, stock, name);
    });
  }
});
