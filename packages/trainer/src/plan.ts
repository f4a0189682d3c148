/** Which samples each step and shard covers; pure arithmetic over an epoch's order. */

export interface ShardSpan {
  /** Index of the shard within its step, 0..K-1. */
  readonly shard: number;
  /** Positions in the epoch's order, [start, end). */
  readonly start: number;
  readonly end: number;
}

export function stepsPerEpoch(samples: number, batchSize: number): number {
  return Math.ceil(samples / batchSize);
}

/**
 * The shards of step `stepInEpoch`: the batch [s*B, min((s+1)*B, N)) split into K nearly equal contiguous slices
 * (sizes differ by at most one; the last batch of an epoch may be short). Empty slices are left out, so a batch
 * shorter than K yields fewer shards.
 */
export function shardSpans(
  samples: number,
  batchSize: number,
  shardsPerStep: number,
  stepInEpoch: number,
): ShardSpan[] {
  const batchStart = stepInEpoch * batchSize;
  const length = Math.min(batchSize, samples - batchStart);
  if (length <= 0) throw new RangeError(`step ${stepInEpoch} is past the end of an epoch of ${samples} samples`);
  const spans: ShardSpan[] = [];
  for (let k = 0; k < shardsPerStep; k++) {
    const start = batchStart + Math.floor((k * length) / shardsPerStep);
    const end = batchStart + Math.floor(((k + 1) * length) / shardsPerStep);
    if (end > start) spans.push({ shard: k, start, end });
  }
  return spans;
}
