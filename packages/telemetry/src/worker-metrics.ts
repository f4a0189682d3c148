import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { QUEUE_LATENCY_BUCKETS, STEP_BUCKETS } from './buckets';
import type { LabeledCounter } from './labeled';
import { JOB_OUTCOMES, type JobOutcome, TRANSFER_KINDS, type TransferKind } from './labels';
import { WORKER_METRIC as N } from './names';

/** A worker's metrics; every field records into the registry given to {@link createWorkerMetrics}. */
export interface WorkerMetrics {
  /** `gradq_worker_jobs_total{outcome}`: gradient jobs finished, by outcome (ok, failed, rejected). */
  jobs: LabeledCounter<{ outcome: JobOutcome }>;
  /** `gradq_gradient_compute_seconds`: time to compute one shard gradient (forward + backward). */
  gradientCompute: Histogram;
  /**
   * `gradq_params_fetch_seconds`: from a step's opening to having all its parameters (cache misses only); most slices
   * arrive while the step is still being published, before this clock starts.
   */
  paramsFetch: Histogram;
  /** `gradq_gradient_push_seconds`: time to write one shard gradient to Redis. */
  gradientPush: Histogram;
  /** `gradq_transfer_bytes_total{kind}`: bytes this worker read or wrote on the data plane. */
  transferBytes: LabeledCounter<{ kind: TransferKind }>;
  /** `gradq_params_cache_hits_total`: jobs whose parameter version was already held. */
  paramsCacheHits: Counter;
  /** `gradq_params_cache_misses_total`: jobs that had to fetch their parameter version. */
  paramsCacheMisses: Counter;
  /** `gradq_queue_latency_seconds`: time from job creation to the start of processing. */
  queueLatency: Histogram;
  /** `gradq_worker_standby`: 1 while no run needs this worker (it takes no jobs), else 0. */
  standby: Gauge;
  /**
   * Records the queue latency of a job that starts now: `createdAtMs` is BullMQ's `job.timestamp`. Clamped at 0,
   * because the creation time comes from the coordinator's clock and hosts can disagree by a few ms.
   */
  observeJobStart(createdAtMs: number, nowMs?: number): void;
}

/** Registers a worker's metrics on `registry` (call once per registry: names must be unique in it). */
export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const registers = [registry];
  const histogram = (name: string, help: string, buckets: readonly number[]) =>
    new Histogram({ name, help, buckets: [...buckets], registers });
  const counter = (name: string, help: string) => new Counter({ name, help, registers });

  const jobs = new Counter({
    name: N.jobs,
    help: 'Gradient jobs finished by this worker, by outcome: ok, failed (may be retried), rejected (unrecoverable).',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of JOB_OUTCOMES) jobs.inc({ outcome }, 0);

  const transferBytes = new Counter({
    name: N.transferBytes,
    help: 'Bytes moved on the data plane (binary Redis values), by kind: params, gradients, batches.',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of TRANSFER_KINDS) transferBytes.inc({ kind }, 0);

  const queueLatency = histogram(
    N.queueLatency,
    'Time from a job being created to a worker starting to process it.',
    QUEUE_LATENCY_BUCKETS,
  );

  return {
    jobs,
    gradientCompute: histogram(
      N.gradientCompute,
      'Time to compute one shard gradient (forward and backward pass).',
      STEP_BUCKETS,
    ),
    paramsFetch: histogram(N.paramsFetch, 'Time from a step opening to having all its parameters (most arrive while it is published).', STEP_BUCKETS),
    gradientPush: histogram(N.gradientPush, 'Time to write one shard gradient to Redis.', STEP_BUCKETS),
    transferBytes,
    paramsCacheHits: counter(N.paramsCacheHits, 'Jobs whose parameter version was already in the worker cache.'),
    paramsCacheMisses: counter(N.paramsCacheMisses, 'Jobs that had to fetch their parameter version.'),
    queueLatency,
    standby: new Gauge({
      name: N.standby,
      help: '1 while no run needs this worker: it takes no jobs until one does (or a job waits too long).',
      registers,
    }),
    observeJobStart(createdAtMs, nowMs = Date.now()) {
      queueLatency.observe(Math.max(0, nowMs - createdAtMs) / 1000);
    },
  };
}
