import { fromBytes } from '@gradq/model';

export type GradientProblem = 'length' | 'nonfinite';

/**
 * Checks a shard gradient read from Redis before it can reach the average: it must hold exactly the layout's
 * number of float32 values, and its loss and values must be finite. Pure, so it is tested without Redis.
 */
export function checkGradient(
  bytes: Uint8Array,
  size: number,
  result: { loss: number; count: number },
): { grad?: Float32Array; problem?: GradientProblem; detail?: string } {
  if (bytes.byteLength !== size * 4) {
    return { problem: 'length', detail: `${bytes.byteLength} bytes, expected ${size * 4} (${size} float32 values)` };
  }
  const grad = fromBytes(bytes, size);
  if (!Number.isFinite(result.loss)) return { grad, problem: 'nonfinite', detail: `loss is ${result.loss}` };
  for (let i = 0; i < grad.length; i++) {
    if (!Number.isFinite(grad[i] as number)) return { grad, problem: 'nonfinite', detail: `value ${i} is ${grad[i]}` };
  }
  return { grad };
}
