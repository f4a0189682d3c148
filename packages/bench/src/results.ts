/** Everything one `pnpm bench` measured; written as bench-results.json and rendered into BENCHMARKS.md. */
export interface BenchResults {
  /**
   * 3: `scaling` is measured (emulated workers on one Redis and a Cluster) instead of modelled, `ceiling` is gone
   * (the protocol check in `scaling` replaces it), `cluster` runs rounds at batch 128 and 1024 with the baseline.
   */
  readonly version: 3;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineInfo;
  readonly sizes: BenchSizes;
  readonly single: SingleResults | { readonly error: string };
  readonly backends: readonly BackendRun[];
  readonly scaling: ScalingResults | { readonly error: string };
  readonly cluster: ClusterResults | { readonly error: string };
  readonly encodings: EncodingResults | { readonly error: string };
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
  /** The backend survey: a short run per backend, then one shard's compute time. */
  readonly backendSteps: Readonly<Record<string, { warmup: number; steps: number }>>;
  readonly shardSamples: number;
  /** Leaves per step of every run (`--shards-per-step`, the default 4). */
  readonly shardsPerStep: number;
  readonly scaling: ScalingSizes;
  readonly cluster: ClusterSizes;
  readonly encodings: EncodingSizes;
}

export interface ScalingSizes {
  /** Engine calls timed per block size, after 3 untimed. */
  readonly engineCalls: number;
  /** Worker counts of the protocol check (instant workers, one Redis). */
  readonly protocolWorkers: readonly number[];
  /** Worker counts of the weak-scaling series. */
  readonly workers: readonly number[];
  /** Samples per worker (= per job, = per leaf) of the series: one series of each per Redis. */
  readonly samplesPerWorker: readonly number[];
  /** Steps of each point not measured, then steps measured (at least; whole epochs may add a few). */
  readonly warmupSteps: number;
  readonly steps: number;
  /**
   * Samples each point spends warming up and measuring, at least: small batches step in ~10 ms, so a handful of
   * steps is a fraction of a second, inside V8's warm-up. A point runs max(warmupSteps, warmupSamples / batch)
   * warm-up steps and max(steps, measuredSamples / batch) measured ones (`pointSteps`).
   */
  readonly warmupSamples: number;
  readonly measuredSamples: number;
}

export interface ClusterSizes {
  readonly limit: number;
  readonly epochs: number;
  readonly rounds: number;
  /** Steps excluded from the steady-state samples/s (at least; the scrape that marks them comes every 500 ms). */
  readonly warmupSteps: number;
}

export interface EncodingSizes {
  /** 0 = all 60,000. */
  readonly limit: number;
  readonly epochs: number;
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
  /** sha256 of the final parameters, as in `pnpm baseline`'s summary. */
  readonly paramsSha256?: string;
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
      /** One block of one `shardSamples`-sample leaf (a worker's job at K = 4), mean ms. */
      readonly shardComputeMs: number;
      readonly shardSamples: number;
    } & GradqRun)
  | { readonly backend: string; readonly ok: false; readonly error: string };

