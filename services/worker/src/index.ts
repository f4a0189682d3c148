export { WORKER_OPTIONS, workerConfigSchema } from './config';
export { GradientProcessor, StepNotOpenError } from './processor';
export { type RunningWorker, startWorker } from './worker';
