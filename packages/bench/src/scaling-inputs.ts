import type { ChartSpec, Series } from './chart/line-chart';
import type { BackendRun, CeilingResult, ScalingResult } from './results';
import { projectScaling, type ScalingInputs } from './scaling-model';

/**
 * The model's inputs from this run's measurements: worker compute from the backend survey's shard timing (one
 * uncontended core, as on a machine of its own), the coordinator's fixed costs and per-gradient costs from the
 * ceiling run, and Redis from the raw probe.
 */
export function scalingInputs(
  backends: readonly BackendRun[],
  ceiling: CeilingResult,
  paramBytes: number,
  linkMBps: number,
): Record<string, ScalingInputs> {
  const K = ceiling.shardsPerStep;
  const pushMs = (ceiling.gradientBytes / 1e6 / ceiling.redis.setMBps) * 1000;
  const getMs = (ceiling.gradientBytes / 1e6 / ceiling.redis.getMBps) * 1000;
  const out: Record<string, ScalingInputs> = {};
  for (const s of backends) {
    if (!s.ok || (s.backend !== 'wasm' && s.backend !== 'cpu-native' && s.backend !== 'tensorflow')) continue;
    out[s.backend] = {
      paramBytes,
      gradientBytes: ceiling.gradientBytes,
      shardSamples: s.shardSamples,
      redisSetMBps: ceiling.redis.setMBps,
      redisGetMBps: ceiling.redis.getMBps,
      linkMBps,
      computeSeconds: s.shardComputeMs / 1000,
      // Publishing is one parameter SET plus one addBulk: measured whole; its growth with W is in `dispatch`.
      publishSeconds: ceiling.parts.publish / 1000,
      optimizerSeconds: ceiling.parts.optimizer / 1000,
      averagePerGradientSeconds: ceiling.parts.average / 1000 / K,
      // With an instant pool the wait is K pushes, K reads (the coordinator reads each gradient as it arrives) and
      // the queue's round trips: what is not a transfer is dispatch.
      dispatchPerJobSeconds: Math.max(0, ceiling.parts.waitGradients - K * (pushMs + getMs)) / 1000 / K,
    };
  }
  return out;
}

export function project(inputs: Record<string, ScalingInputs>, sizes: readonly number[]): ScalingResult['projections'] {
  return Object.entries(inputs).map(([backend, i]) => ({
    backend,
    points: projectScaling(i, sizes).map((p) => ({
      workers: p.workers,
      samplesPerSecond: p.samplesPerSecond,
      efficiency: p.efficiency,
      stepMs: p.stepSeconds * 1000,
      limit: p.limit,
    })),
  }));
}

const COLORS: Record<string, readonly [number, number, number]> = {
  'cpu-native': [31, 119, 180],
  wasm: [214, 39, 40],
  tensorflow: [148, 103, 189],
};

/** Two panels: projected samples/s (with each backend's ideal linear line) and efficiency. */
export function scalingCharts(projections: ScalingResult['projections']): ChartSpec[] {
  const color = (b: string) => COLORS[b] ?? [90, 90, 90];
  const throughput: Series[] = [];
  for (const p of projections) {
    throughput.push({
      label: p.backend,
      color: color(p.backend),
      points: p.points.map((q) => [q.workers, q.samplesPerSecond]),
    });
  }
  for (const p of projections) {
    const one = p.points[0]?.samplesPerSecond ?? 0;
    throughput.push({
      label: `${p.backend} ideal`,
      color: color(p.backend),
      dashed: true,
      markers: false,
      points: p.points.map((q) => [q.workers, q.workers * one]),
    });
  }
  const first = projections[0]?.points ?? [];
  const efficiency: Series[] = [
    ...projections.map((p) => ({
      label: p.backend,
      color: color(p.backend),
      points: p.points.map((q) => [q.workers, q.efficiency] as const),
    })),
    {
      label: 'target 0.95',
      color: [44, 160, 44] as const,
      dashed: true,
      markers: false,
      points: [
        [first[0]?.workers ?? 1, 0.95],
        [first.at(-1)?.workers ?? 256, 0.95],
      ] as const,
    },
  ];
  return [
    {
      title: 'Projected cluster throughput',
      x: { label: 'workers (one machine each)', scale: 'log2' },
      y: { label: 'samples/s', scale: 'log10' },
      series: throughput,
    },
    {
      title: 'Projected scaling efficiency',
      x: { label: 'workers (one machine each)', scale: 'log2' },
      y: { label: 'efficiency', scale: 'linear', min: 0, max: 1 },
      series: efficiency,
    },
  ];
}
