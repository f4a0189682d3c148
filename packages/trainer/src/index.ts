export {
  ALGORITHMS,
  type Algorithm,
  checkHyperparams,
  DATA_OPTIONS,
  dataOptionsShape,
  ENGINE_OPTIONS,
  engineOptionsShape,
  HYPERPARAM_OPTIONS,
  type Hyperparams,
  hyperparamsSchema,
  hyperparamsShape,
  INNER_STATES,
  newRunId,
  pickHyperparams,
  RUN_ID_PATTERN,
  runIdSchema,
} from './config';
export { relaxHeapGrowth } from './heap';
export {
  type LocalRoundSource,
  localRoundSource,
  OuterNesterov,
  type ReplicaResult,
  ReplicaRunner,
} from './local/index';
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
  type TrainingPosition,
  train,
  trainingSet,
} from './loop';
export { runMain } from './main';
export { loadNativeMath, runAdam } from './optimizer';
export { ConfigError, givenOptions, type OptionSpec, parseBooleanWord, readOptions, usage } from './options';
export { innerBatches, stepShape, stepsPerEpoch } from './plan';
export { prepareEngine, prepareTrainee } from './prepare';
export { Progress } from './progress';
export { redactUrl } from './redact';
export { epochRng, shuffledOrder } from './rng';
export { assertConverged, paramsSha256, type RunSummary, summarize, writeSummary } from './summary';
