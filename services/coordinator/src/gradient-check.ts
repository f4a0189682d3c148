import { firstNonFinite } from '@gradq/engine';

/**
 * Every value of a gradient must be finite before it can reach the tree: one NaN would poison every parameter
 * through Adam's moments. Pure, so it is tested without Redis. (Lengths are checked slice by slice as they are read.)
 */
export function checkGradientValues(grad: Float32Array): { ok: true } | { ok: false; detail: string } {
  const i = firstNonFinite(grad);
  return i < 0 ? { ok: true } : { ok: false, detail: `value ${i} is ${grad[i]}` };
}
