import type { Leaf, LeafBlock } from '@gradq/engine';
import type { BlockRecord, BlockResult } from '@gradq/protocol';

type Accepted = Extract<BlockResult, { kind: 'accepted' }>;

/** One job's block while its step is collected. */
export interface BlockEntry {
  readonly first: number;
  readonly end: number;
  readonly leaves: readonly Leaf[];
  /** Current attempt (part of the job id): +1 for each re-issue. */
  attempt: number;
  /** Refusals and rejected gradients so far. */
  rejections: number;
  /** Non-finite gradients so far: the first is sent back (a corrupted write?), the second computed by the coordinator. */
  nonfinite: number;
  accepted: boolean;
}

/** Why a block goes back to the queue. */
export type ReissueReason = 'refused' | 'invalid' | 'straggler' | 'lost';

export type RecordAction =
  /** Not ours, or already have it: drop. */
  | { readonly action: 'ignore' }
  /** An accepted result for a block still missing: read its gradient, then call `gradient`. */
  | { readonly action: 'fetch'; readonly entry: BlockEntry; readonly result: Accepted }
  /** A worker refused the block: add it again. */
  | { readonly action: 'reissue'; readonly entry: BlockEntry };

export type GradientVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly problem: 'length' | 'nonfinite' | 'schema'; readonly detail: string };

export class TooManyRejectionsError extends Error {
  override readonly name = 'TooManyRejectionsError';
}

/**
 * The bookkeeping of one step while its blocks are out, as a pure state machine (no Redis, no clock of its own):
 * which records count, which gradients are used, what goes back to the queue and why, and when the step is
 * complete. The submit script has already made each leaf count once; this decides what the coordinator does next.
 */
export class StepBook {
  readonly entries: readonly BlockEntry[];
  readonly counts = { accepted: 0, computedHere: 0, reissued: { refused: 0, invalid: 0, straggler: 0, lost: 0 } };
  readonly rejected: Record<string, number> = {};
  private readonly byFirst = new Map<number, BlockEntry>();
  private missingCount: number;

  constructor(
    readonly step: number,
    blocks: readonly (LeafBlock & { leaves: readonly Leaf[] })[],
    private readonly maxRejections = 20,
  ) {
    this.entries = blocks.map((b) => ({
      first: b.first,
      end: b.end,
      leaves: b.leaves,
      attempt: 0,
      rejections: 0,
      nonfinite: 0,
      accepted: false,
    }));
    for (const e of this.entries) this.byFirst.set(e.first, e);
    this.missingCount = this.entries.length;
  }

  get complete(): boolean {
    return this.missingCount === 0;
  }

  missing(): BlockEntry[] {
    return this.entries.filter((e) => !e.accepted);
  }

  /** A record from the results list. */
  onRecord(record: BlockRecord): RecordAction {
    const entry = this.byFirst.get(record.first);
    // Records of other steps or other blocks are leftovers (a previous coordinator's, or a stale retry).
    if (record.step !== this.step || !entry || entry.end !== record.end || entry.accepted) return { action: 'ignore' };
    if (record.kind === 'rejected') {
      this.reject(entry, record.reason);
      return { action: 'reissue', entry };
    }
    return { action: 'fetch', entry, result: record };
  }

  /**
   * What the coordinator found in a fetched gradient: `use` it (the block is complete), `reissue` the block, or
   * `compute-here`. A non-finite gradient is sent back once; non-finite again, it is not believed either (a worker
   * that writes garbage may write it twice): the coordinator computes the block itself, and what it computes decides
   * ({@link computedHere}). A value no worker computed never decides a step.
   */
  gradient(entry: BlockEntry, verdict: GradientVerdict): 'use' | 'reissue' | 'compute-here' {
    if (!verdict.ok) {
      const again = verdict.problem === 'nonfinite' && entry.nonfinite > 0;
      if (verdict.problem === 'nonfinite') entry.nonfinite += 1;
      this.reject(entry, verdict.problem);
      return again ? 'compute-here' : 'reissue';
    }
    this.markDone(entry);
    return 'use';
  }

  /**
   * The coordinator computed the block itself: used whatever it holds (non-finite too: then the divergence is real,
   * and the training loop skips the step and raises the alert).
   */
  computedHere(entry: BlockEntry): void {
    this.markDone(entry);
    this.counts.computedHere += 1;
  }

  private markDone(entry: BlockEntry): void {
    entry.accepted = true;
    this.missingCount -= 1;
    this.counts.accepted += 1;
  }

  /** Counts a re-issue of `entry` and gives it its next attempt number. */
  reissue(entry: BlockEntry, reason: ReissueReason): void {
    entry.attempt += 1;
    this.counts.reissued[reason] += 1;
  }

