/** Axis scales and ticks for the line chart: pure, so the layout is unit-tested without drawing. */
export type AxisScale = 'linear' | 'log2' | 'log10';

export interface AxisSpec {
  readonly label: string;
  readonly scale: AxisScale;
  /** Default: from the data (log axes: the enclosing powers). */
  readonly min?: number;
  readonly max?: number;
}

export interface ResolvedAxis {
  readonly scale: AxisScale;
  readonly min: number;
  readonly max: number;
  readonly ticks: readonly number[];
  /** Data value -> 0..1 along the axis. */
  position(value: number): number;
}

/** 1, 2 or 5 times a power of ten, the step that gives about `target` intervals over [min, max]. */
export function niceStep(min: number, max: number, target = 5): number {
  const raw = (max - min) / target;
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
}

export function resolveAxis(spec: AxisSpec, values: readonly number[]): ResolvedAxis {
  const finite = values.filter((v) => Number.isFinite(v) && (spec.scale === 'linear' || v > 0));
  let lo = spec.min ?? (finite.length ? Math.min(...finite) : 0);
  let hi = spec.max ?? (finite.length ? Math.max(...finite) : 1);
  if (spec.scale === 'linear') {
    if (hi === lo) hi = lo + 1;
    const step = niceStep(lo, hi);
    if (spec.min === undefined) lo = Math.floor(lo / step) * step;
    if (spec.max === undefined) hi = Math.ceil(hi / step) * step;
    const ticks: number[] = [];
    for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(round(t, step));
    return { scale: 'linear', min: lo, max: hi, ticks, position: (v) => (v - lo) / (hi - lo) };
  }
  const base = spec.scale === 'log2' ? 2 : 10;
  const log = (v: number) => Math.log(v) / Math.log(base);
  if (!(lo > 0)) lo = 1;
  if (!(hi > lo)) hi = lo * base;
  const e0 = spec.min === undefined ? Math.floor(log(lo) + 1e-9) : log(lo);
  const e1 = spec.max === undefined ? Math.ceil(log(hi) - 1e-9) : log(hi);
  const ticks: number[] = [];
  // A log10 axis of one or two decades gets 2x and 5x ticks too: decades alone leave it nearly unlabelled.
  const steps = base === 10 && e1 - e0 <= 2 + 1e-9 ? [1, 2, 5] : [1];
  for (let e = Math.floor(e0 + 1e-9); e <= e1 + 1e-9; e++) {
    for (const m of steps) {
      const t = m * base ** e;
      if (log(t) >= e0 - 1e-9 && log(t) <= e1 + 1e-9) ticks.push(t);
    }
  }
  return {
    scale: spec.scale,
    min: base ** e0,
    max: base ** e1,
    ticks,
    position: (v) => (log(v) - e0) / (e1 - e0),
  };
}

function round(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(digits));
}

/** Short tick labels: 1, 0.25, 1.5k, 20k, 3M. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v: number): string {
  return String(Number(v.toPrecision(3)));
}
