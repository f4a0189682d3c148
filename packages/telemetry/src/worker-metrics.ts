import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { QUEUE_LATENCY_BUCKETS, STEP_BUCKETS } from './buckets';
import type { LabeledCounter, LabeledHistogram } from './labeled';
import { JOB_OUTCOMES, type JobOutcome, TRANSFER_KINDS, type TransferKind } from './labels';
import { WORKER_METRIC as N } from './names';

/**
 * Runs whose series a worker keeps. A worker serves whatever runs share its queue, one job at a time, so its
 * `run` label grows with every run it ever served: past this many, the least recently served run's series are
 * dropped (Prometheus keeps what it scraped). Runs served in turn stay well under it (the worker caches 2).
 */
export const WORKER_RUNS_KEPT = 4;

type Run = { run: string };

/**
 * A worker's metrics; every field records into the registry given to {@link createWorkerMetrics}. Every series but
 * `gradq_worker_standby` carries `run`, the run id of the job it measures (`''` for a job too malformed to name
 * one), so runs sharing a worker pool and one Prometheus stay apart.
 */
export interface WorkerMetrics {
  /** `gradq_worker_jobs_total{run,outcome}`: gradient jobs finished, by outcome (ok, failed, rejected). */
  jobs: LabeledCounter<Run & { outcome: JobOutcome }>;
  /** `gradq_gradient_compute_seconds{run}`: time to compute one shard gradient (forward + backward). */
  gradientCompute: LabeledHistogram<Run>;
  /**
   * `gradq_params_fetch_seconds{run}`: from a step's opening to having all its parameters (cache misses only); most
   * slices arrive while the step is still being published, before this clock starts.
   */
  paramsFetch: LabeledHistogram<Run>;
  /** `gradq_gradient_push_seconds{run}`: time to write one shard gradient to Redis. */
  gradientPush: LabeledHistogram<Run>;
  /** `gradq_transfer_bytes_total{run,kind}`: bytes this worker read or wrote on the data plane. */
  transferBytes: LabeledCounter<Run & { kind: TransferKind }>;
  /** `gradq_params_cache_hits_total{run}`: jobs whose parameter version was already held. */
  paramsCacheHits: LabeledCounter<Run>;
  /** `gradq_params_cache_misses_total{run}`: jobs that had to fetch their parameter version. */
  paramsCacheMisses: LabeledCounter<Run>;
  /**
   * `gradq_params_derived_total{run}`: jobs computed on parameters this worker derived itself (its copy of the
   * optimizer applied to the step it computed whole), confirmed by the step's parameters' hash: no fetch.
   */
  paramsDerived: LabeledCounter<Run>;
  /** `gradq_queue_latency_seconds{run}`: time from job creation to the start of processing. */
  queueLatency: LabeledHistogram<Run>;
  /**
   * `gradq_worker_standby`: 1 while no run needs this worker, else 0. No `run` label: a worker stands by for every
   * run at once (it takes no jobs of any).
   */
  standby: Gauge;
  /**
   * `gradq_worker_engine_info{engine,device}`: 1, labelled with the engine this worker computes with (`cuda`,
   * `native-cpu`, `tfjs-wasm`...) and its device (the GPU's name, or `cpu`); set once at start-up. No `run` label:
   * every run a worker serves gets the same engine.
   */
  engine: Gauge<'engine' | 'device'>;
  /**
   * Marks `run` as served now: its series start at 0 the first time (so `rate()` sees the first job), and the
   * series of the least recently served run beyond {@link WORKER_RUNS_KEPT} are dropped. Call it before recording
   * for a run; the recorders below do it themselves.
   */
  useRun(run: string): void;
  /**
   * Records the queue latency of a job of `run` that starts now: `createdAtMs` is BullMQ's `job.timestamp`. Clamped
   * at 0, because the creation time comes from the coordinator's clock and hosts can disagree by a few ms.
   */
  observeJobStart(run: string, createdAtMs: number, nowMs?: number): void;
}

