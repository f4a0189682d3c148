import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { type ChartSpec, layoutPanel, renderCharts } from './line-chart';

const SPEC: ChartSpec = {
  title: 'Projected efficiency',
  x: { label: 'workers', scale: 'log2' },
  y: { label: 'efficiency', scale: 'linear', min: 0, max: 1 },
  series: [
    {
      label: 'wasm',
      color: [200, 0, 0],
      points: [
        [1, 1],
        [2, 0.9],
        [256, 0.1],
      ],
    },
    {
      label: 'cpu-native with a long label',
      color: [0, 0, 200],
      points: [
        [1, 1],
        [256, 0.02],
      ],
    },
    {
      label: 'target 0.95',
      color: [0, 150, 0],
      points: [
        [1, 0.95],
        [256, 0.95],
      ],
      dashed: true,
    },
  ],
};

test('the plot area sits inside the panel and maps the axis ends to its corners', () => {
  const L = layoutPanel(SPEC, 700, 520);
  const { left, top, width, height } = L.plot;
  assert.ok(left > 40 && top > 20 && width > 400 && height > 250);
  assert.ok(left + width < 700 && top + height < 520);
  assert.deepEqual(L.toPixel(1, 0), [left, top + height]);
  assert.deepEqual(L.toPixel(256, 1), [left + width, top]);
  assert.deepEqual(L.x.ticks, [1, 2, 4, 8, 16, 32, 64, 128, 256]);
});

test('legend entries wrap when they do not fit one row', () => {
  assert.deepEqual(layoutPanel(SPEC, 700, 520).legendRows, [[0, 1], [2]]);
  assert.deepEqual(layoutPanel(SPEC, 360, 520).legendRows, [[0], [1], [2]]);
});

test('renderCharts writes a PNG of the requested size with ink of each series colour', () => {
  const png = PNG.sync.read(renderCharts([SPEC, SPEC], 700, 520));
  assert.equal(png.width, 1400);
  assert.equal(png.height, 520);
  const has = (r: number, g: number, b: number) => {
    for (let i = 0; i < png.data.length; i += 4)
      if (png.data[i] === r && png.data[i + 1] === g && png.data[i + 2] === b) return true;
    return false;
  };
  assert.ok(has(200, 0, 0) && has(0, 0, 200) && has(0, 150, 0));
});
