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

/**
 * What one step of the training loop covers. `sync`: a batch of B samples in K leaves. `local`: a round of R x H
 * batches, one leaf per replica: replica r walks leaf r in H batches of B (`innerBatches`). So a full round consumes
 * exactly the R x H consecutive batches of the epoch's order that R x H sync steps would, and replica r's inner step
 * h is sync's batch r x H + h of the round; only an epoch's last, short round splits differently (R nearly equal
 * spans, each walked in batches of B).
 */
export function stepShape(h: {
  algorithm: 'sync' | 'local';
  batchSize: number;
  shardsPerStep: number;
  replicas: number;
  innerSteps: number;
}): { samples: number; leaves: number } {
  if (h.algorithm === 'sync') return { samples: h.batchSize, leaves: h.shardsPerStep };
  return { samples: h.replicas * h.innerSteps * h.batchSize, leaves: h.replicas };
}

/**
 * The inner batches of one replica's span: consecutive batches of `batchSize` (the last may be short), each split
 * into `leaves` nearly equal spans as a sync step's batch is (`shardSpans`), so that an inner step's gradient is the
 * same leaf tree over the same samples as sync's.
 */
export function innerBatches(span: { start: number; end: number }, batchSize: number, leaves: number): ShardSpan[][] {
  const batches: ShardSpan[][] = [];
  for (let start = span.start; start < span.end; start += batchSize) {
    const length = Math.min(batchSize, span.end - start);
    batches.push(
      shardSpans(length, batchSize, leaves, 0).map((s) => ({
        shard: s.shard,
        start: start + s.start,
        end: start + s.end,
      })),
    );
  }
  return batches;
}
