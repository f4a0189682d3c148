import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnsafeKeyError } from '../errors/index';
import { assertSafeKey, assertSafePrefix } from './safe-key';

test('safe keys: ordinary keys pass', () => {
  assertSafeKey('runs/r/checkpoints/0000000001/model.json');
  assertSafeKey('a');
  assertSafePrefix('');
  assertSafePrefix('runs/');
  assertSafePrefix('runs/r');
});

test('safe keys: anything that could leave the root is refused', () => {
  for (const bad of [
    '',
    '/abs',
    '../x',
    'a/../b',
    'a/./b',
    'a//b',
    'a/',
    'a\\b',
    'a\0b',
    '..',
    '.',
    'x'.repeat(1025),
  ]) {
    assert.throws(() => assertSafeKey(bad), UnsafeKeyError, JSON.stringify(bad));
  }
  for (const bad of ['../', '/', 'a//', '../x']) assert.throws(() => assertSafePrefix(bad), UnsafeKeyError, bad);
});
