import { DEFAULT_REDIS_URL, REDIS_OPTIONS, redisOptionsShape } from '@gradq/protocol';
import { metricsOptions, metricsOptionsShape } from '@gradq/telemetry';
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
  ...metricsOptions('coordinator'),
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
    key: 'jobsPerStep',
    flag: 'jobs-per-step',
    env: 'JOBS_PER_STEP',
    doc: 'jobs each step is split into: auto (from the workers alive and measured costs) or a number (default auto)',
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

export const coordinatorShape = {
  ...hyperparamsShape,
  ...dataOptionsShape,
  ...engineOptionsShape,
  ...redisOptionsShape,
  /** Run id to continue from its latest valid checkpoint; its saved hyperparameters apply. */
  resume: runIdSchema.optional(),
  /** Steps between checkpoints; every epoch end is checkpointed too. 0 = epoch ends only. Default 100. */
  checkpointEvery: z.coerce.number().int().min(0, 'must be at least 0').default(100),
  ...metricsOptionsShape('coordinator'),
  /** A straggler's shard is handed to another worker after this long; the first result wins. Default 30000 ms. */
  shardDeadlineMs: z.coerce.number().int().min(100, 'must be at least 100').default(30_000),
  /** Default 5000 ms. */
  checkAfterMs: z.coerce.number().int().min(100, 'must be at least 100').default(5000),
  /**
   * Jobs per step. `auto`: about one per worker alive, fewer when an extra job's transfers cost more than the
   * compute it saves (never more than the leaves, K). A number fixes it. It never changes the numbers. Default auto.
   */
  jobsPerStep: z
    .union([z.literal('auto'), z.coerce.number().int('must be an integer or auto').min(1, 'must be at least 1')])
    .default('auto'),
  /** Default false: a finished run's keys are deleted. */
  keepRun: z.boolean().default(false),
  help: z.boolean().optional(),
};

/** The rules across the coordinator's options (hyperparameters; --run-id against --resume), for every command that
 * runs a coordinator: `pnpm coordinator` and `pnpm start`. */
export function checkCoordinator(
  c: Parameters<typeof checkHyperparams>[0] & { resume?: string | undefined; runId?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  checkHyperparams(c, ctx);
  if (c.resume && c.runId && c.resume !== c.runId) {
    ctx.addIssue({ code: 'custom', path: ['runId'], message: `conflicts with --resume ${c.resume}` });
  }
}

export const coordinatorConfigSchema = z.object(coordinatorShape).superRefine(checkCoordinator);
export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;

export { DEFAULT_REDIS_URL };
