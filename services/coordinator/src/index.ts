export { COORDINATOR_OPTIONS, coordinatorConfigSchema } from './config';
export { type CoordinatorSummary, runCoordinator } from './coordinator';
