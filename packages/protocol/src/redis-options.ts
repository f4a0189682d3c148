import type { OptionSpec } from '@gradq/trainer';
import { z } from 'zod';
import { redisUrlProblem } from './redis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The Redis flags every service takes. */
export const REDIS_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'redisUrl',
    flag: 'redis-url',
    env: 'REDIS_URL',
    doc: `Redis for queues and data (default ${DEFAULT_REDIS_URL})`,
  },
  {
    key: 'redisCluster',
    flag: 'redis-cluster',
    env: 'REDIS_CLUSTER',
    type: 'boolean',
    doc: 'REDIS_URL lists Redis Cluster seed nodes (default off)',
  },
];

export const redisOptionsShape = {
  /**
   * Default {@link DEFAULT_REDIS_URL}; left undefined here so that `pnpm start` can tell a URL the user chose
   * (which must answer) from the default (which may fall back to a private redis-server).
   * Checked when the options are read, so that a bad URL is a usage error naming its flag, before anything starts.
   */
  redisUrl: z
    .string()
    .min(1)
    .superRefine((url, ctx) => {
      const problem = redisUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** Default false. */
  redisCluster: z.boolean().default(false),
};
