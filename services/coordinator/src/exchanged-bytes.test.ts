import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exchangedBytes } from './queue-source';

describe('exchangedBytes (gradq_exchanged_bytes_total per step)', () => {
  const P = 770_084; // the default model's parameters; 4 bytes each as float32

  test('sync, one job, f32: publish + fetch + gradient written + read = 4 model transfers', () => {
    assert.equal(exchangedBytes(P, 1, 4, 0), 4 * 4 * P);
  });

  test('sync, one job opened deferred and never asked for: the gradient written and read, no parameters', () => {
    assert.equal(exchangedBytes(P, 1, 4, 0, false), 2 * 4 * P);
  });

  test('sync, 3 jobs, bf16 gradients: (1 + 3) parameter transfers and 6 half-size gradient transfers', () => {
    assert.equal(exchangedBytes(P, 3, 2, 0), 4 * 4 * P + 6 * 2 * P);
  });

  test('local, 4 replicas, keep: (1 + 3R) model transfers, plus two moments written and read per replica', () => {
    assert.equal(exchangedBytes(P, 4, 4, 4), (1 + 3 * 4) * 4 * P + 4 * 4 * 4 * P);
    // reset moves 13 of keep's 29 transfers: 3/7 asymptotically in R.
    assert.equal(exchangedBytes(P, 4, 4, 0) / exchangedBytes(P, 4, 4, 4), 13 / 29);
  });
});
