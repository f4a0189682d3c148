export {
  CLI,
  type CliProcess,
  CliProcesses,
  cliEnv,
  findMnistDir,
  mnistDir,
  REPO_ROOT,
  spawnCli,
  testBackend,
  uniqueRunId,
  waitUntil,
} from './cli';
export { type MetricSample, metricValue, parseMetricsText, scrapeMetrics } from './metrics-text';
export { freePort, freePortRange } from './ports';
export { type PrometheusInstance, startPrometheus } from './prometheus';
export {
  findRedisServer,
  type RedisClusterInstance,
  type RedisInstance,
  startRedisCluster,
  startRedisServer,
} from './redis-cluster';
export { stepOf } from './run-step';
export { type S3rverInstance, startS3rver } from './s3rver';
export { serviceRig } from './service-rig';
export { findTool, skipUnlessRequired, skipWithoutTool } from './tools';
