import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The compiled addon's functions (native/addon.c). Every buffer is written in place. */
export interface NativeAddon {
  matmul(
    transposeA: number,
    transposeB: number,
    batch: number,
    batchA: number,
    batchB: number,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    activation: number,
    out: Float32Array,
  ): void;
  binary(op: number, meta: Int32Array, a: Float32Array, b: Float32Array, out: Float32Array): void;
  unary(op: number, x: Float32Array, alpha: number, out: Float32Array): void;
  reduce(meta: Int32Array, x: Float32Array, divisor: number, out: Float32Array): void;
  adamUpdate(
    params: Float32Array,
    m: Float32Array,
    v: Float32Array,
    grad: Float32Array,
    learningRate: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    accBeta1: number,
    accBeta2: number,
  ): void;
  /**
   * The fused engine (native/engine.c) for a dense autoencoder: `layerSizes` input first (first = last),
   * `outputActivation` 0 relu, 1 sigmoid, 2 linear. Its scratch buffers are freed when the handle is collected.
   */
  engineCreate(layerSizes: Int32Array, outputActivation: number): NativeEngineHandle;
  /**
   * One block of leaves: `leaves` = [start0, end0, start1, end1, ...], consecutive positions in `order`. Writes the
   * block's gradient, reduced over the leaf tree with `rounding` (0 f32, 1 f16, 2 bf16), into `outGrad`, and each
   * leaf's mean squared error into `outLosses`. Throws a TypeError or RangeError naming a bad argument.
   */
  engineCompute(
    handle: NativeEngineHandle,
    params: Float32Array,
    pixels: Uint8Array,
    sampleSize: number,
    order: Uint32Array,
    leaves: Int32Array,
    stepSamples: number,
    rounding: number,
    outGrad: Float32Array,
    outLosses: Float64Array,
  ): void;
  /** left = round(left + right) in place (`rounding` 0 f32, 1 f16, 2 bf16): @gradq/engine's addRounded. */
  treeAdd(left: Float32Array, right: Float32Array, rounding: number): void;
  /** The parameters' hash (params-hash.ts): 16 hex digits. Absent from an addon built before it existed. */
  paramsHash?(params: Float32Array): string;
  /** The index of the first NaN or infinity in `values`, or -1 when every value is finite. */
  firstNonFinite(values: Float32Array): number;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  blasConfig(): string;
  /** The engine's own GEMM kernel: 'avx2-fma', or 'portable' (also where GRADQ_PORTABLE_GEMM=1); same bits. */
  gemmKernel(): string;
}

/** An engine from `engineCreate`: opaque apart from its parameter count. */
export interface NativeEngineHandle {
  readonly paramCount: number;
}

export class NativeKernelsUnavailableError extends Error {
  override readonly name = 'NativeKernelsUnavailableError';
}

export class NativeKernelsConfigError extends Error {
  override readonly name = 'NativeKernelsConfigError';
}

/** Where `pnpm install` (scripts/install.mjs, node-gyp) puts the addon. */
export const ADDON_PATH = new URL('../build/Release/gradq_native.node', import.meta.url).pathname;

/** Default BLAS threads per process: gradq scales with processes, and results are only reproducible per count. */
export const DEFAULT_BLAS_THREADS = 1;

export interface LoadAddonOptions {
  /** BLAS threads. Default: `GRADQ_BLAS_THREADS` from the environment, else {@link DEFAULT_BLAS_THREADS}. */
  threads?: number;
  env?: NodeJS.ProcessEnv;
}

let loaded: NativeAddon | undefined;

/**
 * Loads the addon once per process and pins OpenBLAS's thread count. Throws NativeKernelsUnavailableError when it
 * was not built (no compiler or no libopenblas-dev at install) or cannot load.
 */
export function loadAddon(options: LoadAddonOptions = {}): NativeAddon {
  const env = options.env ?? process.env;
  const threads = options.threads ?? parseThreads(env.GRADQ_BLAS_THREADS);
  if (!loaded) {
    if (!existsSync(ADDON_PATH)) {
      throw new NativeKernelsUnavailableError(
        `the native addon was not built (${ADDON_PATH} is missing; needs a C compiler and libopenblas-dev, then pnpm install)`,
      );
    }
    pickCoreType(process.env);
    try {
      loaded = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new NativeKernelsUnavailableError(`the native addon did not load: ${message.split('\n')[0]}`);
    }
  }
  loaded.setNumThreads(threads);
  return loaded;
}

/** The addon, or undefined where it was not built (an optional part: callers fall back to JavaScript). */
export function loadAddonIfBuilt(options: LoadAddonOptions = {}): NativeAddon | undefined {
  try {
    return loadAddon(options);
  } catch (err) {
    if (err instanceof NativeKernelsUnavailableError) return undefined;
    throw err;
  }
}

function parseThreads(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_BLAS_THREADS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new NativeKernelsConfigError(`GRADQ_BLAS_THREADS must be an integer from 1 to 1024, got '${value}'`);
  }
  return n;
}

/**
 * The OpenBLAS core type for this CPU: `SkylakeX` (AVX-512) or `Haswell` (AVX2+FMA), from /proc/cpuinfo's flags;
 * undefined off x86-64 Linux or on older CPUs. Debian's OpenBLAS 0.3.21 does not recognise newer CPUs (Sapphire
 * Rapids, Zen 5 here) and falls back to its Prescott kernels: measured 3-7 ms per 128x784x392 sgemm instead of 0.6 ms
 * with SkylakeX.
 */
export function bestCoreType(): 'SkylakeX' | 'Haswell' | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let flags: Set<string>;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    flags = new Set((line ?? '').split(/\s+/));
  } catch {
    return undefined;
  }
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd'].every((f) => flags.has(f))) return 'SkylakeX';
  if (['avx2', 'fma'].every((f) => flags.has(f))) return 'Haswell';
  return undefined;
}

/** Unless the user chose a core type, pick one before the library loads (it reads the variable once, at load). */
function pickCoreType(env: NodeJS.ProcessEnv): void {
  if (env.OPENBLAS_CORETYPE !== undefined) return;
  const best = bestCoreType();
  if (best !== undefined) env.OPENBLAS_CORETYPE = best;
}
