import { hostname } from 'node:os';
import { redisUrlProblem } from '@gradq/protocol';
import type { OptionSpec } from '@gradq/trainer';
import { z } from 'zod';

/** Checked when the options are read, so that a bad URL is a usage error naming its flag, before anything starts. */
const redisUrlSchema = z
  .string()
  .min(1)
  .superRefine((url, ctx) => {
    const problem = redisUrlProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Host names, IPv4 and IPv6 addresses; anything else could only fail later, at listen time, naming no option. */
const HOST_PATTERN = /^[A-Za-z0-9_.:%-]+$/;

export const WORKER_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'redisUrl',
    flag: 'redis-url',
    env: 'REDIS_URL',
    doc: 'Redis to take jobs from (default redis://127.0.0.1:6379)',
  },
  {
    key: 'redisCluster',
    flag: 'redis-cluster',
    env: 'REDIS_CLUSTER',
    type: 'boolean',
    doc: 'REDIS_URL lists Redis Cluster seed nodes (default off)',
  },
  { key: 'workerId', flag: 'worker-id', env: 'WORKER_ID', doc: 'name in logs and results (default <hostname>-<pid>)' },
  {
    key: 'lockMs',
    flag: 'lock-ms',
    env: 'WORKER_LOCK_MS',
    doc: 'job lock; a worker silent this long is presumed dead and its job retried (default 30000)',
  },
  {
    key: 'metricsPort',
    flag: 'metrics-port',
    env: 'METRICS_PORT',
    doc: '/metrics port, 0 = any free port (default 9401)',
  },
  { key: 'metricsHost', flag: 'metrics-host', env: 'METRICS_HOST', doc: '/metrics interface (default 0.0.0.0)' },
  { key: 'help', flag: 'help', type: 'boolean', doc: 'print this help' },
];

export const workerConfigSchema = z.object({
  /** Default redis://127.0.0.1:6379. */
  redisUrl: redisUrlSchema.default('redis://127.0.0.1:6379'),
  /** Default false. */
  redisCluster: z.boolean().default(false),
  /** Default `<hostname>-<pid>`. */
  workerId: z.string().min(1).max(100).default(`${hostname()}-${process.pid}`),
  /**
   * BullMQ lock duration in ms. A gradient job blocks the event loop for well under a second, so the lock (renewed
   * every half period) is never lost to compute; a killed worker's job comes back after about this long.
   * Default 30000.
   */
  lockMs: z.coerce.number().int().min(1000, 'must be at least 1000').default(30_000),
  /** Default 9401; 0 = any free port. */
  metricsPort: z.coerce.number().int().min(0).max(65535, 'must be a port number').default(9401),
  /** Default 0.0.0.0. */
  metricsHost: z.string().regex(HOST_PATTERN, 'must be a host name or IP address').default('0.0.0.0'),
  help: z.boolean().optional(),
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
