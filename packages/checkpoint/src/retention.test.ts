import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectForDeletion } from './retention';

const c = (step: number, epochEnd = false, complete = true) => ({ step, epochEnd, complete });

test('retention: keeps the newest N complete checkpoints', () => {
  const all = [c(10), c(20), c(30), c(40), c(50)];
  assert.deepEqual(selectForDeletion(all, { keep: 3, keepEpochs: false }), [10, 20]);
  assert.deepEqual(selectForDeletion(all, { keep: 10, keepEpochs: false }), []);
  // keep is at least 1: the newest checkpoint is never deleted by a misconfiguration.
  assert.deepEqual(selectForDeletion(all, { keep: 0, keepEpochs: false }), [10, 20, 30, 40]);
  assert.deepEqual(selectForDeletion([], { keep: 3, keepEpochs: false }), []);
});

test('retention: epoch ends kept when asked', () => {
  const all = [c(10, true), c(20), c(30, true), c(40), c(50), c(60)];
  assert.deepEqual(selectForDeletion(all, { keep: 2, keepEpochs: true }), [20, 40]);
  assert.deepEqual(selectForDeletion(all, { keep: 2, keepEpochs: false }), [10, 20, 30, 40]);
});

test('retention: the protected step survives; abandoned incomplete saves go, in-progress ones stay', () => {
  const all = [c(10), c(20, false, false), c(30), c(40), c(50, false, false)];
  assert.deepEqual(selectForDeletion(all, { keep: 1, keepEpochs: false, protect: 10 }), [30]);
  // Incomplete ones do not count towards `keep`.
  assert.deepEqual(selectForDeletion(all, { keep: 2, keepEpochs: false, inProgressFrom: 40 }), [10, 20]);
  assert.deepEqual(selectForDeletion(all, { keep: 2, keepEpochs: false, inProgressFrom: 60 }), [10, 20, 50]);
});
