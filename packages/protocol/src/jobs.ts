import { RUN_ID_PATTERN } from '@gradq/trainer';
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';

/** Bumped whenever a job's or a key's meaning changes; workers refuse other versions. */
export const PROTOCOL_VERSION = 2;

/** The one queue of gradient jobs, shared by every run: any worker serves any run. */
export const GRADIENT_QUEUE = 'gradients';

const count = z.number().int().nonnegative();

/**
 * A gradient job: compute the mean-loss gradient of the samples at positions [start, end) of epoch `epoch`'s order
 * with parameters `version`. Only small JSON; the bytes are in Redis under the run's keys.
 */
export const gradientJobSchema = z
  .strictObject({
    protocol: z.number().int(),
    runId: z.string().regex(RUN_ID_PATTERN),
    /** The enqueuing coordinator's session (random per start): a dead coordinator's leftover jobs are stale. */
    session: z.string().regex(/^[0-9a-f]{8,32}$/),
    step: count,
    shard: count,
    /** Parameter version the gradient must be computed at (= step in synchronous training). */
    version: count,
    epoch: count,
    start: count,
    end: count,
    /** The parameter layout's fingerprint: a worker with another layout refuses the job. */
    fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
    /** 0 for the first job of a shard, +1 for each re-issue (rejection elsewhere, straggler). */
    attempt: count,
  })
  .refine((j) => j.end > j.start, { message: 'end must be greater than start', path: ['end'] });
export type GradientJob = z.infer<typeof gradientJobSchema>;

/** What a worker's job returns (the gradient itself is in Redis). */
export interface GradientJobResult {
  readonly status: SubmitStatus;
  readonly loss: number;
  readonly count: number;
}

export type SubmitStatus = 'accepted' | 'duplicate' | 'stale';

/** Deterministic within a coordinator's session, so that re-adding the same job is a no-op in BullMQ. */
export function gradientJobId(job: Pick<GradientJob, 'runId' | 'session' | 'step' | 'shard' | 'attempt'>): string {
  return `${job.runId}/${job.session}/${job.step}/${job.shard}/${job.attempt}`;
}

/**
 * Job options: a failed attempt (worker crash, lost Redis connection) is retried with backoff; deterministic
 * failures throw UnrecoverableError and are not. Finished jobs are removed so that a long run does not grow Redis.
 */
export const GRADIENT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 200 },
  removeOnComplete: true,
  removeOnFail: { count: 1000, age: 24 * 3600 },
};

/** Pushed by a worker into the run's results list. */
export const shardResultSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('accepted'),
    step: count,
    shard: count,
    // JSON has no NaN or Infinity: a worker whose loss diverged sends null. Read back as NaN, so that the coordinator
    // sees the non-finite loss (and skips the step) instead of dropping the record as malformed and waiting forever.
    loss: z
      .number()
      .nullable()
      .transform((v) => v ?? Number.NaN),
    count: count,
    worker: z.string().max(200),
  }),
  z.strictObject({
    kind: z.literal('rejected'),
    step: count,
    shard: count,
    reason: z.enum(['layout', 'protocol', 'params']),
    message: z.string().max(2000),
    worker: z.string().max(200),
  }),
]);
export type ShardResult = z.infer<typeof shardResultSchema>;
