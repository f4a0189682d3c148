import type { Spread, TimedRun } from './results';

/**
 * Median, min and max of `values`, kept in their order (one per round). The median of an even count is the mean of
 * the middle two. Undefined for no values: a figure that was not measured is absent, never 0.
 */
export function spread(values: readonly number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted.at(-1) as number, perRound: [...values] };
}

/**
 * The order of round `round` (0-based): `items` rotated left by `round`, so that over as many rounds as items each
 * one runs first, second and last once. The machine's background load drifts during a run; a fixed order would
 * give whoever runs first the same share of it every round.
 */
export function rotation<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = ((round % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Per round, `a / b` where both were measured in that round: the two ran minutes apart at most, under nearly the
 * same background load, so the ratio is steadier than a ratio of medians taken from different rounds.
 */
export function perRoundRatios(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): number[] {
  const out: number[] = [];
  for (const [i, x] of a.entries()) {
    const y = b[i];
    if (x !== undefined && y !== undefined && y > 0) out.push(x / y);
  }
  return out;
}

/**
 * A ratio as text for a target's threshold, truncated (not rounded) to `digits` decimals, so that a shortfall never
 * prints as the threshold it missed: 0.996 shows as 0.99, not 1.00. The epsilon absorbs binary noise (0.29 * 100).
 */
export function truncated(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return 'n/a';
  const scale = 10 ** digits;
  return (Math.floor(value * scale + 1e-9) / scale).toFixed(digits);
}

/** A timed run from its timed steps' wall times and sample counts (both in step order) and its CPU share. */
export function timedRun(
  warmupSteps: number,
  seconds: readonly number[],
  counts: readonly number[],
  cpuShare: number,
): TimedRun {
  const sum = (xs: readonly number[], a: number, b: number) => xs.slice(a, b).reduce((s, x) => s + x, 0);
  const rate = (a: number, b: number) => sum(counts, a, b) / sum(seconds, a, b);
  const n = seconds.length;
  const half = n >> 1;
  return {
    warmupSteps,
    steps: n,
    samples: sum(counts, 0, n),
    seconds: sum(seconds, 0, n),
    samplesPerSecond: rate(0, n),
    halves: [rate(0, half), rate(half, n)],
    cpuShare,
  };
}

/**
 * A figure as text for a "<= threshold" target, rounded up (not to nearest) to `digits` decimals, so that an excess
 * never prints as the threshold it exceeded: 3.004 ms shows as 3.01, not 3.00. The epsilon absorbs binary noise.
 */
export function ceiled(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return 'n/a';
  const scale = 10 ** digits;
  return (Math.ceil(value * scale - 1e-9) / scale).toFixed(digits);
}
