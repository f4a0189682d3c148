import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { epochRng, Rng, shuffledOrder } from './rng';

function draw(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.nextUint32());
}

function isPermutation(order: Uint32Array): boolean {
  const seen = new Uint8Array(order.length);
  for (const i of order) {
    if (i >= order.length || seen[i]) return false;
    seen[i] = 1;
  }
  return true;
}

describe('Rng', () => {
  test('is deterministic for a seed', () => {
    assert.deepEqual(draw(Rng.fromSeed(7), 100), draw(Rng.fromSeed(7), 100));
  });

  test('the stream is pinned: changing it would break resuming checkpoints written by earlier versions', () => {
    assert.deepEqual(draw(Rng.fromSeed(1), 4), [1828152527, 3394835397, 2967886022, 2251045104]);
    assert.deepEqual([...shuffledOrder(10, epochRng(1, 0))], [6, 1, 8, 2, 3, 5, 4, 7, 0, 9]);
  });

  test('nearby seeds give unrelated streams', () => {
    const firsts = new Set(Array.from({ length: 1000 }, (_, seed) => Rng.fromSeed(seed).nextUint32()));
    assert.equal(firsts.size, 1000);
    const a = draw(Rng.fromSeed(0), 50);
    const b = draw(Rng.fromSeed(1), 50);
    assert.equal(a.filter((x, i) => x === b[i]).length, 0, 'seeds 0 and 1 share values at the same positions');
  });

  test('seeds are taken as uint32', () => {
    assert.deepEqual(draw(Rng.fromSeed(2 ** 32 + 5), 5), draw(Rng.fromSeed(5), 5));
  });

  test('fromState(state) continues the same stream', () => {
    const rng = Rng.fromSeed(123);
    draw(rng, 17);
    const saved = rng.state;
    const expected = draw(rng, 50);
    // Through JSON, as a checkpoint stores it.
    const restored = Rng.fromState(JSON.parse(JSON.stringify(saved)));
    assert.deepEqual(draw(restored, 50), expected);
  });

  test('state is a snapshot, not a live view', () => {
    const rng = Rng.fromSeed(9);
    const saved = rng.state;
    const copy = [...saved];
    draw(rng, 5);
    assert.deepEqual(saved, copy);
    saved[0] = 0;
    assert.notEqual(rng.state[0], 0);
  });

  test('fromState rejects anything that is not four uint32 words', () => {
    for (const bad of [
      [1, 2, 3],
      [1, 2, 3, 4, 5],
      [1, 2, 3, -1],
      [1, 2, 3, 2 ** 32],
      [1, 2, 3, 0.5],
      [1, 2, 3, Number.NaN],
    ]) {
      assert.throws(() => Rng.fromState(bad), { name: 'RangeError', message: /four uint32 words/ }, `[${bad}]`);
    }
    assert.deepEqual(Rng.fromState([0, 0, 0, 0xffffffff]).state, [0, 0, 0, 0xffffffff]);
  });

  test('below(n) stays in [0, n) and is close to uniform', () => {
    const rng = Rng.fromSeed(5);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = rng.below(10);
      assert.ok(Number.isInteger(x) && x >= 0 && x < 10, `below(10) gave ${x}`);
      counts[x] = (counts[x] as number) + 1;
    }
    // 10,000 expected per value; the standard deviation is ~95, so 600 is a >6 sigma margin (and the seed is fixed).
    for (const c of counts) assert.ok(Math.abs(c - 10_000) < 600, `counts ${counts}`);
    assert.equal(rng.below(1), 0);
    const big = rng.below(2 ** 32);
    assert.ok(big >= 0 && big < 2 ** 32, `below(2^32) gave ${big}`);
  });

  test('below rejects a bad bound', () => {
    const rng = Rng.fromSeed(1);
    for (const n of [0, -1, 2.5, 2 ** 32 + 1, Number.NaN]) {
      assert.throws(() => rng.below(n), { name: 'RangeError' }, String(n));
    }
  });
});

describe('shuffledOrder', () => {
  test('is a permutation of 0..count-1', () => {
    for (const count of [0, 1, 2, 3, 10, 1000, 60_000]) {
      const order = shuffledOrder(count, Rng.fromSeed(count));
      assert.equal(order.length, count);
      assert.ok(isPermutation(order), `count ${count}`);
    }
  });

  test('is deterministic for an RNG state and actually shuffles', () => {
    const a = shuffledOrder(1000, Rng.fromSeed(3));
    assert.deepEqual(shuffledOrder(1000, Rng.fromSeed(3)), a);
    assert.notDeepEqual(shuffledOrder(1000, Rng.fromSeed(4)), a);
    const fixed = a.filter((v, i) => v === i).length;
    // A random permutation has about one fixed point on average.
    assert.ok(fixed < 10, `${fixed} of 1000 samples stayed in place`);
  });

  test('every position receives every sample about equally often (no Fisher-Yates off-by-one bias)', () => {
    const n = 4;
    const counts = new Array<number>(n * n).fill(0);
    const rng = Rng.fromSeed(11);
    for (let t = 0; t < 24_000; t++) {
      for (const [pos, sample] of shuffledOrder(n, rng).entries()) {
        counts[pos * n + sample] = (counts[pos * n + sample] as number) + 1;
      }
    }
    // 6,000 expected per cell; a biased shuffle (e.g. j drawn from [0, n)) is off by far more than 400.
    for (const c of counts) assert.ok(Math.abs(c - 6000) < 400, `position x sample counts ${counts}`);
  });
});

describe('epochRng', () => {
  test('is the same for the same seed and epoch, so any epoch can be recomputed on resume', () => {
    assert.deepEqual(shuffledOrder(500, epochRng(8, 3)), shuffledOrder(500, epochRng(8, 3)));
  });

  test('differs per epoch and per seed', () => {
    const orders = new Set<string>();
    for (let seed = 0; seed < 10; seed++) {
      for (let epoch = 0; epoch < 20; epoch++) orders.add(shuffledOrder(100, epochRng(seed, epoch)).join(','));
    }
    assert.equal(orders.size, 200);
    assert.notDeepEqual(shuffledOrder(100, epochRng(1, 0)), shuffledOrder(100, epochRng(0, 1)));
  });
});
