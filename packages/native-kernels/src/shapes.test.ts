import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { broadcastMeta, reducePlan } from './shapes';

describe('broadcastMeta', () => {
  test('strides are 0 where an operand broadcasts, row-major elsewhere', () => {
    // out [128, 784]; a [128, 1] steps one row per output row and stays put along it; b [784] the other way round.
    assert.deepEqual([...(broadcastMeta([128, 1], [784], [128, 784]) ?? [])], [2, 128, 784, 1, 0, 0, 1]);
    assert.deepEqual([...(broadcastMeta([], [2, 3], [2, 3]) ?? [])], [2, 2, 3, 0, 0, 3, 1]);
    assert.deepEqual([...(broadcastMeta([], [], []) ?? [])], [0]);
  });

  test('null for shapes that do not broadcast or exceed rank 8', () => {
    assert.equal(broadcastMeta([3], [4], [4]), null);
    assert.equal(broadcastMeta(Array(9).fill(1), [1], Array(9).fill(1)), null);
  });
});

describe('reducePlan', () => {
  test('kept axes first, then reduced axes in the order given', () => {
    const plan = reducePlan([4, 5, 6], [2, 0], false);
    assert.deepEqual([...(plan?.meta ?? [])], [3, 1, 5, 6, 4, 6, 1, 30]);
    assert.deepEqual(plan?.outShape, [5]);
    assert.equal(plan?.reduceSize, 24);
  });

  test('keepDims keeps reduced axes as 1', () => {
    assert.deepEqual(reducePlan([128, 784], [0], true)?.outShape, [1, 784]);
    assert.deepEqual(reducePlan([128, 784], [0, 1], false)?.outShape, []);
  });

  test('null for repeated or out-of-range axes', () => {
    assert.equal(reducePlan([2, 3], [1, 1], false), null);
    assert.equal(reducePlan([2, 3], [2], false), null);
  });
});
