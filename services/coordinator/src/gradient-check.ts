/**
 * Every value of a gradient must be finite before it can reach the tree: one NaN would poison every parameter
 * through Adam's moments. Pure, so it is tested without Redis. (Lengths are checked slice by slice as they are read.)
 */
export function checkGradientValues(grad: Float32Array): { ok: true } | { ok: false; detail: string } {
  for (let i = 0; i < grad.length; i++) {
    if (!Number.isFinite(grad[i] as number)) return { ok: false, detail: `value ${i} is ${grad[i]}` };
  }
  return { ok: true };
}
