import type { BenchSizes } from './results';

/** Overrides from the command line; anything unset takes the full or --quick default. */
export interface SizeOverrides {
  readonly clusterLimit?: number | undefined;
  readonly clusterEpochs?: number | undefined;
  readonly clusterRounds?: number | undefined;
  readonly encodingLimit?: number | undefined;
  readonly encodingEpochs?: number | undefined;
  readonly singleRounds?: number | undefined;
}

/**
 * Sizes of a full run and of --quick (a smoke run of a few minutes: small sizes, not steady state). The stock cpu
 * backend trains ~60 samples/s, so it gets few steps.
 */
export function benchSizes(quick: boolean, o: SizeOverrides = {}): BenchSizes {
  const full = !quick;
  return {
    batchSize: 128,
    // One epoch of all 60,000 samples (469 steps): 50 untimed, 419 timed, where 60 steps after 5 of warm-up gave
    // PyTorch 5,285 samples/s and 400 gave 12,488. Six rounds: twice through the rotation of three, so each
    // measurement runs first, second and last twice. Quick: 20 + 100 steps, one round, not steady state.
    single: full
      ? { rounds: o.singleRounds ?? 6, limit: 60_000, warmupSteps: 50, steadyState: true }
      : { rounds: o.singleRounds ?? 1, limit: 120 * 128, warmupSteps: 20, steadyState: false },
    backendSteps: {
      tensorflow: full ? { warmup: 5, steps: 60 } : { warmup: 2, steps: 10 },
      'cpu-native': full ? { warmup: 5, steps: 60 } : { warmup: 2, steps: 10 },
      wasm: full ? { warmup: 3, steps: 30 } : { warmup: 1, steps: 5 },
      cpu: full ? { warmup: 1, steps: 4 } : { warmup: 1, steps: 2 },
    },
    // A worker's job in the old K = 4 cluster runs: batch 128 in 4 shards.
    shardSamples: 32,
    shardsPerStep: 4,
    scaling: {
      engineCalls: full ? 30 : 10,
      protocolWorkers: full ? [1, 2, 4] : [1, 2],
      workers: full ? [1, 2, 4, 8, 16] : [1, 2, 4],
      samplesPerWorker: [128, 1024],
      // The first steps carry the pool's connections, the training set's download and V8's warm-up. Counted in
      // samples too: W = 1 instant workers step in ~10 ms, and 5 + 30 steps (0.35 s) measured V8's warm-up, not the
      // protocol (measured: step 13.8-15.2 ms, coordinator CPU 10.5 ms per step; after 50 steps 10.5 ms and 6.1 ms).
      warmupSteps: full ? 5 : 2,
      steps: full ? 30 : 8,
      warmupSamples: full ? 50 * 128 : 0,
      measuredSamples: full ? 150 * 128 : 0,
    },
    cluster: {
      // All 60,000 samples = 468 steps of 128 or 58 of 1,024; two epochs double that. Steady state: with 2 workers
      // the first ~10 steps settle who computes (standby) and hand the optimizer's state to that worker; at 30,720
      // samples those steps were 1 in 6 of a 1,024 run's.
      limit: o.clusterLimit ?? (full ? 60_000 : 8192),
      epochs: o.clusterEpochs ?? (full ? 2 : 1),
      rounds: o.clusterRounds ?? (full ? 3 : 2),
      warmupSteps: full ? 12 : 2,
    },
    encodings: {
      limit: o.encodingLimit ?? (full ? 0 : 8192),
      epochs: o.encodingEpochs ?? (full ? 10 : 1),
    },
  };
}
