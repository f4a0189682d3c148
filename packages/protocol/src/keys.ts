import { RUN_ID_PATTERN } from '@gradq/trainer';
import { sliceTags } from './slices';

/**
 * Every Redis key of a run. The control keys share the hash tag `{<run-id>}`, so under Redis Cluster they live in
 * one slot and the submit script can touch several of them atomically. The bulk bytes (parameter and gradient
 * slices) carry other tags, chosen so that on a Cluster the slices spread over every node: bandwidth grows with
 * nodes. BullMQ's keys use their own tag (`{gradq}`).
 */
export interface RunKeys {
  /** JSON run description ({@link RunMeta}): hyperparameters, layout fingerprint, dataset size, slice count. */
  readonly meta: string;
  /** The training samples as uint8, 784 per sample, in dataset order. */
  readonly train: string;
  /** The step being collected, `<step>` while open and `<step>/closed` once applied; gradients for any other are stale. */
  readonly step: string;
  /** The current coordinator's session: gradients of jobs another coordinator enqueued are stale. */
  readonly session: string;
  /** The lease of the coordinator that owns the run (`lease.ts`): one at a time. */
  readonly owner: string;
  /** Counters kept by the submit script: duplicates, stale. */
  readonly stats: string;
  /** Results of accepted and rejected blocks, pushed by workers, popped by the coordinator. */
  readonly results: string;
  /** A stream with one entry per published step: workers holding a job of a later step block on it (XREAD). */
  readonly versions: string;
  /** uint32 sample order of an epoch. */
  order(epoch: number): string;
  /** Hash leaf -> result JSON of the accepted blocks of a step: its fields decide exactly-once, per leaf. */
  done(step: number): string;
  /**
   * Slice `slice` of the float32 parameters of a version (= the number of steps applied before them), as coordinator
   * `session` published them: a coordinator that lost the run can never overwrite its successor's.
   */
  params(session: string, version: number, slice: number): string;
  /** Slice `slice` of one submitted block gradient; `token` is unique per submission, so copies never collide. */
  grad(step: number, token: string, slice: number): string;
  /**
   * `--algorithm local`: hash replica (leaf index) -> JSON {@link InnerPointer}, the inner Adam state each replica's
   * next job starts from. Written by the coordinator only, from accepted results: what makes the states exactly-once.
   */
  readonly innerPointers: string;
  /**
   * Slice `slice` of a replica's inner Adam moments (first moment's values of the slice, then the second's, float32),
   * written with the submission `token` of round `step`'s job (or by a resuming coordinator).
   */
  inner(step: number, token: string, slice: number): string;
  /**
   * Slice `slice` of the coordinator's Adam moments at parameters `version` (first moment's values, then the
   * second's), written under a fresh `token` beside those parameters when a worker asked for them (`wantsState`).
   */
  moments(version: number, token: string, slice: number): string;
}

export function runKeys(runId: string, slices = 1): RunKeys {
  if (!RUN_ID_PATTERN.test(runId)) throw new RangeError(`invalid run id '${runId}'`);
  const base = `gradq:{${runId}}`;
  const tags = sliceTags(runId, slices);
  const tag = (slice: number) => {
    const t = tags[slice];
    if (t === undefined) throw new RangeError(`run ${runId} has ${slices} slices, not slice ${slice}`);
    return `gradq:{${t}}`;
  };
  return {
    meta: `${base}:meta`,
    train: `${base}:train`,
    step: `${base}:step`,
    session: `${base}:session`,
    owner: `${base}:owner`,
    stats: `${base}:stats`,
    results: `${base}:results`,
    versions: `${base}:versions`,
    order: (epoch) => `${base}:order:${epoch}`,
    done: (step) => `${base}:done:${step}`,
    params: (session, version, slice) => `${tag(slice)}:params:${session}:${version}:${slice}`,
    grad: (step, token, slice) => `${tag(slice)}:grad:${step}:${token}:${slice}`,
    innerPointers: `${base}:inner`,
    inner: (step, token, slice) => `${tag(slice)}:inner:${step}:${token}:${slice}`,
    moments: (version, token, slice) => `${tag(slice)}:moments:${version}:${token}:${slice}`,
  };
}

/** BullMQ key prefix; the braces make it a Redis Cluster hash tag, as BullMQ requires there. */
export const QUEUE_PREFIX = '{gradq}';
