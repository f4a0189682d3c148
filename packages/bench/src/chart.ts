/**
 * The bench's line charts, as SVG: a Vega-Lite spec (pure, tested) rendered by Vega, both maintained and pure
 * JavaScript. This replaced a home-made PNG rasteriser with its own bitmap font (#14).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type Rgb = readonly [number, number, number];

export interface AxisSpec {
  readonly label: string;
  readonly scale: 'linear' | 'log2' | 'log10';
  /** Default: from the data. */
  readonly min?: number;
  readonly max?: number;
}

export interface Series {
  readonly label: string;
  readonly color: Rgb;
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
  /** Draw a dot at each point. Default true. */
  readonly markers?: boolean;
}

export interface ChartSpec {
  readonly title: string;
  readonly x: AxisSpec;
  readonly y: AxisSpec;
  readonly series: readonly Series[];
}

const DASH = [8, 5];

/** One panel of an `hconcat`, in Vega-Lite's own (public) types. */
type Panel = Extract<TopLevelSpec, { hconcat: unknown }>['hconcat'][number];

function scaleOf(axis: AxisSpec) {
  const bounds = axis.min !== undefined && axis.max !== undefined ? { domain: [axis.min, axis.max] } : {};
  if (axis.scale === 'linear') return { type: 'linear' as const, zero: false, ...bounds };
  // Not rounded out to whole powers: on a log axis that leaves most of the panel empty.
  return { type: 'log' as const, base: axis.scale === 'log2' ? 2 : 10, nice: false, ...bounds };
}

/** One panel: a line per series, dots where it has markers; colour and dash legend by series label. */
function panel(spec: ChartSpec, width: number, height: number): Panel {
  // A log axis cannot show a point at or below zero: it is left out, not drawn at the edge.
  const shown = (axis: AxisSpec, v: number) => Number.isFinite(v) && (axis.scale === 'linear' || v > 0);
  const values = spec.series.flatMap((s) =>
    s.points
      .filter(([x, y]) => shown(spec.x, x) && shown(spec.y, y))
      .map(([x, y]) => ({ series: s.label, x, y, marker: s.markers ?? true })),
  );
  const labels = spec.series.map((s) => s.label);
  return {
    title: spec.title,
    width,
    height,
    data: { values },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: spec.x.label, scale: scaleOf(spec.x) },
      y: { field: 'y', type: 'quantitative', title: spec.y.label, scale: scaleOf(spec.y) },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        sort: labels,
        scale: { domain: labels, range: spec.series.map((s) => `rgb(${s.color.join(',')})`) },
        legend: { orient: 'bottom', columns: 2, symbolType: 'stroke', symbolStrokeWidth: 2.5, labelLimit: 0 },
      },
      // Same field, title and legend as colour: Vega-Lite draws one legend of dashed and solid strokes.
      strokeDash: {
        field: 'series',
        type: 'nominal',
        title: null,
        sort: labels,
        scale: { domain: labels, range: spec.series.map((s) => (s.dashed ? DASH : [1, 0])) },
        legend: { orient: 'bottom', columns: 2, symbolType: 'stroke', symbolStrokeWidth: 2.5, labelLimit: 0 },
      },
    },
    layer: [
      { mark: { type: 'line', strokeWidth: 2.5 } },
      { transform: [{ filter: 'datum.marker' }], mark: { type: 'point', filled: true, size: 40 } },
    ],
  };
}

/** The Vega-Lite spec of `panels` side by side, each `width` x `height` pixels of plot. */
export function chartSpec(panels: readonly ChartSpec[], width = 560, height = 360): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 12,
    hconcat: panels.map((p) => panel(p, width, height)),
    resolve: { scale: { color: 'independent', strokeDash: 'independent' } },
    config: { font: 'sans-serif', axis: { grid: true, gridColor: '#e1e1e1' } },
  };
}

/** `panels` side by side as one SVG document. */
export async function renderCharts(panels: readonly ChartSpec[], width?: number, height?: number): Promise<string> {
  const view = new vega.View(vega.parse(compile(chartSpec(panels, width, height)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
