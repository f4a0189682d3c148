// Every metric name gradq exports, in one place so the services, the dashboard and the alert rules cannot drift:
// tests parse every PromQL expression in infra/ and check each `gradq_*` name against these lists and against a
// live /metrics. Renaming one breaks dashboards and alert history; add a new name instead.

/** Names of the metrics registered by `createCoordinatorMetrics`. */
export const COORDINATOR_METRIC = {
  trainLoss: 'gradq_train_loss',
  testMse: 'gradq_test_mse',
  epoch: 'gradq_epoch',
  step: 'gradq_step',
  runActive: 'gradq_run_active',
  samples: 'gradq_samples_total',
  steps: 'gradq_steps_total',
  samplesPerSecond: 'gradq_training_samples_per_second',
  stepDuration: 'gradq_step_duration_seconds',
  stepPartDuration: 'gradq_step_part_duration_seconds',
  transferBytes: 'gradq_transfer_bytes_total',
  queueJobs: 'gradq_queue_jobs',
  workersSeen: 'gradq_workers_seen',
  duplicatesDropped: 'gradq_duplicates_dropped_total',
  gradientsRejected: 'gradq_gradients_rejected_total',
  stepsSkippedNonfinite: 'gradq_steps_skipped_nonfinite_total',
  lossNonfinite: 'gradq_loss_nonfinite',
  checkpointDuration: 'gradq_checkpoint_duration_seconds',
  checkpointBytes: 'gradq_checkpoint_bytes_total',
  checkpointLastSuccess: 'gradq_checkpoint_last_success_timestamp_seconds',
  checkpointFailures: 'gradq_checkpoint_failures_total',
  exchangedBytes: 'gradq_exchanged_bytes_total',
  localRounds: 'gradq_local_rounds_total',
  innerLoss: 'gradq_inner_loss',
} as const;

/** Names of the metrics registered by `createWorkerMetrics`. */
export const WORKER_METRIC = {
  jobs: 'gradq_worker_jobs_total',
  gradientCompute: 'gradq_gradient_compute_seconds',
  paramsFetch: 'gradq_params_fetch_seconds',
  gradientPush: 'gradq_gradient_push_seconds',
  transferBytes: 'gradq_transfer_bytes_total',
  paramsCacheHits: 'gradq_params_cache_hits_total',
  paramsCacheMisses: 'gradq_params_cache_misses_total',
  paramsDerived: 'gradq_params_derived_total',
  queueLatency: 'gradq_queue_latency_seconds',
  standby: 'gradq_worker_standby',
  engine: 'gradq_worker_engine_info',
} as const;

export type CoordinatorMetricName = (typeof COORDINATOR_METRIC)[keyof typeof COORDINATOR_METRIC];
export type WorkerMetricName = (typeof WORKER_METRIC)[keyof typeof WORKER_METRIC];
export type GradqMetricName = CoordinatorMetricName | WorkerMetricName;

/** Every coordinator metric name, for tests and docs. */
export const COORDINATOR_METRIC_NAMES: readonly CoordinatorMetricName[] = Object.values(COORDINATOR_METRIC);
/** Every worker metric name, for tests and docs. */
export const WORKER_METRIC_NAMES: readonly WorkerMetricName[] = Object.values(WORKER_METRIC);
/** Every gradq metric name (both roles, deduplicated: `gradq_transfer_bytes_total` is recorded by both). */
export const GRADQ_METRIC_NAMES: readonly GradqMetricName[] = [
  ...new Set<GradqMetricName>([...COORDINATOR_METRIC_NAMES, ...WORKER_METRIC_NAMES]),
];
