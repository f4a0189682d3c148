/** Results to render and judge in the report's tests: small, hand-made, with the arithmetic in comments. */

import { clusterFigures } from './cluster-figures';
import type {
  BenchResults,
  ClusterConfig,
  ClusterResults,
  ClusterRound,
  Contender,
  ScalingPoint,
  ScalingResults,
  SingleResults,
} from './results';
import { bytesPerStep } from './scaling-math';
import { benchSizes } from './sizes';
import { spread } from './stats';

const run = (samplesPerSecond: number) => ({
  warmupSteps: 50,
  steps: 419,
  samples: 53_600,
  seconds: 53_600 / samplesPerSecond,
  samplesPerSecond,
  halves: [samplesPerSecond, samplesPerSecond] as const,
  cpuShare: 0.98,
});

/** Section 1 from per-round samples/s of PyTorch, K = 4 and K = 1 (round i ran in rotation i). */
export function single(torch: number[], k4: number[], k1: number[], steadyState: boolean): SingleResults {
  const orders: Contender[][] = [
    ['torch', 'k4', 'k1'],
    ['k4', 'k1', 'torch'],
    ['k1', 'torch', 'k4'],
  ];
  const gradq = (v: number, K: number) =>
    ({ ok: true, ...run(v), backend: 'cpu-native', engine: 'native-cpu', shardsPerStep: K, batchSize: 128 }) as const;
  const ratios = (a: number[], b: number[]) => spread(a.map((x, i) => x / (b[i] as number)));
  return {
    sizes: { rounds: torch.length, limit: 60_000, warmupSteps: 50, steadyState },
    backend: 'cpu-native',
    rounds: torch.map((t, i) => ({
      order: orders[i % 3] as Contender[],
      loadAverage: [0.5, 0.4, 0.3],
      torch: { ok: true, ...run(t), version: '1.13', threads: 1, data: 'mnist' },
      k4: gradq(k4[i] as number, 4),
      k1: gradq(k1[i] as number, 1),
    })),
    torch: spread(torch),
    k4: spread(k4),
    k1: spread(k1),
    ratios: { k4VsTorch: ratios(k4, torch), k4VsK1: ratios(k4, k1) },
  } as SingleResults;
}

/**
 * A point from its samples/s and share of its bound, coherent with the definitions: P = 3,080,336 bytes, (1 + 3W) x P
 * per step, compute 0.05 ms per sample (0 for 128-sample protocol points: `instant`), the bound's step = step x share,
 * of which transfers at raw = the bound's step - compute, so raw MB/s = bytes / that.
 */
export function point(
  workers: number,
  samplesPerWorker: number,
  samplesPerS: number,
  boundShare: number,
  instant = false,
): ScalingPoint {
  const P = 3_080_336;
  const batch = workers * samplesPerWorker;
  const stepMs = (batch / samplesPerS) * 1000;
  const bytes = bytesPerStep(workers, P);
  const computeMs = instant ? 0 : samplesPerWorker * 0.05;
  const transferMs = stepMs * boundShare - computeMs;
  return {
    workers,
    samples_per_worker: samplesPerWorker,
    samples_per_step: batch,
    samples_per_s: samplesPerS,
    efficiency: 1,
    bound_samples_per_s: samplesPerS / boundShare,
    bound_share: boundShare,
    raw_mb_per_s: bytes / 1e6 / (transferMs / 1000),
    redis_mb_per_s: bytes / (stepMs / 1000) / 1e6,
    bytes_per_step: bytes,
    compute_ms: computeMs,
    transfer_ms_at_raw: transferMs,
    step_ms_median: stepMs,
    step_ms_mean: stepMs,
    serial_ms_median: 2,
    steps_measured: 30,
    warmup_steps: 5,
    limit: batch * 35,
    epochs: 1,
    cpu_ms_per_step: { redis: 10, coordinator: 5, workers: 8 },
  };
}

export const SCALING: ScalingResults = {
  sizes: benchSizes(false).scaling,
  engine: {
    engine: 'native-cpu',
    blocks: [
      { samples: 128, calls: 30, ms_median: 6.4, ms_min: 6, ms_max: 9, ms_per_sample: 0.05 },
      { samples: 1024, calls: 30, ms_median: 46, ms_min: 45, ms_max: 50, ms_per_sample: 0.045 },
    ],
  },
  param_bytes: 3_080_336,
  cluster_nodes: 3,
  // W = 1: 128 samples per 16 ms step = 8,000 samples/s; 4 x P = 12.3 MB in 16 ms = 770 MB/s, 90% of raw.
  protocol: [point(1, 128, 8000, 0.9, true), point(2, 128, 12_000, 0.9, true)],
  one_redis: [point(1, 128, 4000, 0.9), point(2, 128, 7000, 0.85), point(4, 128, 9000, 0.7)],
  cluster: [point(1, 128, 3900, 0.9), point(2, 128, 7500, 0.9), point(4, 128, 12_000, 0.85)],
  one_redis_1024: [point(1, 1024, 15_000, 0.95), point(2, 1024, 25_000, 0.9)],
  cluster_1024: [point(1, 1024, 14_000, 0.95), point(2, 1024, 24_000, 0.9)],
  raw: { one_redis: 700, cluster: 700 },
  errors: {},
  loadAverage: { start: [0.5, 0.4, 0.3], end: [0.6, 0.5, 0.4] },
};

