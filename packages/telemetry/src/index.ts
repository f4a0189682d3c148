export { type CoordinatorMetrics, createCoordinatorMetrics } from './coordinator-metrics';
export { QUEUE_STATES, type RejectReason, type StepPart } from './labels';
export { type MetricsServer, type PageRoute, startMetricsServer } from './metrics-server';
export { metricsOptions, metricsOptionsShape } from './options';
export { createMetricsRegistry } from './registry';
export { createWorkerMetrics, type WorkerMetrics } from './worker-metrics';
