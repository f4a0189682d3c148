import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChartSpec, chartSpec, renderCharts } from './chart';

const SPEC: ChartSpec = {
  title: 'Weak scaling',
  x: { label: 'workers', scale: 'log2' },
  y: { label: 'samples/s', scale: 'log10' },
  series: [
    {
      label: 'one Redis',
      color: [200, 0, 0],
      points: [
        [1, 1000],
        [2, 1900],
        [4, 0],
      ],
    },
    {
      label: 'one Redis bound',
      color: [200, 0, 0],
      dashed: true,
      markers: false,
      points: [
        [1, 1500],
        [4, 6000],
      ],
    },
  ],
};

// The Vega-Lite spec is plain data: what each panel shows is checked here without rendering.
type Panel = {
  title: string;
  data: { values: { series: string; x: number; y: number; marker: boolean }[] };
  encoding: Record<string, { title?: string; scale: { type?: string; base?: number; range?: unknown[] } }>;
};

test('one panel per chart, log axes of the given base, a colour and a dash per series', () => {
  const spec = chartSpec([SPEC, { ...SPEC, title: 'second' }]) as unknown as { hconcat: Panel[] };
  assert.deepEqual(
    spec.hconcat.map((p) => p.title),
    ['Weak scaling', 'second'],
  );
  const [p] = spec.hconcat as [Panel];
  assert.deepEqual(p.encoding.x?.scale, { type: 'log', base: 2, nice: false });
  assert.deepEqual(p.encoding.y?.scale, { type: 'log', base: 10, nice: false });
  assert.equal(p.encoding.x?.title, 'workers');
  assert.deepEqual(p.encoding.color?.scale.range, ['rgb(200,0,0)', 'rgb(200,0,0)']);
  assert.deepEqual(p.encoding.strokeDash?.scale.range, [
    [1, 0],
    [8, 5],
  ]);
});

test('a point a log axis cannot show (y = 0) is left out; the bound has no markers', () => {
  const [p] = (chartSpec([SPEC]) as unknown as { hconcat: Panel[] }).hconcat as [Panel];
  assert.deepEqual(
    p.data.values.map((v) => [v.series, v.x, v.y, v.marker]),
    [
      ['one Redis', 1, 1000, true],
      ['one Redis', 2, 1900, true],
      ['one Redis bound', 1, 1500, false],
      ['one Redis bound', 4, 6000, false],
    ],
  );
});

test('renderCharts writes an SVG document naming each series and axis', async () => {
  const svg = await renderCharts([SPEC, SPEC]);
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  for (const text of ['Weak scaling', 'one Redis bound', 'samples/s', 'workers']) assert.ok(svg.includes(text), text);
  assert.ok(svg.includes('rgb(200,0,0)') || svg.includes('#c80000'), 'the series colour');
});