const HASH = 'ab'.repeat(32);

/** Rounds of the cluster section from per-round samples/s of each configuration (same hash everywhere). */
export function clusterRounds(rates: Record<ClusterConfig, number[]>, hash = HASH): ClusterRound[] {
  const n = rates.b128_w1.length;
  return Array.from({ length: n }, (_, i) => ({
    order: ['b128_w1', 'b128_w2', 'b1024_w1', 'b1024_w2', 'b1024_baseline'] as ClusterConfig[],
    loadAverage: [0.5, 0.4, 0.3],
    runs: (Object.keys(rates) as ClusterConfig[]).map((config) => ({
      config,
      wallSeconds: 10,
      ok: true as const,
      samplesPerSecond: rates[config][i] as number,
      wholeRunSamplesPerSecond: (rates[config][i] as number) * 0.8,
      stepsMeasured: 50,
      stepsExcluded: 10,
      steps: 60,
      paramsSha256: hash,
      testMse: 0.03,
    })),
  }));
}

export function cluster(rounds: ClusterRound[]): ClusterResults {
  return {
    sizes: benchSizes(false).cluster,
    rounds,
    ...clusterFigures(rounds),
    baselineCli: { ok: true, paramsSha256: HASH, samplesPerSecond: 15_000, testMse: 0.03 },
    breakdown: [],
    memory: [
      { run: 'pnpm start --workers 2', coordinatorPeakRssBytes: 300 * 2 ** 20, workerPeakRssBytes: 200 * 2 ** 20 },
    ],
  };
}

// Batch 1024: 2 workers 1.2x one (12,000 / 10,000) and one worker 0.8x the baseline (10,000 / 12,500).
export const RATES: Record<ClusterConfig, number[]> = {
  b128_w1: [5000, 5100],
  b128_w2: [5050, 5200],
  b1024_w1: [10_000, 10_000],
  b1024_w2: [12_000, 12_000],
  b1024_baseline: [12_500, 12_500],
};

export const RESULTS: BenchResults = {
  version: 3,
  quick: true,
  startedAt: '2026-11-26T18:00:00.000Z',
  durationSeconds: 180,
  machine: {
    cpuModel: 'Test CPU',
    cores: 2,
    ramBytes: 8 * 2 ** 30,
    os: 'Debian',
    node: 'v20.0.0',
    versions: { '@tensorflow/tfjs': '4.22.0' },
    gitCommit: '0123456789abcdef',
    gitDirty: false,
    loadAverageAtStart: [0.1, 0.2, 0.3],
  },
  sizes: benchSizes(true),
  single: single([6400, 6000, 6800], [6374.4, 5976, 6772.8], [7000, 6500, 7400], true),
  backends: [
    { backend: 'tensorflow', ok: false, error: 'Cannot find package tfjs-node' },
    {
      backend: 'cpu-native',
      ok: true,
      engine: 'native-cpu',
      shardsPerStep: 4,
      batchSize: 128,
      warmupSteps: 2,
      steps: 10,
      samples: 1280,
      seconds: 0.4,
      samplesPerSecond: 3200,
      halves: [3100, 3300],
      cpuShare: 0.99,
      shardComputeMs: 10,
      shardSamples: 32,
    },
  ],
  scaling: SCALING,
  cluster: cluster(clusterRounds(RATES)),
  encodings: {
    sizes: { limit: 0, epochs: 10 },
    paramCount: 770_084,
    runs: [
      {
        encoding: 'f32',
        ok: true,
        testMse: 0.02,
        testMseByEpoch: [0.1, 0.02],
        ratioToF32: 1,
        gradBytesPerJob: 3_080_336,
        samplesPerSecond: 15_000,
        seconds: 60,
      },
      {
        encoding: 'f16',
        ok: true,
        testMse: 0.0201,
        testMseByEpoch: [0.1, 0.0201],
        ratioToF32: 1.005,
        gradBytesPerJob: 1_540_168,
        samplesPerSecond: 15_000,
        seconds: 60,
      },
      { encoding: 'bf16', ok: false, error: 'exit 1: boom' },
    ],
  },
};
