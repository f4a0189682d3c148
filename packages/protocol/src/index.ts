export {
  GRADIENT_JOB_OPTIONS,
  GRADIENT_QUEUE,
  type GradientJob,
  type GradientJobResult,
  gradientJobId,
  gradientJobSchema,
  PROTOCOL_VERSION,
  type ShardResult,
  type SubmitStatus,
  shardResultSchema,
} from './jobs';
export { QUEUE_PREFIX, type RunKeys, runKeys } from './keys';
export { type RunMeta, runMetaSchema } from './meta';
export {
  closeRedis,
  createRedis,
  type RedisClient,
  type RedisSettings,
  redactUrl,
  redisUrlProblem,
  waitForRedis,
} from './redis';
export { DEFAULT_REDIS_URL, REDIS_OPTIONS, redisOptionsShape } from './redis-options';
export { DATA_TTL_SECONDS, submitGradient } from './submit';
