export { newSession, type ParamsFetch, RunData, type StepState } from './data-plane';
export { ErrorLines, REDIS_UNREACHABLE, redisHint } from './error-lines';
export {
  type BlockResult,
  blockResultSchema,
  GRADIENT_JOB_OPTIONS,
  GRADIENT_QUEUE,
  type GradientJob,
  type GradientJobResult,
  gradientJobId,
  gradientJobSchema,
  PROTOCOL_VERSION,
  type SubmitStatus,
} from './jobs';
export { QUEUE_PREFIX, type RunKeys, runKeys } from './keys';
export { type LeaseOptions, RunLease, RunOwnedConfigError } from './lease';
export { type RunMeta, runMetaSchema } from './meta';
export {
  AUTH_REFUSED,
  closeRedis,
  createRedis,
  RedisAuthConfigError,
  type RedisClient,
  type RedisSettings,
  redactUrl,
  redisUrlProblem,
  waitForRedis,
} from './redis';
export { DEFAULT_REDIS_URL, REDIS_OPTIONS, redisOptionsShape } from './redis-options';
export { DEFAULT_SLICES, sliceRanges, sliceTags } from './slices';
export {
  parsePlans,
  preferWorkers,
  queueHead,
  STANDBY_KEY,
  type StandbyPlan,
  standsBy,
  writeStandbyPlan,
} from './standby';
export { DATA_TTL_SECONDS, submitBlock } from './submit';