  private reject(entry: BlockEntry, reason: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    entry.rejections += 1;
    if (entry.rejections >= this.maxRejections)
      throw new TooManyRejectionsError(
        `leaves [${entry.first}, ${entry.end}) of step ${this.step} were rejected ${entry.rejections} times; last: ${reason}`,
      );
  }
}

/** The checks an accepted record must pass before its gradient is read: its counts must be the block's spans. */
export function checkRecord(entry: BlockEntry, result: Accepted): GradientVerdict {
  const expected = entry.leaves.map((l) => l.end - l.start);
  if (result.counts.length !== expected.length || result.counts.some((c, i) => c !== expected[i]))
    return {
      ok: false,
      problem: 'schema',
      detail: `result from ${result.worker} covers [${result.counts.join(', ')}] samples, the block has [${expected.join(', ')}]`,
    };
  if (result.losses.length !== expected.length)
    return { ok: false, problem: 'schema', detail: `${result.losses.length} losses for ${expected.length} leaves` };
  if (result.losses.some((l) => !Number.isFinite(l)))
    return { ok: false, problem: 'nonfinite', detail: `loss is ${result.losses.find((l) => !Number.isFinite(l))}` };
  return { ok: true };
}

/**
 * Whether a missing block's job needs another worker: `straggler` when it has been active past the deadline (counted
 * from when its step opened, because jobs of the next step are taken early and wait), `lost` when it failed for
 * good or vanished and no result came for `checkAfterMs`.
 */
export function overdue(
  job: { state: string; activeSinceMs?: number | undefined },
  now: number,
  openedAtMs: number,
  deadlineMs: number,
  quietForMs: number,
  checkAfterMs: number,
): 'straggler' | 'lost' | undefined {
  if (job.state === 'active' && job.activeSinceMs !== undefined) {
    if (now - Math.max(job.activeSinceMs, openedAtMs) > deadlineMs) return 'straggler';
    return undefined;
  }
  if (quietForMs >= checkAfterMs && (job.state === 'failed' || job.state === 'missing' || job.state === 'unknown'))
    return 'lost';
  return undefined;
}

/**
 * How many jobs a step should have: about one per worker alive, fewer when the transfers an extra job adds cost
 * more than the compute it saves. Per step one Redis moves (1 + 3J) parameter-sized vectors (one publish, J
 * fetches, J gradient writes, J reads) and the compute takes t / J (the largest block's share): J >= 2 costs
 * (1 + 3J) * transfer + compute * largest block / leaves. One job per step lets its worker derive the next
 * parameters itself (`derives`: a synchronous run), so it fetches none and computes while the coordinator reads,
 * applies and publishes: transfer + max(compute, 2 * transfer). Picks the J in 1..min(workers, leaves) with the
 * smallest; a derived single job is left only for a split predicted {@link SPLIT_MARGIN} faster.
 */
/**
 * How much faster than a derived single job a split must be predicted to leave it. Why: near the crossing the model
 * flipped from one step to the next on transfer-time noise (batch 1024 here: compute ~28 ms, transfer 2.3-3 ms, the
 * two within 1%), and each flip to 2 jobs made the plan want both workers for 8 steps (`recentJobs`), ended the
 * derivation and added fetches: `--workers 2` epochs with flips trained at 27,100 samples/s, without at 34,400. What
 * the model does not see is what a split costs beyond its bytes: two workers computing on cores shared with the
 * coordinator and Redis, and their fetches queued behind each other on one Redis; `--jobs-per-step 2` measured
 * 0.90-0.99x of one derived job where the model predicted them equal.
 */
export const SPLIT_MARGIN = 0.85;

export function jobsPerStep(o: {
  workers: number;
  leaves: number;
  /** Seconds one worker takes to compute the whole step; undefined before any measurement. */
  computeSeconds: number | undefined;
  /** Seconds to move one parameter-sized vector through Redis; undefined before any measurement. */
  transferSeconds: number | undefined;
  /** Largest block (in leaves) when the step is cut into J blocks. */
  largestBlock: (jobs: number) => number;
  /** A worker computing a whole step derives the next parameters (synchronous runs). Default false. */
  derives?: boolean;
}): number {
  const most = Math.max(1, Math.min(o.workers, o.leaves));
  if (o.computeSeconds === undefined || o.transferSeconds === undefined) return most;
  const t = o.transferSeconds;
  let best = 1;
  let bestTime = Number.POSITIVE_INFINITY;
  for (let j = 1; j <= most; j++) {
    const time =
      j === 1 && o.derives
        ? (t + Math.max(o.computeSeconds, 2 * t)) * SPLIT_MARGIN
        : (1 + 3 * j) * t + (o.computeSeconds * o.largestBlock(j)) / o.leaves;
    if (time < bestTime * 0.999) {
      best = j;
      bestTime = time;
    }
  }
  return best;
}
