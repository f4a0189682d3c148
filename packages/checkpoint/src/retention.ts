/** What retention needs to know about one checkpoint directory. */
export interface RetentionCandidate {
  readonly step: number;
  /** Saved at an epoch end. */
  readonly epochEnd: boolean;
  /** Has a manifest (a directory without one is a save that never finished). */
  readonly complete: boolean;
}

export interface RetentionPolicy {
  /** The most recent complete checkpoints to keep; at least 1. */
  readonly keep: number;
  /** Also keep every complete epoch-end checkpoint. */
  readonly keepEpochs: boolean;
  /** Never deleted: the step `latest` names. */
  readonly protect?: number;
  /** Incomplete checkpoints below this step are abandoned saves and deleted. Default: every incomplete one is kept. */
  readonly inProgressFrom?: number;
}

/**
 * The steps to delete: complete checkpoints beyond the newest `keep` (epoch ends spared when `keepEpochs`), and
 * incomplete ones older than `inProgressFrom` (abandoned saves). Never the protected step.
 */
export function selectForDeletion(candidates: readonly RetentionCandidate[], policy: RetentionPolicy): number[] {
  const keep = Math.max(1, Math.floor(policy.keep));
  const complete = candidates.filter((c) => c.complete).sort((a, b) => b.step - a.step);
  const kept = new Set(complete.slice(0, keep).map((c) => c.step));
  if (policy.keepEpochs) for (const c of complete) if (c.epochEnd) kept.add(c.step);
  if (policy.protect !== undefined) kept.add(policy.protect);
  const doomed = new Set<number>();
  for (const c of candidates) {
    if (kept.has(c.step)) continue;
    if (c.complete) doomed.add(c.step);
    else if (policy.inProgressFrom !== undefined && c.step < policy.inProgressFrom) doomed.add(c.step);
  }
  return [...doomed].sort((a, b) => a - b);
}
