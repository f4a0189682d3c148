// Sums, histogram means and deltas over scrapes; the scrape is parsed by @gradq/testing's parseMetricsText.
import type { MetricSample } from '@gradq/testing';

/** Sum of every sample named `name` whose labels include `match` (so a filter can ignore the `role` label). */
export function sumOf(samples: readonly MetricSample[], name: string, match: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).some(([k, v]) => s.labels[k] !== v)) continue;
    total += s.value;
    found = true;
  }
  return found ? total : Number.NaN;
}

/** A histogram's total and count (summed over series matching `match`). */
export interface HistogramTotals {
  readonly sum: number;
  readonly count: number;
}

export function histogram(
  samples: readonly MetricSample[],
  name: string,
  match: Record<string, string> = {},
): HistogramTotals {
  return { sum: sumOf(samples, `${name}_sum`, match), count: sumOf(samples, `${name}_count`, match) };
}

/** Mean of a histogram in its unit, NaN when it has no observations (or does not exist). */
export function meanOf(h: HistogramTotals): number {
  return h.count > 0 ? h.sum / h.count : Number.NaN;
}

/** Adds histogram totals of several processes (e.g. every worker's scrape). */
export function addTotals(parts: readonly HistogramTotals[]): HistogramTotals {
  let sum = 0;
  let count = 0;
  for (const p of parts) {
    if (Number.isFinite(p.sum)) sum += p.sum;
    if (Number.isFinite(p.count)) count += p.count;
  }
  return { sum, count };
}

const CUMULATIVE = /(_sum|_count|_total|_bucket)$/;

/**
 * `last` minus `base` for cumulative series (counters, histogram sums, counts and buckets); gauges as in `last`.
 * Subtracting a scrape taken after warm-up leaves steady-state means, without start-up's first slow steps.
 */
export function deltaSamples(last: readonly MetricSample[], base: readonly MetricSample[]): MetricSample[] {
  const key = (s: MetricSample) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
  const before = new Map(base.map((s) => [key(s), s.value]));
  return last.map((s) => (CUMULATIVE.test(s.name) ? { ...s, value: s.value - (before.get(key(s)) ?? 0) } : s));
}
