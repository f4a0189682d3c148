import { isAlignedBlock } from '@gradq/engine';
import { RUN_ID_PATTERN } from '@gradq/trainer';
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';

/**
 * Bumped whenever a job's or a key's meaning changes; workers refuse other versions. 3: blocks of leaves, slices.
 * 4: parameters announced a quarter at a time while they are written (a worker of 3 would take the first quarter's
 * announcement for the step's opening). 5: `--algorithm local` (a job of a local run is a replica's round, its
 * result a parameter change plus the replica's inner Adam state; a worker of 4 would compute a gradient). 6: a result
 * may ask for the optimizer's state (`wantsState`) and a step's opening names its parameters' CRC-32 and any state
 * written with them, so that a worker that computed a whole step derives the next parameters itself (a coordinator
 * of 5 would drop such a result as malformed); a step opens before its parameters are written (`ready` = all
 * slices announces them: a worker of 5 would fetch them too early). 7: a step computed by a worker that derives the
 * next parameters (`derives`) opens the next one without writing them (`deferred`); a worker that needs them asks
 * (a `wanted` record): a worker of 6 would wait for them forever. 8: the opening names the parameters' hash
 * (`paramsHash`, 16 lanes, 0.06 ms per 3 MB native) instead of their CRC-32 (0.5 ms): a worker of 7 would find no CRC
 * and fetch every step.
 */
export const PROTOCOL_VERSION = 8;

/** The one queue of gradient jobs, shared by every run: any worker serves any run. */
export const GRADIENT_QUEUE = 'gradients';

const count = z.number().int().nonnegative();
/** One leaf: positions [start, end) of the epoch's order. */
const span = z
  .tuple([count, count])
  .refine(([start, end]) => end > start, { message: 'end must be greater than start' });

/**
 * A gradient job: compute the gradient of a block of consecutive leaves of step `step` (leaves first..first+n-1 of
 * the step's `leafCount`), at parameters version `step`. Only small JSON; the bytes are in Redis under the run's
 * keys. The block must be an aligned block of the leaf tree, so that whoever computes it gets the same node.
 */
export const gradientJobSchema = z
  .strictObject({
    protocol: z.number().int(),
    runId: z.string().regex(RUN_ID_PATTERN),
    /** The enqueuing coordinator's session (random per start): a dead coordinator's leftover jobs are stale. */
    session: z.string().regex(/^[0-9a-f]{8,32}$/),
    step: count,
    epoch: count,
    /** Index of the block's first leaf in the step. */
    first: count,
    /** The block's leaves, consecutive spans of the epoch's order. */
    leaves: z.array(span).min(1).max(4096),
    /** Leaves in the whole step (K). */
    leafCount: z.number().int().min(1).max(4096),
    /** Samples in the whole step: a leaf's gradient is its share of the step's mean. */
    stepSamples: z.number().int().min(1),
    /** The parameter layout's fingerprint: a worker with another layout refuses the job. */
    fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
    /** 0 for the first job of a block, +1 for each re-issue (rejection elsewhere, straggler, lost). */
    attempt: count,
  })
  .superRefine((j, ctx) => {
    for (let i = 1; i < j.leaves.length; i++) {
      if ((j.leaves[i] as [number, number])[0] !== (j.leaves[i - 1] as [number, number])[1])
        ctx.addIssue({ code: 'custom', path: ['leaves', i], message: 'leaves must be consecutive spans' });
    }
    if (!isAlignedBlock(j.first, j.first + j.leaves.length, j.leafCount))
      ctx.addIssue({
        code: 'custom',
        path: ['first'],
        message: `leaves [${j.first}, ${j.first + j.leaves.length}) are not an aligned block of ${j.leafCount}`,
      });
    const samples = j.leaves.reduce((sum, [start, end]) => sum + end - start, 0);
    if (samples > j.stepSamples)
      ctx.addIssue({ code: 'custom', path: ['stepSamples'], message: `less than the block's ${samples} samples` });
  });
export type GradientJob = z.infer<typeof gradientJobSchema>;

/** What a worker's job returns (the gradient itself is in Redis). */
export interface GradientJobResult {
  /** `sent`: the gradient left the worker and the job ended before Redis answered (the worker logs any other word). */
  readonly status: SubmitStatus | 'sent';
  /** Samples computed (0 when the job was dropped before computing). */
  readonly count: number;
}

export type SubmitStatus = 'accepted' | 'duplicate' | 'stale';

/** Deterministic within a coordinator's session, so that re-adding the same job is a no-op in BullMQ. */
export function gradientJobId(job: Pick<GradientJob, 'runId' | 'session' | 'step' | 'first' | 'attempt'>): string {
  return `${job.runId}/${job.session}/${job.step}/${job.first}/${job.attempt}`;
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

// JSON has no NaN or Infinity: a worker whose loss diverged sends null. Read back as NaN, so that the coordinator
// sees the non-finite loss (and skips the step) instead of dropping the record as malformed and waiting forever.
const loss = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN);

/** Pushed by a worker into the run's results list. */
export const blockResultSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('accepted'),
    step: count,
    first: count,
    end: count,
    /** Names the submission's gradient slices. */
    token: z.string().regex(/^[0-9a-f]{16}$/),
    /** Per leaf: mean squared error over its pixels, and its samples. */
    losses: z.array(loss).max(4096),
    counts: z.array(count).max(4096),
    /** Seconds the engine took: the coordinator sizes jobs from it. */
    computeSeconds: z.number().nonnegative().max(86_400),
    worker: z.string().max(200),
    /**
     * `--algorithm local` with `--inner-state keep`: the replica's inner Adam steps so far. Its moments were written
     * under `token` with the change (`RunKeys.inner`); they count only if this record is accepted.
     */
    innerIterations: count.optional(),
    /**
     * The block is the whole step and its worker holds no copy of the optimizer's state: the coordinator writes its
     * Adam state beside the next parameters, so that the worker can derive the parameters after that itself.
     */
    wantsState: z.literal(true).optional(),
    /**
     * The block is the whole step and its worker holds the optimizer's state at it: it derives the next parameters
     * itself, so the coordinator opens the next step without writing them (`deferred`) when that worker's is its
     * one job.
     */
    derives: z.literal(true).optional(),
  }),
  /** A worker needs the parameters of `step`, which opened `deferred`: the coordinator writes them now. */
  z.strictObject({
    kind: z.literal('wanted'),
    step: count,
  }),
  z.strictObject({
    kind: z.literal('rejected'),
    step: count,
    first: count,
    end: count,
    reason: z.enum(['layout', 'protocol', 'params']),
    message: z.string().max(2000),
    worker: z.string().max(200),
  }),
]);
export type BlockResult = z.infer<typeof blockResultSchema>;
/** A record about a block (not a worker's request for parameters). */
export type BlockRecord = Exclude<BlockResult, { kind: 'wanted' }>;
