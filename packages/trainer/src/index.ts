export {
  checkHyperparams,
  DATA_OPTIONS,
  dataOptionsShape,
  ENGINE_OPTIONS,
  engineOptionsShape,
  HYPERPARAM_OPTIONS,
  type Hyperparams,
  hyperparamsSchema,
  hyperparamsShape,
  newRunId,
  pickHyperparams,
  RUN_ID_PATTERN,
  runIdSchema,
} from './config';
export { relaxHeapGrowth } from './heap';
export { localGradientSource } from './local-source';
export {
  createTrainee,
  type EpochReport,
  type GradientSource,
  meanLoss,
  type StepGradient,
  type StepReport,
  type StepWork,
  type Trainee,
  type TraineeOptions,
  type TrainHooks,
  type TrainingPosition,
  type TrainResult,
  train,
  trainingSet,
} from './loop';
export { runMain } from './main';
export {
  createOptimizer,
  loadNativeMath,
  type NativeMath,
  OPTIMIZER_IMPLS,
  type Optimizer,
  type OptimizerImpl,
} from './optimizer';
export { ConfigError, givenOptions, type OptionSpec, parseBooleanWord, readOptions, usage } from './options';
export { type ShardSpan, shardSpans, stepsPerEpoch } from './plan';
export { prepareEngine, prepareTrainee } from './prepare';
export { Progress, type ProgressOptions } from './progress';
export { redactUrl } from './redact';
export { epochRng, Rng, shuffledOrder } from './rng';
export { assertConverged, paramsSha256, type RunSummary, summarize, writeSummary } from './summary';
