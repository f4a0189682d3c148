import { type KernelFunc, util } from '@tensorflow/tfjs';
import type { NativeAddon } from '../addon';
import { reducePlan, sizeOf } from '../shapes';
import { allocFloat32, cpuBackend, floatValues, type NativeKernelFactory, output } from './common';

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * Sum and Mean of float32 over any axes. tfjs-backend-cpu transposes the reduced axes innermost and adds in double;
 * Mean divides every element by the count in float32 first. The native reducer does both without the transpose,
 * which was the slow path for bias gradients (Sum over the batch axis).
 */
function reduceKernel(mean: boolean): NativeKernelFactory {
  return (stock: KernelFunc, addon: NativeAddon): KernelFunc =>
    (params) => {
      const backend = cpuBackend(params);
      const { x } = params.inputs;
      const xv = floatValues(backend, x);
      if (!x || !xv || xv.length === 0) return stock(params);
      const { axis, keepDims } = params.attrs as unknown as ReduceAttrs;
      const plan = reducePlan(x.shape, util.parseAxisParam(axis, x.shape), keepDims);
      if (!plan) return stock(params);
      const out = allocFloat32(backend, sizeOf(plan.outShape));
      addon.reduce(plan.meta, xv, mean ? plan.reduceSize : 0, out);
      return output(backend, plan.outShape, out);
    };
}

export const REDUCE_KERNELS: Record<string, NativeKernelFactory> = {
  Sum: reduceKernel(false),
  Mean: reduceKernel(true),
};
