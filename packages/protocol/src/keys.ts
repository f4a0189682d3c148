import { RUN_ID_PATTERN } from '@gradq/trainer';

/**
 * Every Redis key of a run. All share the hash tag `{<run-id>}`, so under Redis Cluster a run's keys live in one
 * slot and the submit script can touch several of them atomically. BullMQ's keys use their own tag (`{gradq}`).
 */
export interface RunKeys {
  /** JSON run description ({@link RunMeta}): hyperparameters, layout fingerprint, dataset size. */
  readonly meta: string;
  /** The training samples as uint8, 784 per sample, in dataset order. */
  readonly train: string;
  /** The step currently accepting gradients (decimal). Gradients for any other step are stale. */
  readonly step: string;
  /** The current coordinator's session: gradients of jobs another coordinator enqueued are stale. */
  readonly session: string;
  /** Counters kept by the submit script: duplicates, stale. */
  readonly stats: string;
  /** Results of accepted and rejected shards, pushed by workers, popped by the coordinator. */
  readonly results: string;
  /** uint32 sample order of an epoch. */
  order(epoch: number): string;
  /** float32 parameters of a version (= the number of steps applied before them). */
  params(version: number): string;
  /** The gradient of one shard of a step, in the encoding named by the run. */
  grad(step: number, shard: number): string;
  /** Hash shard -> result JSON of the accepted gradients of a step: its members decide exactly-once. */
  done(step: number): string;
}

export function runKeys(runId: string): RunKeys {
  if (!RUN_ID_PATTERN.test(runId)) throw new RangeError(`invalid run id '${runId}'`);
  const base = `gradq:{${runId}}`;
  return {
    meta: `${base}:meta`,
    train: `${base}:train`,
    step: `${base}:step`,
    session: `${base}:session`,
    stats: `${base}:stats`,
    results: `${base}:results`,
    order: (epoch) => `${base}:order:${epoch}`,
    params: (version) => `${base}:params:${version}`,
    grad: (step, shard) => `${base}:grad:${step}:${shard}`,
    done: (step) => `${base}:done:${step}`,
  };
}

/** BullMQ key prefix; the braces make it a Redis Cluster hash tag, as BullMQ requires there. */
export const QUEUE_PREFIX = '{gradq}';
