/** Shape arithmetic for the native kernels: pure, so that it is tested without the addon. */

/** Most dims a native kernel walks (GQ_MAX_RANK in native/kernels.h). */
export const MAX_RANK = 8;

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d] as number;
  }
  return strides;
}

/**
 * `[rank, outShape..., aStrides..., bStrides...]` for the native broadcasting loop: each operand's element stride
 * per output dim, 0 where it broadcasts. Null when the shapes do not broadcast to `outShape` (let tfjs throw).
 */
export function broadcastMeta(
  aShape: readonly number[],
  bShape: readonly number[],
  outShape: readonly number[],
): Int32Array | null {
  const rank = outShape.length;
  if (rank > MAX_RANK || aShape.length > rank || bShape.length > rank) return null;
  const meta = new Int32Array(1 + 3 * rank);
  meta[0] = rank;
  const operands = [aShape, bShape] as const;
  for (const [k, shape] of operands.entries()) {
    const strides = rowMajorStrides(shape);
    const lead = rank - shape.length;
    for (let d = 0; d < rank; d++) {
      const out = outShape[d] as number;
      const dim = d < lead ? 1 : (shape[d - lead] as number);
      if (dim !== out && dim !== 1) return null;
      meta[1 + (k + 1) * rank + d] = dim === 1 ? 0 : (strides[d - lead] as number);
    }
  }
  for (let d = 0; d < rank; d++) meta[1 + d] = outShape[d] as number;
  return meta;
}

export interface ReducePlan {
  /** `[rank, kept, permutedShape..., permutedStrides...]` for the native reducer. */
  readonly meta: Int32Array;
  readonly outShape: number[];
  readonly reduceSize: number;
}

/**
 * The view tfjs-backend-cpu's Sum reduces: kept axes in order, then the reduced axes in the order given (its
 * getAxesPermutation), so that each output adds its terms in the same order. Null for repeated axes or high rank.
 */
export function reducePlan(shape: readonly number[], axes: readonly number[], keepDims: boolean): ReducePlan | null {
  const rank = shape.length;
  if (rank > MAX_RANK || new Set(axes).size !== axes.length) return null;
  if (axes.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)) return null;
  const strides = rowMajorStrides(shape);
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const order = [...kept, ...axes];
  const meta = new Int32Array(2 + 2 * rank);
  meta[0] = rank;
  meta[1] = kept.length;
  order.forEach((d, i) => {
    meta[2 + i] = shape[d] as number;
    meta[2 + rank + i] = strides[d] as number;
  });
  const outShape = keepDims ? shape.map((n, d) => (axes.includes(d) ? 1 : n)) : kept.map((d) => shape[d] as number);
  return { meta, outShape, reduceSize: sizeOf(axes.map((d) => shape[d] as number)) };
}