/** Mean seconds per step (coordinator parts) and per job (worker parts) from the services' own /metrics. */
export interface StepBreakdown {
  /** Which run: `batch 1024, 2 workers`, ... */
  readonly label: string;
  readonly workers: number;
  readonly shardsPerStep: number;
  readonly steps: number;
  /** Worker jobs per step (the coordinator sizes them: `--jobs-per-step auto`). */
  readonly jobsPerStep?: number;
  readonly coordinator: {
    readonly step: number;
    /** Parameters SET, next step's jobs queued. */
    readonly publish: number;
    /** Waiting for the blocks, reading and checking each gradient as it arrives. */
    readonly waitGradients: number;
    /** Folding gradients into the leaf tree. */
    readonly reduce: number;
    readonly optimizer: number;
    /** step - (publish + wait + reduce + optimizer). */
    readonly unattributed: number;
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
  /** wait_gradients minus the busiest worker's own work (ceil(J/W) jobs of fetch + compute + push). */
  readonly waitForLastBlock?: number;
  readonly workerMetricsError?: string;
}

export interface MemoryResult {
  readonly run: string;
  readonly coordinatorPeakRssBytes?: number;
  readonly workerPeakRssBytes?: number;
}

/** Raw Redis: SET then GET of one parameter-sized vector cut in the protocol's slices, on one Redis or a Cluster. */
export interface RawBandwidth {
  /** Bytes moved per second counting the SET and the GET, MB/s (1 MB = 1e6 bytes); median of rounds. */
  readonly mb_per_s: number;
  /** Half a SET+GET round of the vector. */
  readonly seconds_per_vector: number;
  readonly bytes: number;
}

/** One point of a scaling series: W emulated workers, one job of `samples_per_worker` each per step. */
export interface ScalingPoint {
  readonly workers: number;
  readonly samples_per_worker: number;
  readonly samples_per_step: number;
  /** Steady state: samples per step over the median step time of the measured steps. */
  readonly samples_per_s: number;
  /** samples/s over W x the per-worker rate of the series' smallest W. */
  readonly efficiency: number;
  /** What Redis allows: samples per step / (bytes per step at the raw bandwidth + one block's compute). */
  readonly bound_samples_per_s: number;
  /** samples_per_s / bound_samples_per_s. */
  readonly bound_share: number;
  /** Raw SET+GET bandwidth of the same Redis or Cluster: the faster of a measurement just before and just after. */
  readonly raw_mb_per_s: number;
  /** Bytes moved through Redis per second by the whole step protocol: (1 + 3W) x P per step (2 x P at W = 1) / step time. */
  readonly redis_mb_per_s: number;
  readonly bytes_per_step: number;
  /** One block's compute time given to the emulated engine (the engine's measured ms/sample x samples). */
  readonly compute_ms: number;
  /** bytes_per_step at raw_mb_per_s. */
  readonly transfer_ms_at_raw: number;
  readonly step_ms_median: number;
  readonly step_ms_mean: number;
  /** The coordinator's serial time between steps that no transfer overlaps (optimizer, checks, last fold), median. */
  readonly serial_ms_median: number;
  readonly steps_measured: number;
  readonly warmup_steps: number;
  /** The run's `--limit` and epochs (large batches need several epochs for enough steps). */
  readonly limit: number;
  readonly epochs: number;
  /** CPU per measured step: every Redis node together, the coordinator's process (all threads), the emulated pool. */
  readonly cpu_ms_per_step?: { readonly redis: number; readonly coordinator: number; readonly workers: number };
}

export interface EngineBlockTiming {
  readonly samples: number;
  readonly calls: number;
  readonly ms_median: number;
  readonly ms_min: number;
  readonly ms_max: number;
  readonly ms_per_sample: number;
}

/** The compute engine's time per block, measured in the bench process on the seed model. */
export interface EngineTiming {
  readonly engine: string;
  /** Why the native engine was passed over, if it was. */
  readonly skipped?: string;
  readonly blocks: readonly EngineBlockTiming[];
}

/** Section `scaling`: the protocol check and the measured weak-scaling curves. */
export interface ScalingResults {
  readonly sizes: ScalingSizes;
  readonly engine: EngineTiming;
  /** P: the parameter (and f32 gradient) vector's bytes. */
  readonly param_bytes: number;
  readonly cluster_nodes: number;
  /** Instant workers (compute 0), one Redis, 128 samples per worker. */
  readonly protocol: readonly ScalingPoint[];
  /** 128 samples per worker. */
  readonly one_redis: readonly ScalingPoint[];
  readonly cluster: readonly ScalingPoint[];
  /** 1,024 samples per worker. */
  readonly one_redis_1024: readonly ScalingPoint[];
  readonly cluster_1024: readonly ScalingPoint[];
  /** Median raw SET+GET MB/s over the points of each Redis. */
  readonly raw: { readonly one_redis: number; readonly cluster: number };
  /** A point or a whole Redis that failed, by series (`cluster W=16`, ...). */
  readonly errors: Readonly<Record<string, string>>;
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly chartPath?: string;
}

/** The configurations of section `cluster`, by the names used in the JSON. */
export const CLUSTER_CONFIGS = ['b128_w1', 'b128_w2', 'b1024_w1', 'b1024_w2', 'b1024_baseline'] as const;
export type ClusterConfig = (typeof CLUSTER_CONFIGS)[number];

export type ClusterRun = { readonly config: ClusterConfig; readonly wallSeconds: number } & (
  | {
      readonly ok: true;
      /** Steady state: steps after the excluded ones (samples over the loop's own step times). */
      readonly samplesPerSecond: number;
      /** The summary's `train_samples_per_s` (pnpm start: every step, start-up included; baseline: steps timed). */
      readonly wholeRunSamplesPerSecond: number;
      readonly stepsMeasured: number;
      readonly stepsExcluded: number;
      readonly steps: number;
      readonly paramsSha256: string;
      readonly testMse: number;
    }
  | { readonly ok: false; readonly error: string }
);

export interface ClusterRound {
  readonly order: readonly ClusterConfig[];
  readonly loadAverage: readonly number[];
  readonly runs: readonly ClusterRun[];
}

/** Section `cluster`: real `pnpm start` runs and `pnpm baseline`'s path, interleaved in rounds. */
export interface ClusterResults {
  readonly sizes: ClusterSizes;
  readonly rounds: readonly ClusterRound[];
  /** samples/s over the rounds, per configuration. */
  readonly figures: Partial<Record<ClusterConfig, Spread>>;
  /** Per-round ratios. */
  readonly ratios: {
    readonly b128W2VsW1?: Spread;
    readonly b1024W2VsW1?: Spread;
    readonly b1024W1VsBaseline?: Spread;
  };
  /** The real `pnpm baseline` CLI once at batch 1,024: the params_sha256 every 1,024 run must match. */
  readonly baselineCli:
    | { readonly ok: true; readonly paramsSha256: string; readonly samplesPerSecond: number; readonly testMse: number }
    | { readonly ok: false; readonly error: string };
  readonly breakdown: readonly StepBreakdown[];
  readonly memory: readonly MemoryResult[];
}

/** Section `encodings`: `pnpm baseline --grad-encoding X`, quality after the run. */
export interface EncodingResults {
  readonly sizes: EncodingSizes;
  readonly paramCount: number;
  readonly runs: ReadonlyArray<
    | {
        readonly encoding: string;
        readonly ok: true;
        readonly testMse: number;
        readonly testMseByEpoch: readonly number[];
        /** testMse / f32's testMse. */
        readonly ratioToF32: number;
        /** One block's gradient on the wire (each job writes one): parameters x bytes per value. */
        readonly gradBytesPerJob: number;
        readonly samplesPerSecond: number;
        readonly seconds: number;
      }
    | { readonly encoding: string; readonly ok: false; readonly error: string }
  >;
}
