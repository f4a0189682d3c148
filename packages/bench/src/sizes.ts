import type { BenchSizes } from './results';

/** Overrides from the command line; anything unset takes the full or --quick default. */
export interface SizeOverrides {
  readonly clusterLimit?: number | undefined;
  readonly clusterEpochs?: number | undefined;
  readonly encodingLimit?: number | undefined;
  readonly encodingEpochs?: number | undefined;
  readonly linkMBps?: number | undefined;
}

/**
 * Sizes of a full run (bounded so that it takes about 10 minutes on a quiet 2-core machine) and of --quick (a smoke
 * run of about 3 minutes). The stock cpu backend trains ~60 samples/s, so it gets few steps.
 */
export function benchSizes(quick: boolean, o: SizeOverrides = {}): BenchSizes {
  const full = !quick;
  return {
    batchSize: 128,
    singleSteps: {
      tensorflow: full ? { warmup: 5, steps: 60 } : { warmup: 2, steps: 10 },
      'cpu-native': full ? { warmup: 5, steps: 60 } : { warmup: 2, steps: 10 },
      wasm: full ? { warmup: 3, steps: 30 } : { warmup: 1, steps: 5 },
      cpu: full ? { warmup: 1, steps: 4 } : { warmup: 1, steps: 1 },
    },
    torchSteps: full ? { warmup: 5, steps: 60 } : { warmup: 2, steps: 10 },
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
