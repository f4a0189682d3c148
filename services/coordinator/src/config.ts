import { redisUrlProblem } from '@gradq/protocol';
import {
  checkHyperparams,
  DATA_OPTIONS,
  dataOptionsShape,
  ENGINE_OPTIONS,
  engineOptionsShape,
  HYPERPARAM_OPTIONS,
  hyperparamsShape,
  type OptionSpec,
  runIdSchema,
} from '@gradq/trainer';
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

export const REDIS_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'redisUrl',
    flag: 'redis-url',
    env: 'REDIS_URL',
    doc: 'Redis for queues and data (default redis://127.0.0.1:6379)',
  },
  {
    key: 'redisCluster',
    flag: 'redis-cluster',
    env: 'REDIS_CLUSTER',
    type: 'boolean',
    doc: 'REDIS_URL lists Redis Cluster seed nodes (default off)',
  },
];

export const COORDINATOR_OPTIONS: readonly OptionSpec[] = [
  ...HYPERPARAM_OPTIONS,
  ...DATA_OPTIONS,
  ...ENGINE_OPTIONS,
  ...REDIS_OPTIONS,
  { key: 'resume', flag: 'resume', env: 'RESUME', doc: 'continue this run from its latest valid checkpoint' },
  {
    key: 'checkpointEvery',
    flag: 'checkpoint-every',
    env: 'CHECKPOINT_EVERY',
    doc: 'checkpoint every N steps, 0 = epoch ends only (default 100)',
  },
  {
    key: 'metricsPort',
    flag: 'metrics-port',
    env: 'METRICS_PORT',
    doc: '/metrics port, 0 = any free port (default 9400)',
  },
  { key: 'metricsHost', flag: 'metrics-host', env: 'METRICS_HOST', doc: '/metrics interface (default 0.0.0.0)' },
  {
    key: 'shardDeadlineMs',
    flag: 'shard-deadline-ms',
    env: 'SHARD_DEADLINE_MS',
    doc: 'a shard running this long is also given to another worker; first result wins (default 30000)',
  },
  {
    key: 'checkAfterMs',
    flag: 'check-after-ms',
    env: 'CHECK_AFTER_MS',
    doc: 'check on missing shards after this long without a result (default 5000)',
  },
  {
    key: 'keepRun',
    flag: 'keep-run',
    env: 'KEEP_RUN',
    type: 'boolean',
    doc: 'leave the run in Redis when it ends (default off)',
  },
  { key: 'help', flag: 'help', type: 'boolean', doc: 'print this help' },
];

export const redisShape = {
  /** Default redis://127.0.0.1:6379. */
  redisUrl: redisUrlSchema.optional(),
  /** Default false. */
  redisCluster: z.boolean().default(false),
};

export const coordinatorShape = {
  ...hyperparamsShape,
  ...dataOptionsShape,
  ...engineOptionsShape,
  ...redisShape,
  /** Run id to continue from its latest valid checkpoint; its saved hyperparameters apply. */
  resume: runIdSchema.optional(),
  /** Steps between checkpoints; every epoch end is checkpointed too. 0 = epoch ends only. Default 100. */
  checkpointEvery: z.coerce.number().int().min(0, 'must be at least 0').default(100),
  /** Default 9400; 0 = any free port. */
  metricsPort: z.coerce.number().int().min(0).max(65535, 'must be a port number').default(9400),
  /** Default 0.0.0.0. */
  metricsHost: z.string().regex(HOST_PATTERN, 'must be a host name or IP address').default('0.0.0.0'),
  /** A straggler's shard is handed to another worker after this long; the first result wins. Default 30000 ms. */
  shardDeadlineMs: z.coerce.number().int().min(100, 'must be at least 100').default(30_000),
  /** Default 5000 ms. */
  checkAfterMs: z.coerce.number().int().min(100, 'must be at least 100').default(5000),
  /** Default false: a finished run's keys are deleted. */
  keepRun: z.boolean().default(false),
  help: z.boolean().optional(),
};

export const coordinatorConfigSchema = z.object(coordinatorShape).superRefine((c, ctx) => {
  checkHyperparams(c, ctx);
  if (c.resume && c.runId && c.resume !== c.runId) {
    ctx.addIssue({ code: 'custom', path: ['runId'], message: `conflicts with --resume ${c.resume}` });
  }
});
export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
