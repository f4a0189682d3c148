export { type CoordinatorMetrics, createCoordinatorMetrics } from './coordinator-metrics';
export { QUEUE_STATES, type RejectReason } from './labels';
export { type MetricsServer, startMetricsServer } from './metrics-server';
export { metricsOptions, metricsOptionsShape } from './options';
export { createMetricsRegistry } from './registry';
export { createWorkerMetrics, type WorkerMetrics } from './worker-metrics';
