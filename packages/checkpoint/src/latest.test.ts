import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from './backoff';
import { encodeLatest, parseLatest } from './latest';

test('latest: round trip and malformed pointers', () => {
  assert.equal(parseLatest(encodeLatest(1200)), 1200);
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.throws(() => parseLatest(enc('12')), /names no step/);
  assert.throws(() => parseLatest(enc('{"step":-1}')), /invalid step/);
  assert.throws(() => parseLatest(enc('{"step":"../x"}')), /names no step/);
  assert.throws(() => parseLatest(enc('garbage')), /not JSON/);
});

test('backoff: doubles from the base and is capped', () => {
  const retry = { attempts: 8, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(retry, a)),
    [100, 200, 400, 800, 1000, 1000],
  );
});
