import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type WeightedGradient, weightedAverage } from './average';

/** The definition, written the obvious way: sum(count_i * grad_i) / sum(count_i) per element, in float64. */
function naiveAverage(parts: readonly WeightedGradient[]): Float32Array {
  const length = parts[0]?.grad.length ?? 0;
  const total = parts.reduce((sum, p) => sum + p.count, 0);
  return Float32Array.from({ length }, (_, j) => {
    let sum = 0;
    for (const p of parts) if (p.count > 0) sum += p.count * (p.grad[j] as number);
    return sum / total;
  });
}

/** A small seeded generator (mulberry32) so that every run tests the same "random" cases. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomParts(rand: () => number, shards: number, length: number, maxCount: number): WeightedGradient[] {
  return Array.from({ length: shards }, () => ({
    grad: Float32Array.from({ length }, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 4)),
    count: Math.floor(rand() * (maxCount + 1)),
  }));
}

describe('weightedAverage', () => {
  test('matches the naive reference bit for bit on random shards', () => {
    const rand = random(42);
    for (let round = 0; round < 50; round++) {
      const parts = randomParts(rand, 1 + Math.floor(rand() * 8), 1 + Math.floor(rand() * 40), 50);
      if (parts.every((p) => p.count === 0)) (parts[0] as { count: number }).count = 1;
      assert.deepEqual(weightedAverage(parts), naiveAverage(parts), `round ${round}`);
    }
  });

  test('weights by sample count, not by shard', () => {
    const parts = [
      { grad: Float32Array.of(1, 10), count: 3 },
      { grad: Float32Array.of(5, -2), count: 1 },
    ];
    // (3*1 + 1*5) / 4 = 2 and (3*10 + 1*-2) / 4 = 7; an unweighted mean would give 3 and 4.
    assert.deepEqual(weightedAverage(parts), Float32Array.of(2, 7));
  });

  test('one shard returns its gradient unchanged, in a new array', () => {
    const grad = Float32Array.of(0.1, -3.5, 1e-30, 7e20);
    const result = weightedAverage([{ grad, count: 17 }]);
    assert.deepEqual(result, grad);
    assert.notEqual(result, grad);
  });

  test('shards with zero samples contribute nothing, even a garbage gradient', () => {
    const a = { grad: Float32Array.of(2, 4, 6), count: 5 };
    const b = { grad: Float32Array.of(-1, 0, 3), count: 3 };
    const empty = { grad: Float32Array.of(Number.NaN, Number.POSITIVE_INFINITY, 1e30), count: 0 };
    const expected = weightedAverage([a, b]);
    assert.deepEqual(weightedAverage([empty, a, empty, b, empty]), expected);
    assert.ok(expected.every(Number.isFinite), 'a zero-count shard leaked into the average');
  });

  test('accumulates in float64 and rounds to float32 once', () => {
    // In float32, 1e8 + 1 rounds back to 1e8, so accumulating in float32 would give 0 here instead of 1/3.
    const parts = [
      { grad: Float32Array.of(1e8), count: 1 },
      { grad: Float32Array.of(1), count: 1 },
      { grad: Float32Array.of(-1e8), count: 1 },
    ];
    assert.equal(weightedAverage(parts)[0], Math.fround(1 / 3));
  });

  test('writes into `out` when given and returns it', () => {
    const parts = [
      { grad: Float32Array.of(1, 2), count: 1 },
      { grad: Float32Array.of(3, 4), count: 1 },
    ];
    const out = new Float32Array(2).fill(99);
    assert.equal(weightedAverage(parts, out), out);
    assert.deepEqual(out, Float32Array.of(2, 3));
    assert.throws(() => weightedAverage(parts, new Float32Array(3)), {
      name: 'RangeError',
      message: /out has 3 values, expected 2/,
    });
  });

  test('empty input throws', () => {
    assert.throws(() => weightedAverage([]), { name: 'RangeError', message: /no gradients/ });
  });

  test('mismatched lengths throw, naming the shard', () => {
    const parts = [
      { grad: new Float32Array(4), count: 1 },
      { grad: new Float32Array(4), count: 1 },
      { grad: new Float32Array(5), count: 1 },
    ];
    assert.throws(() => weightedAverage(parts), {
      name: 'RangeError',
      message: /gradient 2 has 5 values, expected 4/,
    });
  });

  test('a total of zero samples throws', () => {
    const parts = [
      { grad: new Float32Array(3), count: 0 },
      { grad: new Float32Array(3), count: 0 },
    ];
    assert.throws(() => weightedAverage(parts), { name: 'RangeError', message: /zero samples/ });
  });

  test('negative or fractional counts throw', () => {
    for (const count of [-1, 1.5, Number.NaN]) {
      assert.throws(
        () =>
          weightedAverage([
            { grad: new Float32Array(1), count: 2 },
            { grad: new Float32Array(1), count },
          ]),
        { name: 'RangeError', message: /gradient 1 has an invalid sample count/ },
      );
    }
  });
});
