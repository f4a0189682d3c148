import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricValue, parseMetricsText } from './metrics-text';

const BODY = `# HELP gradq_step_part_duration_seconds Wall time of each part of a step.
# TYPE gradq_step_part_duration_seconds histogram
gradq_step_part_duration_seconds_bucket{le="0.001",part="average",role="coordinator"} 3
gradq_step_part_duration_seconds_bucket{le="+Inf",part="average",role="coordinator"} 10
gradq_step_part_duration_seconds_sum{part="average",role="coordinator"} 0.05
gradq_step_part_duration_seconds_count{part="average",role="coordinator"} 10
gradq_step_part_duration_seconds_sum{part="optimizer",role="coordinator"} 0.2
gradq_step_part_duration_seconds_count{part="optimizer",role="coordinator"} 10
gradq_transfer_bytes_total{kind="gradients",role="coordinator"} 1.2e+7
gradq_train_loss{role="coordinator"} NaN
weird{msg="a \\"quoted\\" value"} 1
`;

// From packages/bench's parsePromText test, whose parser this one replaced.
test('parseMetricsText reads names, labels (with escapes) and values, skipping comments', () => {
  const samples = parseMetricsText(BODY);
  assert.equal(samples.length, 9);
  assert.deepEqual(samples[1], {
    name: 'gradq_step_part_duration_seconds_bucket',
    labels: { le: '+Inf', part: 'average', role: 'coordinator' },
    value: 10,
  });
  assert.ok(Number.isNaN(samples[7]?.value));
  assert.equal(samples.at(-1)?.labels.msg, 'a "quoted" value');
});

test('a line that is not a sample is an error, not skipped: a test must not read a garbled scrape as a good one', () => {
  assert.throws(() => parseMetricsText(`${BODY}not a metric line\n`), /not a metrics sample line: not a metric line/);
});

test('metricValue sums the samples whose labels include the given ones; undefined when there is none', () => {
  const samples = parseMetricsText(BODY);
  assert.equal(metricValue(samples, 'gradq_step_part_duration_seconds_count'), 20);
  assert.equal(metricValue(samples, 'gradq_step_part_duration_seconds_sum', { part: 'average' }), 0.05);
  assert.equal(metricValue(samples, 'gradq_transfer_bytes_total', { kind: 'params' }), undefined);
});
