/** Everything one `pnpm bench` measured; written as bench-results.json and rendered into BENCHMARKS.md. */
export interface BenchResults {
  /** 2: `single` (interleaved steady-state rounds) and `backends` replaced `singleProcess` and `torch`. */
  readonly version: 2;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineInfo;
  readonly sizes: BenchSizes;
  readonly single: SingleResults | { readonly error: string };
  readonly backends: readonly BackendRun[];
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
  /** The interleaved single-process comparison (section 1). */
  readonly single: SingleSizes;
  /** The backend survey: a short run per backend, then the shard timing the scaling model uses. */
  readonly backendSteps: Readonly<Record<string, { warmup: number; steps: number }>>;
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

export interface SingleSizes {
  /** Rounds of (PyTorch, gradq K = 4, gradq K = 1), each round in a rotated order. */
  readonly rounds: number;
  /** Training samples of the one epoch each measurement runs (60,000 = all of MNIST: 469 steps of 128). */
  readonly limit: number;
  /** Steps of that epoch not timed (allocator, JIT and caches settling). */
  readonly warmupSteps: number;
  /** False for --quick: too few steps after too short a warm-up to be steady state. */
  readonly steadyState: boolean;
}

/**
 * One timed training run in a child process of its own: one epoch of `limit` samples, the first `warmupSteps` steps
 * untimed, then the sum of the remaining steps' own times (evaluation and data loading excluded).
 */
export interface TimedRun {
  readonly warmupSteps: number;
  /** Timed steps. */
  readonly steps: number;
  /** Timed samples. */
  readonly samples: number;
  /** Sum of the timed steps' wall times. */
  readonly seconds: number;
  readonly samplesPerSecond: number;
  /** samples/s over the first and the second half of the timed steps: close to each other at steady state. */
  readonly halves: readonly [number, number];
  /**
   * CPU seconds the process used over the timed span / the span's wall seconds: about 1 when the measurement had a
   * core to itself, less when other processes took turns on it (the load average lags by a minute; this does not).
   * Process-wide, so a runtime's helper threads (V8's GC) can lift it a little above 1.
   */
  readonly cpuShare: number;
}

/** gradq's `pnpm baseline` path: the trainer's `train` with `localGradientSource` on the selected engine. */
export interface GradqRun extends TimedRun {
  readonly backend: string;
  /** The engine that computed the steps (`native-cpu`, `tfjs-cpu-native`, ...). */
  readonly engine: string;
  /** Why the native engine was passed over, when it was. */
  readonly engineSkipped?: string;
  readonly shardsPerStep: number;
  readonly batchSize: number;
}

/** packages/bench/python/torch_bench.py: the same model, Adam 1e-3, MSE, batch 128, same epoch shape. */
export interface TorchRun extends TimedRun {
  readonly version: string;
  readonly threads: number;
  /** `mnist`, or `random` pixels when the data was not found. */
  readonly data: string;
}

export type Outcome<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly error: string };

/** The three measurements of section 1, by the names used in the JSON. */
export type Contender = 'torch' | 'k4' | 'k1';

export interface SingleRound {
  /** The order the three ran in (rotated every round). */
  readonly order: readonly Contender[];
  /** os.loadavg() (1, 5, 15 min) just before the round's first measurement. */
  readonly loadAverage: readonly number[];
  readonly torch: Outcome<TorchRun>;
  readonly k4: Outcome<GradqRun>;
  readonly k1: Outcome<GradqRun>;
}

/** A figure measured once per round: median, range, and each round's value in round order. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly perRound: readonly number[];
}

/**
 * Section 1: PyTorch (1 thread) and `pnpm baseline` at K = 4 (its default) and K = 1, interleaved in rounds, each
 * measurement in a fresh process with one BLAS thread. Spreads are samples/s over the rounds where it succeeded.
 */
export interface SingleResults {
  readonly sizes: SingleSizes;
  /** The tfjs backend of the gradq runs. */
  readonly backend: string;
  readonly rounds: readonly SingleRound[];
  readonly torch?: Spread;
  readonly k4?: Spread;
  readonly k1?: Spread;
  /** Per-round ratios of samples/s: gradq K = 4 over PyTorch, and gradq K = 4 over gradq K = 1. */
  readonly ratios: { readonly k4VsTorch?: Spread; readonly k4VsK1?: Spread };
}

/** The backend survey (section 1b): each tfjs backend in its own process, a short run and one shard's time. */
export type BackendRun =
  | ({
      readonly ok: true;
      /** One block of one `shardSamples`-sample leaf (a worker's job at K = 4), mean ms: feeds the scaling model. */
      readonly shardComputeMs: number;
      readonly shardSamples: number;
    } & GradqRun)
  | { readonly backend: string; readonly ok: false; readonly error: string };

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