/** Registers a worker's metrics on `registry` (call once per registry: names must be unique in it). */
export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const registers = [registry];
  const histogram = (name: string, help: string, buckets: readonly number[]) =>
    new Histogram({ name, help, buckets: [...buckets], labelNames: ['run'], registers });
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['run'], registers });

  const jobs = new Counter({
    name: N.jobs,
    help: 'Gradient jobs finished by this worker, by outcome: ok, failed (may be retried), rejected (unrecoverable).',
    labelNames: ['run', 'outcome'],
    registers,
  });
  const transferBytes = new Counter({
    name: N.transferBytes,
    help: 'Bytes moved on the data plane (binary Redis values), by kind: params, gradients, batches.',
    labelNames: ['run', 'kind'],
    registers,
  });
  const queueLatency = histogram(
    N.queueLatency,
    'Time from a job being created to a worker starting to process it.',
    QUEUE_LATENCY_BUCKETS,
  );
  const gradientCompute = histogram(
    N.gradientCompute,
    'Time to compute one shard gradient (forward and backward pass).',
    STEP_BUCKETS,
  );
  const paramsFetch = histogram(
    N.paramsFetch,
    'Time from a step opening to having all its parameters (most arrive while it is published).',
    STEP_BUCKETS,
  );
  const gradientPush = histogram(N.gradientPush, 'Time to write one shard gradient to Redis.', STEP_BUCKETS);
  const paramsCacheHits = counter(N.paramsCacheHits, 'Jobs whose parameter version was already in the worker cache.');
  const paramsCacheMisses = counter(N.paramsCacheMisses, 'Jobs that had to fetch their parameter version.');
  const paramsDerived = counter(
    N.paramsDerived,
    'Jobs computed on parameters the worker derived itself (its optimizer copy), confirmed by the hash of the parameters: no fetch.',
  );
  const perRun = [
    queueLatency,
    gradientCompute,
    paramsFetch,
    gradientPush,
    paramsCacheHits,
    paramsCacheMisses,
    paramsDerived,
  ];

  // Insertion order is recency: a run served again moves to the end.
  const runs = new Set<string>();
  const useRun = (run: string): void => {
    if (runs.has(run)) {
      runs.delete(run);
      runs.add(run);
      return;
    }
    runs.add(run);
    for (const outcome of JOB_OUTCOMES) jobs.inc({ run, outcome }, 0);
    for (const kind of TRANSFER_KINDS) transferBytes.inc({ run, kind }, 0);
    for (const metric of perRun) {
      if (metric instanceof Histogram) metric.zero({ run });
      else metric.inc({ run }, 0);
    }
    if (runs.size <= WORKER_RUNS_KEPT) return;
    const [oldest] = runs;
    if (oldest === undefined) return;
    runs.delete(oldest);
    for (const outcome of JOB_OUTCOMES) jobs.remove({ run: oldest, outcome });
    for (const kind of TRANSFER_KINDS) transferBytes.remove({ run: oldest, kind });
    for (const metric of perRun) metric.remove({ run: oldest });
  };

  // Each recorder marks its run first, so no caller can create a series the eviction would not know about.
  const counted = <L extends Run>(c: Counter): LabeledCounter<L> => ({
    inc: (labels, value) => {
      useRun(labels.run);
      c.inc(labels, value);
    },
  });
  const timed = (h: Histogram): LabeledHistogram<Run> => ({
    observe: (labels, seconds) => {
      useRun(labels.run);
      h.observe(labels, seconds);
    },
    startTimer: (labels) => {
      useRun(labels.run);
      return h.startTimer(labels);
    },
  });

  return {
    jobs: counted(jobs),
    gradientCompute: timed(gradientCompute),
    paramsFetch: timed(paramsFetch),
    gradientPush: timed(gradientPush),
    transferBytes: counted(transferBytes),
    paramsCacheHits: counted(paramsCacheHits),
    paramsCacheMisses: counted(paramsCacheMisses),
    paramsDerived: counted(paramsDerived),
    queueLatency: timed(queueLatency),
    standby: new Gauge({
      name: N.standby,
      help: '1 while no run needs this worker: it takes no jobs until one does (or a job waits too long).',
      registers,
    }),
    engine: new Gauge({
      name: N.engine,
      help: 'The engine this worker computes with (label engine) and its device (label device, cpu for CPU engines).',
      labelNames: ['engine', 'device'],
      registers,
    }),
    useRun,
    observeJobStart(run, createdAtMs, nowMs = Date.now()) {
      useRun(run);
      queueLatency.observe({ run }, Math.max(0, nowMs - createdAtMs) / 1000);
    },
  };
}
