import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockTiming } from './engine-timing';

test('blockTiming: the median call over the block, with the range; no calls is an error', () => {
  // 1,024 samples, calls of 40, 50, 60 and 45 ms: median 47.5 ms, 46.4 us per sample.
  const t = blockTiming(1024, [40, 50, 60, 45]);
  assert.deepEqual(
    { ...t, ms_per_sample: Math.round(t.ms_per_sample * 1e6) / 1e6 },
    { samples: 1024, calls: 4, ms_median: 47.5, ms_min: 40, ms_max: 60, ms_per_sample: 0.046387 },
  );
  assert.throws(() => blockTiming(128, []), /no calls timed/);
});
