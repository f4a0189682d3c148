/** The hash a step's opening names (its vectorised form lives beside the native kernels). */
export { paramsHash } from '@gradq/native-kernels';
export {
  type InnerMoments,
  type InnerPointer,
  innerPointerSchema,
  newSession,
  type ParamsFetch,
  RunData,
  type StagedGradient,
  type StepOpening,
} from './data-plane';
export { ErrorLines, REDIS_UNREACHABLE, redisHint } from './error-lines';
export {
  type BlockRecord,
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
export { QUEUE_PREFIX, runKeys } from './keys';
export { RunLease } from './lease';
export type { RunMeta } from './meta';
export {
  AUTH_REFUSED,
  closeRedis,
  createRedis,
  type RedisClient,
  type RedisSettings,
  redactUrl,
  waitForRedis,
  whenSent,
} from './redis';
export { DEFAULT_REDIS_URL, REDIS_OPTIONS, redisOptionsShape } from './redis-options';
export { DEFAULT_SLICES, sliceRanges, sliceTags } from './slices';
export { parsePlans, preferWorkers, queueHead, STANDBY_KEY, standsBy, writeStandbyPlan } from './standby';
export { submitBlock } from './submit';
