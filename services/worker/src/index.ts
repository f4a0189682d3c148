export { WORKER_OPTIONS, type WorkerConfig, workerConfigSchema } from './config';
export { GradientProcessor, type ProcessorEvents, StepNotOpenError } from './processor';
export { type RunningWorker, startWorker, type WorkerOptions } from './worker';
