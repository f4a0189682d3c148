export {
  CLI,
  type CliExit,
  type CliProcess,
  CliProcesses,
  cliEnv,
  findMnistDir,
  mnistDir,
  REPO_ROOT,
  readSummary,
  type SpawnCliOptions,
  spawnCli,
  testBackend,
  uniqueRunId,
  waitUntil,
} from './cli';
export { type MetricSample, metricValue, parseMetricsText, scrapeMetrics } from './metrics-text';
export { freePort, freePortRange } from './ports';
export {
  findPrometheus,
  type PrometheusInstance,
  type PrometheusOptions,
  PrometheusQueryError,
  PrometheusStartError,
  type PrometheusTarget,
  type PromSample,
  startPrometheus,
} from './prometheus';
export {
  findRedisServer,
  type PrivateRedisOptions,
  type RedisClusterInstance,
  type RedisClusterOptions,
  type RedisInstance,
  type RedisServerOptions,
  RedisStartError,
  startRedisCluster,
  startRedisServer,
} from './redis-cluster';
export { stepOf } from './run-step';
export {
  S3RVER_CREDENTIALS,
  type S3rverInstance,
  type S3rverOptions,
  S3rverStartError,
  startS3rver,
} from './s3rver';
export { type ServiceRig, serviceRig } from './service-rig';
export { findTool, skipUnlessRequired, skipWithoutTool, type ToolName } from './tools';
