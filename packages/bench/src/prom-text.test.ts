import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMetricsText } from '@gradq/testing';
import { addTotals, deltaSamples, histogram, meanOf, sumOf } from './prom-text';

const BODY = `# HELP gradq_step_part_duration_seconds Wall time of each part of a step.
# TYPE gradq_step_part_duration_seconds histogram
gradq_step_part_duration_seconds_bucket{le="0.001",part="average",role="coordinator"} 3
gradq_step_part_duration_seconds_bucket{le="+Inf",part="average",role="coordinator"} 10
gradq_step_part_duration_seconds_sum{part="average",role="coordinator"} 0.05
gradq_step_part_duration_seconds_count{part="average",role="coordinator"} 10
gradq_step_part_duration_seconds_sum{part="optimizer",role="coordinator"} 0.2
gradq_step_part_duration_seconds_count{part="optimizer",role="coordinator"} 10
gradq_transfer_bytes_total{kind="gradients",role="coordinator"} 1.2e+7
`;

test('histogram means come from _sum/_count of the matching series only', () => {
  const samples = parseMetricsText(BODY);
  const avg = histogram(samples, 'gradq_step_part_duration_seconds', { part: 'average' });
  assert.deepEqual(avg, { sum: 0.05, count: 10 });
  assert.equal(meanOf(avg), 0.005);
  assert.ok(Number.isNaN(meanOf(histogram(samples, 'gradq_missing_seconds'))));
  assert.equal(sumOf(samples, 'gradq_transfer_bytes_total', { kind: 'gradients' }), 12_000_000);
  assert.ok(Number.isNaN(sumOf(samples, 'gradq_transfer_bytes_total', { kind: 'params' })));
});

test('addTotals combines scrapes and ignores the missing ones', () => {
  assert.deepEqual(
    addTotals([
      { sum: 1, count: 2 },
      { sum: Number.NaN, count: Number.NaN },
      { sum: 3, count: 4 },
    ]),
    { sum: 4, count: 6 },
  );
});

test('deltaSamples subtracts cumulative series and keeps gauges', () => {
  const base = parseMetricsText('a_total 3\nh_sum{x="1"} 1.5\nh_count{x="1"} 3\ng 7\n');
  const last = parseMetricsText('a_total 10\nh_sum{x="1"} 2.5\nh_count{x="1"} 5\nh_count{x="2"} 4\ng 9\n');
  assert.deepEqual(
    deltaSamples(last, base).map((s) => s.value),
    [7, 1, 2, 4, 9],
  );
});
