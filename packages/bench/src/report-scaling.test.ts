import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderCharts } from './chart';
import { scalingCharts } from './report-scaling';
import { SCALING } from './test-support';

test('the chart: one panel per samples/worker, each Redis measured and its bound dashed beside it', async () => {
  const [p128, p1024] = scalingCharts(SCALING);
  assert.equal(p128?.title, 'Weak scaling, 128 samples per worker');
  assert.deepEqual(
    p128?.series.map((s) => [s.label, s.dashed ?? false]),
    [
      ['one Redis', false],
      ['one Redis bound', true],
      ['Cluster (3 nodes)', false],
      ['Cluster (3 nodes) bound', true],
    ],
  );
  assert.deepEqual(p128?.series[0]?.points, [
    [1, 4000],
    [2, 7000],
    [4, 9000],
  ]);
  // W = 4 at 70% of its bound: 9,000 / 0.7.
  assert.equal(p128?.series[1]?.points[2]?.[1], 9000 / 0.7);
  assert.equal(p1024?.series.length, 4);
  // Rendered: both panels side by side in one SVG.
  const svg = await renderCharts(scalingCharts(SCALING));
  assert.ok(
    svg.includes('Weak scaling, 128 samples per worker') && svg.includes('Weak scaling, 1024 samples per worker'),
  );
});

test('the chart leaves out a Redis that has no points', () => {
  const [p] = scalingCharts({ ...SCALING, cluster: [] });
  assert.deepEqual(
    p?.series.map((s) => s.label),
    ['one Redis', 'one Redis bound'],
  );
});
