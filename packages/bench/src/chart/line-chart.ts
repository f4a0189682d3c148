import { type AxisSpec, formatTick, type ResolvedAxis, resolveAxis } from './axes';
import { Canvas, type Rgb } from './canvas';
import { GLYPH_HEIGHT, textWidth } from './font';

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

/** Pixel geometry of one panel: computed without drawing, so it is testable. */
export interface PanelLayout {
  readonly plot: { readonly left: number; readonly top: number; readonly width: number; readonly height: number };
  readonly x: ResolvedAxis;
  readonly y: ResolvedAxis;
  /** Legend rows under the x-axis title, each a list of series indices. */
  readonly legendRows: readonly (readonly number[])[];
  toPixel(x: number, y: number): [number, number];
}

const SCALE = 2;
const CHAR_H = GLYPH_HEIGHT * SCALE;
const LEGEND_SWATCH = 28;
const LEGEND_GAP = 24;

function px(text: string): number {
  return textWidth(text) * SCALE;
}

export function layoutPanel(spec: ChartSpec, width: number, height: number): PanelLayout {
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1]));
  const x = resolveAxis(spec.x, xs);
  const y = resolveAxis(spec.y, ys);

  // Legend entries wrap into rows that fit the panel width.
  const legendRows: number[][] = [[]];
  let rowWidth = 0;
  const usable = width - 40;
  spec.series.forEach((s, i) => {
    const w = LEGEND_SWATCH + 8 + px(s.label) + LEGEND_GAP;
    const row = legendRows.at(-1) as number[];
    if (row.length > 0 && rowWidth + w > usable) {
      legendRows.push([i]);
      rowWidth = w;
    } else {
      row.push(i);
      rowWidth += w;
    }
  });

  const yTickWidth = Math.max(...y.ticks.map((t) => px(formatTick(t))));
  const left = 16 + CHAR_H + 12 + yTickWidth + 10;
  const top = 16 + CHAR_H + 16;
  const bottomBlock = 10 + CHAR_H + 12 + CHAR_H + 16 + legendRows.length * (CHAR_H + 10) + 6;
  const plot = { left, top, width: width - left - 24, height: height - top - bottomBlock };
  return {
    plot,
    x,
    y,
    legendRows,
    toPixel: (vx, vy) => [
      plot.left + x.position(vx) * plot.width,
      plot.top + plot.height - y.position(vy) * plot.height,
    ],
  };
}

const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];
const AXIS: Rgb = [90, 90, 90];

function drawPanel(c: Canvas, spec: ChartSpec, ox: number, width: number, height: number): void {
  const L = layoutPanel(spec, width, height);
  const { plot } = L;
  const at = (vx: number, vy: number): [number, number] => {
    const [a, b] = L.toPixel(vx, vy);
    return [a + ox, b];
  };
  c.text(ox + width / 2, 16, spec.title, INK, SCALE, 'center');

  for (const t of L.y.ticks) {
    const [, py] = at(L.x.min, t);
    c.line(ox + plot.left, py, ox + plot.left + plot.width, py, GRID);
    c.line(ox + plot.left - 5, py, ox + plot.left, py, AXIS);
    c.text(ox + plot.left - 10, py, formatTick(t), INK, SCALE, 'right', 'middle');
  }
  for (const t of L.x.ticks) {
    const [pxx] = at(t, L.y.min);
    c.line(pxx, plot.top, pxx, plot.top + plot.height, GRID);
    c.line(pxx, plot.top + plot.height, pxx, plot.top + plot.height + 5, AXIS);
    c.text(pxx, plot.top + plot.height + 10, formatTick(t), INK, SCALE, 'center');
  }
  c.line(ox + plot.left, plot.top, ox + plot.left, plot.top + plot.height, AXIS, 2);
  c.line(ox + plot.left, plot.top + plot.height, ox + plot.left + plot.width, plot.top + plot.height, AXIS, 2);
  c.text(
    ox + plot.left + plot.width / 2,
    plot.top + plot.height + 10 + CHAR_H + 12,
    spec.x.label,
    INK,
    SCALE,
    'center',
  );
  c.textVertical(ox + 16 + CHAR_H / 2, plot.top + plot.height / 2, spec.y.label, INK, SCALE);

  const inside = (vx: number, vy: number) =>
    vx >= L.x.min && vx <= L.x.max && vy >= L.y.min && vy <= L.y.max && (L.y.scale === 'linear' || vy > 0);
  for (const s of spec.series) {
    const pts = s.points.filter(([vx, vy]) => inside(vx, vy)).map(([vx, vy]) => at(vx, vy));
    for (let i = 1; i < pts.length; i++) {
      const [a, b] = [pts[i - 1] as [number, number], pts[i] as [number, number]];
      c.line(a[0], a[1], b[0], b[1], s.color, 3, s.dashed ? [10, 7] : undefined);
    }
    if (s.markers ?? true) for (const [a, b] of pts) c.fillRect(a - 3, b - 3, 7, 7, s.color);
  }

  let ly = plot.top + plot.height + 10 + CHAR_H + 12 + CHAR_H + 16;
  for (const row of L.legendRows) {
    const widths = row.map((i) => LEGEND_SWATCH + 8 + px(spec.series[i]?.label ?? '') + LEGEND_GAP);
    let lx = ox + (width - (widths.reduce((a, b) => a + b, 0) - LEGEND_GAP)) / 2;
    row.forEach((i, k) => {
      const s = spec.series[i];
      if (!s) return;
      c.line(lx, ly + CHAR_H / 2, lx + LEGEND_SWATCH, ly + CHAR_H / 2, s.color, 3, s.dashed ? [8, 5] : undefined);
      c.text(lx + LEGEND_SWATCH + 8, ly, s.label, INK, SCALE);
      lx += widths[k] ?? 0;
    });
    ly += CHAR_H + 10;
  }
}

/** Panels side by side in one PNG. */
export function renderCharts(panels: readonly ChartSpec[], panelWidth = 700, height = 520): Buffer {
  const c = new Canvas(panelWidth * panels.length, height);
  for (const [i, p] of panels.entries()) drawPanel(c, p, i * panelWidth, panelWidth, height);
  return c.toPng();
}
