import type { BenchSizes } from './results';

/** Overrides from the command line; anything unset takes the full or --quick default. */
export interface SizeOverrides {
  readonly clusterLimit?: number | undefined;
  readonly clusterEpochs?: number | undefined;
  readonly encodingLimit?: number | undefined;
  readonly encodingEpochs?: number | undefined;
  readonly linkMBps?: number | undefined;
  readonly singleRounds?: number | undefined;
}

/**
 * Sizes of a full run (bounded so that it takes about 10 minutes on a quiet 2-core machine) and of --quick (a smoke
 * run of about 3 minutes). The stock cpu backend trains ~60 samples/s, so it gets few steps.
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
    // A worker's job in the cluster runs: batch 128 in 4 shards.
    shardSamples: 32,
    clusterLimit: o.clusterLimit ?? (full ? 8192 : 1024),
    clusterEpochs: o.clusterEpochs ?? (full ? 2 : 1),
    shardsPerStep: 4,
    ceilingLimit: full ? 16_384 : 2048,
    ceilingEpochs: 1,
    fakeWorkerConcurrency: 4,
    redisProbeIterations: full ? 50 : 10,
    encodingLimit: o.encodingLimit ?? (full ? 8192 : 1024),
    encodingEpochs: o.encodingEpochs ?? (full ? 10 : 1),
    encodingWorkers: 2,
    // A 10 GbE link in front of Redis: loopback figures do not include the network of a real cluster.
    linkMBps: o.linkMBps ?? 1250,
  };
}
