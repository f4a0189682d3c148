export { CHECKPOINT_BUCKETS, QUEUE_LATENCY_BUCKETS, STEP_BUCKETS } from './buckets';
export {
  type AppliedStep,
  type CoordinatorMetrics,
  type CoordinatorMetricsOptions,
  createCoordinatorMetrics,
} from './coordinator-metrics';
export type { LabeledCounter, LabeledGauge, LabeledHistogram } from './labeled';
export {
  JOB_OUTCOMES,
  type JobOutcome,
  QUEUE_STATES,
  type QueueState,
  REJECT_REASONS,
  type RejectReason,
  ROLES,
  type Role,
  STEP_PARTS,
  type StepPart,
  TRANSFER_KINDS,
  type TransferKind,
} from './labels';
export { type MetricsServer, type MetricsServerOptions, startMetricsServer } from './metrics-server';
export {
  COORDINATOR_METRIC,
  COORDINATOR_METRIC_NAMES,
  type CoordinatorMetricName,
  GRADQ_METRIC_NAMES,
  type GradqMetricName,
  WORKER_METRIC,
  WORKER_METRIC_NAMES,
  type WorkerMetricName,
} from './names';
export { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, metricsOptions, metricsOptionsShape } from './options';
export { createMetricsRegistry, type MetricsRegistryOptions } from './registry';
export { createWorkerMetrics, type WorkerMetrics } from './worker-metrics';
export { createWorkerSightings, type WorkerSightings, type WorkerSightingsOptions } from './workers-seen';
