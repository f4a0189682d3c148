import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { renderCharts } from './chart/line-chart';
import { scalingCharts } from './report-scaling';
import { SCALING } from './test-support';

test('the chart: one panel per samples/worker, each Redis measured and its bound dashed beside it', () => {
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
  const png = PNG.sync.read(renderCharts(scalingCharts(SCALING)));
  assert.equal(png.width, 1400);
});

test('the chart leaves out a Redis that has no points', () => {
  const [p] = scalingCharts({ ...SCALING, cluster: [] });
  assert.deepEqual(
    p?.series.map((s) => s.label),
    ['one Redis', 'one Redis bound'],
  );
});
