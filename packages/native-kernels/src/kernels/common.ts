import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon';
import { NativeCpuBackend } from '../native-backend';

export type KernelParams = Parameters<KernelFunc>[0];

/** Builds a kernel from the stock cpu kernel it replaces (the fallback for cases it does not claim). */
export type NativeKernelFactory = (stock: KernelFunc, addon: NativeAddon) => KernelFunc;

export function cpuBackend(params: KernelParams): MathBackendCPU {
  return params.backend as MathBackendCPU;
}

/** The tensor's float32 values when the native kernels can read them directly, else null (fall back). */
export function floatValues(backend: MathBackendCPU, t: TensorInfo | undefined): Float32Array | null {
  if (t === undefined || t.dtype !== 'float32') return null;
  const values = backend.data.get(t.dataId)?.values;
  return values instanceof Float32Array ? values : null;
}

/** An output array for `backend` (recycled on cpu-native); the kernel must write every element. */
export function allocFloat32(backend: MathBackendCPU, length: number): Float32Array {
  return backend instanceof NativeCpuBackend ? backend.allocFloat32(length) : new Float32Array(length);
}

/** Wraps a freshly written array as the kernel's output; the backend adopts the array without copying. */
export function output(backend: MathBackendCPU, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}
