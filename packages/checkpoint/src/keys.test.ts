import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnsafeKeyError } from './errors/index';
import {
  checkpointFileKey,
  checkpointPrefix,
  formatStep,
  latestKey,
  parseCheckpointKey,
  parseRunId,
  parseStep,
  runPrefix,
} from './keys';

test('keys: layout of a run', () => {
  assert.equal(runPrefix('run-1'), 'runs/run-1/');
  assert.equal(checkpointPrefix('run-1', 42), 'runs/run-1/checkpoints/0000000042/');
  assert.equal(checkpointFileKey('run-1', 42, 'model.json'), 'runs/run-1/checkpoints/0000000042/model.json');
  assert.equal(latestKey('run-1'), 'runs/run-1/latest');
  // Zero padding makes lexicographic listing order numeric order.
  assert.ok(formatStep(9) < formatStep(10));
  assert.equal(formatStep(9_999_999_999), '9999999999');
});

test('keys: run ids, steps and file names that could escape are refused', () => {
  for (const bad of ['..', '../x', 'a/b', '/abs', '', '.hidden', 'a..b', 'x'.repeat(65), 'a\\b']) {
    assert.throws(() => runPrefix(bad), UnsafeKeyError, bad);
  }
  for (const bad of [-1, 1.5, Number.NaN, 1e10, Number.POSITIVE_INFINITY]) {
    assert.throws(() => checkpointPrefix('r', bad), UnsafeKeyError, String(bad));
  }
  for (const bad of ['../latest', 'a/b', '..', '.x', '/etc/passwd', '', 'a\0b']) {
    assert.throws(() => checkpointFileKey('r', 1, bad), UnsafeKeyError, bad);
  }
});

test('keys: parseStep accepts plain digits only', () => {
  assert.equal(parseStep('0'), 0);
  assert.equal(parseStep('0000000042'), 42);
  for (const bad of ['-1', '1e3', '0x10', '1.0', '', ' 1', '12345678901']) {
    assert.throws(() => parseStep(bad), UnsafeKeyError, bad);
  }
});

test('keys: parsing keys back', () => {
  assert.deepEqual(parseCheckpointKey('r', 'runs/r/checkpoints/0000000007/weights.bin'), {
    step: 7,
    file: 'weights.bin',
  });
  assert.equal(parseCheckpointKey('r', 'runs/r/checkpoints/7/weights.bin'), undefined);
  assert.equal(parseCheckpointKey('r', 'runs/r/checkpoints/0000000007/sub/weights.bin'), undefined);
  assert.equal(parseCheckpointKey('r', 'runs/other/checkpoints/0000000007/weights.bin'), undefined);
  assert.equal(parseRunId('runs/r-1/latest'), 'r-1');
  assert.equal(parseRunId('runs/../x'), undefined);
  assert.equal(parseRunId('elsewhere/r/latest'), undefined);
});
