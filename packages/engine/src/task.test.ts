import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gatherLeaf } from './task';

describe('gatherLeaf', () => {
  // Sample i is [i, i + 100, i + 200] (mod 256), so every copied byte says which sample and pixel it came from.
  const sampleSize = 3;
  const count = 50;
  const pixels = Uint8Array.from({ length: count * sampleSize }, (_, j) => (Math.floor(j / 3) + (j % 3) * 100) % 256);

  test('copies the samples at order[start..end) in that order', () => {
    const order = Uint32Array.from([4, 49, 0, 17, 17, 3]);
    const out = gatherLeaf(pixels, sampleSize, order, { start: 1, end: 5 });
    assert.deepEqual([...out], [49, 149, 249, 0, 100, 200, 17, 117, 217, 17, 117, 217]);
  });

  test('is a copy: later changes to the source do not show', () => {
    const source = Uint8Array.from(pixels);
    const out = gatherLeaf(source, sampleSize, Uint32Array.from([2]), { start: 0, end: 1 });
    source.fill(0);
    assert.deepEqual([...out], [2, 102, 202]);
  });

  test('an empty range gives no bytes; a full permutation gives all of them', () => {
    assert.equal(gatherLeaf(pixels, sampleSize, Uint32Array.from([1, 2]), { start: 1, end: 1 }).length, 0);
    const order = Uint32Array.from({ length: count }, (_, i) => count - 1 - i);
    const out = gatherLeaf(pixels, sampleSize, order, { start: 0, end: count });
    assert.equal(out.length, pixels.length);
    for (let i = 0; i < count; i++) {
      assert.deepEqual(out.subarray(i * 3, i * 3 + 3), pixels.subarray((count - 1 - i) * 3, (count - i) * 3));
    }
  });
});
