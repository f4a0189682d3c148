import { backend_util, type KernelFunc } from '@tensorflow/tfjs';
import type { NativeAddon } from '../addon';
import { broadcastMeta, sizeOf } from '../shapes';
import { allocFloat32, cpuBackend, floatValues, type NativeKernelFactory, output } from './common';

/** Op codes of native/kernels.h. */
export const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, SquaredDifference: 4 } as const;
export const UNARY_OPS = { Sqrt: 0, Square: 1, Relu: 2, Step: 3 } as const;

/** float32 (op) float32 with numpy broadcasting, any rank up to 8; other dtypes go to the stock kernel. */
function binaryKernel(op: number): NativeKernelFactory {
  return (stock: KernelFunc, addon: NativeAddon): KernelFunc =>
    (params) => {
      const backend = cpuBackend(params);
      const { a, b } = params.inputs;
      const av = floatValues(backend, a);
      const bv = floatValues(backend, b);
      if (!a || !b || !av || !bv) return stock(params);
      let outShape: number[];
      try {
        outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      } catch {
        return stock(params);
      }
      const meta = broadcastMeta(a.shape, b.shape, outShape);
      if (!meta) return stock(params);
      const out = allocFloat32(backend, sizeOf(outShape));
      addon.binary(op, meta, av, bv, out);
      return output(backend, outShape, out);
    };
}

function unaryKernel(op: number): NativeKernelFactory {
  return (stock: KernelFunc, addon: NativeAddon): KernelFunc =>
    (params) => {
      const backend = cpuBackend(params);
      const { x } = params.inputs;
      const xv = floatValues(backend, x);
      if (!x || !xv) return stock(params);
      const alpha = op === UNARY_OPS.Step ? Number((params.attrs as { alpha?: number } | undefined)?.alpha ?? 0) : 0;
      const out = allocFloat32(backend, xv.length);
      addon.unary(op, xv, alpha, out);
      return output(backend, [...x.shape], out);
    };
}

export const ELEMENTWISE_KERNELS: Record<string, NativeKernelFactory> = {
  ...Object.fromEntries(Object.entries(BINARY_OPS).map(([name, op]) => [name, binaryKernel(op)])),
  ...Object.fromEntries(Object.entries(UNARY_OPS).map(([name, op]) => [name, unaryKernel(op)])),
};
