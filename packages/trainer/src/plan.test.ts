import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ShardSpan, shardSpans, stepsPerEpoch } from './plan';

/** Checks every property a step's shards must have; returns the spans for further checks. */
function checkStep(samples: number, batchSize: number, k: number, step: number): ShardSpan[] {
  const spans = shardSpans(samples, batchSize, k, step);
  const label = `N=${samples} B=${batchSize} K=${k} step ${step}`;
  const batchStart = step * batchSize;
  const batchEnd = Math.min(batchStart + batchSize, samples);
  // Contiguous, in order, no gaps or overlaps: together exactly the batch.
  let cursor = batchStart;
  for (const span of spans) {
    assert.equal(span.start, cursor, label);
    assert.ok(span.end > span.start, `${label}: empty shard ${span.shard}`);
    cursor = span.end;
  }
  assert.equal(cursor, batchEnd, label);
  const sizes = spans.map((s) => s.end - s.start);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${label}: sizes ${sizes}`);
  assert.equal(spans.length, Math.min(k, batchEnd - batchStart), label);
  const ids = spans.map((s) => s.shard);
  assert.ok(
    ids.every((id, i) => Number.isInteger(id) && id >= 0 && id < k && (i === 0 || id > (ids[i - 1] as number))),
    `${label}: shard ids ${ids}`,
  );
  return spans;
}

describe('stepsPerEpoch', () => {
  test('rounds up so that a short last batch still trains', () => {
    assert.equal(stepsPerEpoch(60_000, 128), 469);
    assert.equal(stepsPerEpoch(512, 128), 4);
    assert.equal(stepsPerEpoch(513, 128), 5);
    assert.equal(stepsPerEpoch(1, 128), 1);
  });
});

describe('shardSpans', () => {
  test('covers every batch of an epoch exactly once, shard sizes differing by at most one', () => {
    for (const samples of [1, 7, 100, 128, 129, 1000]) {
      for (const batchSize of [1, 3, 32, 128]) {
        for (const k of [1, 2, 3, 4, 7, 8]) {
          const covered = new Uint8Array(samples);
          for (let step = 0; step < stepsPerEpoch(samples, batchSize); step++) {
            for (const { start, end } of checkStep(samples, batchSize, k, step)) {
              for (let i = start; i < end; i++) covered[i] = (covered[i] as number) + 1;
            }
          }
          assert.ok(
            covered.every((c) => c === 1),
            `N=${samples} B=${batchSize} K=${k}: not covered exactly once`,
          );
        }
      }
    }
  });

  test('a full batch splits into K slices', () => {
    assert.deepEqual(shardSpans(60_000, 128, 4, 0), [
      { shard: 0, start: 0, end: 32 },
      { shard: 1, start: 32, end: 64 },
      { shard: 2, start: 64, end: 96 },
      { shard: 3, start: 96, end: 128 },
    ]);
    assert.deepEqual(
      shardSpans(60_000, 10, 3, 2).map((s) => s.end - s.start),
      [3, 3, 4],
    );
  });

  test('the short last batch of an epoch', () => {
    // 60,000 = 468 * 128 + 96: the last step has 96 samples, 24 per shard.
    const spans = checkStep(60_000, 128, 4, 468);
    assert.deepEqual(
      spans.map((s) => [s.start, s.end]),
      [
        [59_904, 59_928],
        [59_928, 59_952],
        [59_952, 59_976],
        [59_976, 60_000],
      ],
    );
    assert.deepEqual(
      checkStep(1000, 128, 3, 7).map((s) => s.end - s.start),
      [34, 35, 35],
    );
  });

  test('a batch shorter than K leaves out the empty shards', () => {
    // 130 samples, batch 128: the second step has 2 samples for 4 shards.
    const spans = checkStep(130, 128, 4, 1);
    assert.equal(spans.length, 2);
    assert.deepEqual(
      spans.map((s) => [s.start, s.end]),
      [
        [128, 129],
        [129, 130],
      ],
    );
    assert.equal(checkStep(1, 128, 8, 0).length, 1);
  });

  test('a step past the end of the epoch throws', () => {
    assert.throws(() => shardSpans(512, 128, 4, 4), { name: 'RangeError', message: /step 4 is past the end/ });
    assert.throws(() => shardSpans(0, 128, 4, 0), { name: 'RangeError' });
  });
});
