export { COORDINATOR_OPTIONS, type CoordinatorConfig, coordinatorConfigSchema, DEFAULT_REDIS_URL } from './config';
export { type CoordinatorHooks, type CoordinatorSummary, runCoordinator } from './coordinator';
export { type DistributedCounters, QueueGradientSource } from './queue-source';
