import { bytesPerValue, decodeVector, type WireEncoding } from '@gradq/model';

export type GradientProblem = 'length' | 'nonfinite';

/**
 * Checks a shard gradient read from Redis before it can reach the average: it must hold exactly the layout's
 * number of float32 values, and its loss and values must be finite. Pure, so it is tested without Redis.
 */
export function checkGradient(
  bytes: Uint8Array,
  size: number,
  encoding: WireEncoding,
  result: { loss: number; count: number },
): { grad?: Float32Array; problem?: GradientProblem; detail?: string } {
  const expected = size * bytesPerValue(encoding);
  if (bytes.byteLength !== expected) {
    return {
      problem: 'length',
      detail: `${bytes.byteLength} bytes, expected ${expected} (${size} ${encoding} values)`,
    };
  }
  const grad = decodeVector(bytes, encoding, size);
  if (!Number.isFinite(result.loss)) return { grad, problem: 'nonfinite', detail: `loss is ${result.loss}` };
  for (let i = 0; i < grad.length; i++) {
    if (!Number.isFinite(grad[i] as number)) return { grad, problem: 'nonfinite', detail: `value ${i} is ${grad[i]}` };
  }
  return { grad };
}
