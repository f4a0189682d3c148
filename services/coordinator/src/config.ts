import {
  checkHyperparams,
  DATA_OPTIONS,
  dataOptionsShape,
  HYPERPARAM_OPTIONS,
  hyperparamsShape,
  type OptionSpec,
} from '@gradq/trainer';
import { z } from 'zod';

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
  ...REDIS_OPTIONS,
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
  redisUrl: z.string().min(1).optional(),
  /** Default false. */
  redisCluster: z.boolean().default(false),
};

export const coordinatorShape = {
  ...hyperparamsShape,
  ...dataOptionsShape,
  ...redisShape,
  /** Default 5000 ms. */
  checkAfterMs: z.coerce.number().int().min(100, 'must be at least 100').default(5000),
  /** Default false: a finished run's keys are deleted. */
  keepRun: z.boolean().default(false),
  help: z.boolean().optional(),
};

export const coordinatorConfigSchema = z.object(coordinatorShape).superRefine(checkHyperparams);
export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
