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
  freePort,
  S3RVER_CREDENTIALS,
  type S3rverInstance,
  type S3rverOptions,
  S3rverStartError,
  startS3rver,
} from './s3rver';
