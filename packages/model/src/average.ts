/** A shard's contribution: its mean gradient and how many samples that mean is over. */
export interface WeightedGradient {
  readonly grad: Float32Array;
  readonly count: number;
}

/**
 * The sample-weighted mean of shard gradients: sum(count_i * grad_i) / sum(count_i), accumulated in float64 in the
 * order given (shard order), rounded to float32 once. The order is fixed so that the result is the same bits
 * whichever worker finished first.
 */
export function weightedAverage(parts: readonly WeightedGradient[], out?: Float32Array): Float32Array {
  const { length, total } = checkGradients(parts);
  const sum = new Float64Array(length);
  for (const { grad, count } of parts) {
    if (count === 0) continue;
    for (let j = 0; j < length; j++) sum[j] = (sum[j] as number) + count * (grad[j] as number);
  }
  const result = out ?? new Float32Array(length);
  if (result.length !== length)
    throw new RangeError(`weightedAverage: out has ${result.length} values, expected ${length}`);
  for (let j = 0; j < length; j++) result[j] = (sum[j] as number) / total;
  return result;
}

/** The checks every implementation of the average shares: equal lengths, whole non-negative counts, a non-zero total. */
export function checkGradients(parts: readonly WeightedGradient[]): { length: number; total: number } {
  if (parts.length === 0) throw new RangeError('weightedAverage: no gradients to average');
  const length = (parts[0] as WeightedGradient).grad.length;
  let total = 0;
  for (const [i, { grad, count }] of parts.entries()) {
    if (grad.length !== length) {
      throw new RangeError(`weightedAverage: gradient ${i} has ${grad.length} values, expected ${length}`);
    }
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`weightedAverage: gradient ${i} has an invalid sample count ${count}`);
    }
    total += count;
  }
  if (total === 0) throw new RangeError('weightedAverage: the gradients cover zero samples');
  return { length, total };
}
