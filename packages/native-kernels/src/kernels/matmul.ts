import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from '../addon';
import { sizeOf } from '../shapes';
import { allocFloat32, cpuBackend, floatValues, type KernelParams, type NativeKernelFactory, output } from './common';

/** Activation codes of native/kernels.h; others (elu, prelu, sigmoid...) go to the stock kernel. */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1 };

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
}

/** The shapes tfjs-backend-cpu's batchMatMul computes, or null for cases left to it (including its errors). */
function plan(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean) {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const innerA = a.shape[transposeA ? ra - 2 : ra - 1] as number;
  const outerA = a.shape[transposeA ? ra - 1 : ra - 2] as number;
  const innerB = b.shape[transposeB ? rb - 1 : rb - 2] as number;
  const outerB = b.shape[transposeB ? rb - 2 : rb - 1] as number;
  if (innerA !== innerB) return null;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  let outer: number[];
  try {
    outer = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  const batch = Math.max(batchA, batchB);
  // The stock kernel maps batch index i to i % batchA: claim only the shapes where that is plain broadcasting.
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  if (sizeOf(outer) !== batch || batchA === 0 || batchB === 0) return null;
  return { batch, batchA, batchB, m: outerA, n: outerB, k: innerA, outShape: [...outer, outerA, outerB] };
}

function run(
  addon: NativeAddon,
  backend: MathBackendCPU,
  params: KernelParams,
  bias: Float32Array | null,
  activation: number,
): TensorInfo | null {
  const { a, b } = params.inputs;
  const av = floatValues(backend, a);
  const bv = floatValues(backend, b);
  if (!a || !b || !av || !bv) return null;
  const { transposeA, transposeB } = params.attrs as unknown as MatMulAttrs;
  const p = plan(a, b, transposeA, transposeB);
  if (!p || (bias && bias.length !== p.n)) return null;
  const out = allocFloat32(backend, p.batch * p.m * p.n);
  addon.matmul(
    transposeA ? 1 : 0,
    transposeB ? 1 : 0,
    p.batch,
    p.batchA,
    p.batchB,
    p.m,
    p.n,
    p.k,
    av,
    bv,
    bias,
    activation,
    out,
  );
  return output(backend, p.outShape, out);
}

/** float32 matmul through OpenBLAS sgemm, any transposes and batch dims (layers' Dense calls it in training). */
const batchMatMul: NativeKernelFactory =
  (stock: KernelFunc, addon: NativeAddon): KernelFunc =>
  (params) =>
    run(addon, cpuBackend(params), params, null, 0) ?? stock(params);

/** Bias over the last dim (shape [n], or ones then n) broadcasts without changing the output shape. */
function isRowBias(bias: TensorInfo, n: number, outRank: number): boolean {
  const s = bias.shape;
  return s.length >= 1 && s.length <= outRank && s[s.length - 1] === n && s.slice(0, -1).every((d) => d === 1);
}

/** sgemm, then bias and linear/relu in the same pass (Dense's predict path); prelu, leakyrelu etc. fall back. */
const fusedMatMul: NativeKernelFactory =
  (stock: KernelFunc, addon: NativeAddon): KernelFunc =>
  (params) => {
    const backend = cpuBackend(params);
    const { bias, preluActivationWeights } = params.inputs;
    const { activation = 'linear' } = params.attrs as unknown as MatMulAttrs;
    const code = ACTIVATIONS[activation];
    if (code === undefined || preluActivationWeights) return stock(params);
    let biasValues: Float32Array | null = null;
    if (bias) {
      biasValues = floatValues(backend, bias);
      const { a } = params.inputs;
      const { transposeB } = params.attrs as unknown as MatMulAttrs;
      const b = params.inputs.b;
      if (!biasValues || !a || !b) return stock(params);
      const n = b.shape[b.shape.length - (transposeB ? 2 : 1)] as number;
      if (!isRowBias(bias, n, Math.max(a.shape.length, b.shape.length))) return stock(params);
    }
    return run(addon, backend, params, biasValues, code) ?? stock(params);
  };

export const MATMUL_KERNELS: Record<string, NativeKernelFactory> = {
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
};
