/** Everything one `pnpm bench` measured; written as bench-results.json and rendered into BENCHMARKS.md. */
export interface BenchResults {
  readonly version: 1;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineInfo;
  readonly sizes: BenchSizes;
  readonly singleProcess: readonly SingleProcessResult[];
  readonly torch: TorchResults;
  readonly cluster: readonly ClusterResult[];
  readonly breakdown: readonly StepBreakdown[];
  readonly ceiling: CeilingResult | { readonly error: string };
  readonly memory: readonly MemoryResult[];
  readonly scaling: ScalingResult | { readonly error: string };
  readonly encodings: EncodingResults;
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly ramBytes: number;
  readonly os: string;
  readonly node: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly gitCommit: string;
  readonly gitDirty: boolean;
  readonly loadAverageAtStart: readonly number[];
}

/** The sizes this run used (they differ between --quick and a full run). */
export interface BenchSizes {
  readonly batchSize: number;
  readonly singleSteps: Readonly<Record<string, { warmup: number; steps: number }>>;
  readonly torchSteps: { warmup: number; steps: number };
  readonly shardSamples: number;
  readonly clusterLimit: number;
  readonly clusterEpochs: number;
  readonly shardsPerStep: number;
  readonly ceilingLimit: number;
  readonly ceilingEpochs: number;
  readonly fakeWorkerConcurrency: number;
  readonly redisProbeIterations: number;
  readonly encodingLimit: number;
  readonly encodingEpochs: number;
  readonly encodingWorkers: number;
  readonly linkMBps: number;
}

export type SingleProcessResult =
  | {
      readonly backend: string;
      readonly ok: true;
      readonly warmupSteps: number;
      readonly steps: number;
      readonly seconds: number;
      readonly samplesPerSecond: number;
      /** One shardGradient of `shardSamples` samples, mean ms (what a worker does per job). */
      readonly shardComputeMs: number;
      readonly shardSamples: number;
    }
  | { readonly backend: string; readonly ok: false; readonly error: string };

export interface TorchRun {
  readonly threads: number;
  readonly samplesPerSecond: number;
  readonly steps: number;
  readonly data: string;
}

export type TorchResults =
  | { readonly ok: true; readonly version: string; readonly defaultThreads: TorchRun; readonly oneThread: TorchRun }
  | { readonly ok: false; readonly error: string };

export type ClusterResult =
  | {
      readonly backend: string;
      readonly workers: number;
      readonly ok: true;
      readonly samplesPerSecond: number;
      readonly steps: number;
      readonly wallSeconds: number;
      readonly testMse: number;
    }
  | { readonly backend: string; readonly workers: number; readonly ok: false; readonly error: string };

/** Mean seconds per step (coordinator parts) and per job (worker parts) from the services' own /metrics. */
export interface StepBreakdown {
  readonly backend: string;
  readonly workers: number;
  readonly shardsPerStep: number;
  readonly steps: number;
  readonly coordinator: {
    readonly step: number;
    readonly publish: number;
    readonly waitGradients: number;
    readonly average: number;
    readonly optimizer: number;
    /** step - (publish + wait + average + optimizer): reading the K gradients from Redis and dropping the step's keys. */
    readonly readAndCleanup: number;
  };
  /** Undefined when no worker answered on /metrics. */
  readonly worker?: {
    readonly jobs: number;
    readonly queueLatency: number;
    /** Per fetch (cache misses only). */
    readonly paramsFetch: number;
    readonly paramsFetches: number;
    readonly compute: number;
    readonly push: number;
  };
  /** wait_gradients minus the busiest worker's own work (ceil(K/W) jobs of fetch + compute + push): queue dispatch and the last shard's lag. */
  readonly waitForLastShard?: number;
  readonly workerMetricsError?: string;
}

export interface CeilingResult {
  readonly backend: string;
  readonly shardsPerStep: number;
  readonly steps: number;
  readonly gradientBytes: number;
  readonly gradientsPerSecond: number;
  readonly ingestMBps: number;
  readonly stepMs: number;
  /** step - wait_gradients: publish + read K gradients + average + optimizer + cleanup, all serial in the coordinator. */
  readonly serialMs: number;
  readonly parts: {
    publish: number;
    waitGradients: number;
    average: number;
    optimizer: number;
    readAndCleanup: number;
  };
  readonly redis: RedisProbe;
  readonly coordinatorPeakRssBytes?: number;
}

export interface RedisProbe {
  readonly valueBytes: number;
  readonly iterations: number;
  readonly setMs: number;
  readonly getMs: number;
  readonly setMBps: number;
  readonly getMBps: number;
  /** One SET and one GET of the value: every gradient makes that trip. */
  readonly roundTripMBps: number;
}

export interface MemoryResult {
  readonly run: string;
  readonly coordinatorPeakRssBytes?: number;
  readonly workerPeakRssBytes?: number;
}

export interface ScalingResult {
  readonly inputs: Readonly<Record<string, Record<string, number>>>;
  readonly sizes: readonly number[];
  readonly projections: ReadonlyArray<{
    readonly backend: string;
    readonly points: ReadonlyArray<{
      workers: number;
      samplesPerSecond: number;
      efficiency: number;
      stepMs: number;
      limit: string;
    }>;
  }>;
  readonly chartPath: string;
}

export type EncodingResults =
  | { readonly available: false; readonly note: string }
  | {
      readonly available: true;
      readonly backend: string;
      readonly runs: ReadonlyArray<
        | {
            encoding: string;
            ok: true;
            bytesPerGradient: number;
            stepMs: number;
            testMse: number;
            samplesPerSecond: number;
          }
        | { encoding: string; ok: false; error: string }
      >;
    };
