import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadAddon } from '@gradq/native-kernels';
import { skipWithoutNative } from '@gradq/native-kernels/test-support';
import { firstNonFinite } from './finite';

/** The definition, value by value: what the native scan must agree with. */
function reference(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return i;
  return -1;
}

describe('firstNonFinite', { skip: skipWithoutNative() }, () => {
  const n = 770_084; // the seed model's parameters: whole 1,024-value chunks and a ragged tail
  const clean = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3.4e38);

  test('finds the first NaN or infinity wherever it sits, and -1 when there is none', () => {
    const native = loadAddon().firstNonFinite;
    assert.equal(firstNonFinite(clean), -1);
    assert.equal(native(new Float32Array(0)), -1);
    // Chunk edges, the tail, and a second bad value after the first: the first one wins.
    for (const at of [0, 1, 1023, 1024, 1025, 500_000, n - 2, n - 1]) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const values = clean.slice();
        values[at] = bad;
        if (at + 7 < n) values[at + 7] = Number.NaN;
        assert.equal(native(values), at, `${bad} at ${at}`);
        assert.equal(firstNonFinite(values), reference(values));
      }
    }
  });

  test('the largest finite values, subnormals and negative zero are finite', () => {
    const edge = Float32Array.from([3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, -0, 0]);
    assert.equal(loadAddon().firstNonFinite(edge), -1);
  });

  test('a view with an offset is scanned from its own first value', () => {
    const values = clean.slice(0, 4096);
    values[10] = Number.NaN;
    values[3000] = Number.NaN;
    assert.equal(loadAddon().firstNonFinite(values.subarray(11)), 3000 - 11);
  });
});
