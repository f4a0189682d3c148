import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The compiled addon's functions (native/addon.c). */
export interface CudaAddon {
  /**
   * Opens the driver (`driver`, a dlopen name or path), cuBLAS (the first of `cublas` that opens), GPU `device` and
   * the kernels (`image`, the fatbin) for a dense autoencoder: `layerSizes` input first (first = last),
   * `outputActivation` 0 relu, 1 sigmoid, 2 linear. Throws an Error whose `code` is ERR_GRADQ_CUDA_UNAVAILABLE and
   * whose message is the first thing missing ("libcuda.so.1 not found: no NVIDIA driver (dlopen: ...)").
   */
  engineCreate(
    image: Uint8Array,
    layerSizes: Int32Array,
    outputActivation: number,
    driver: string,
    cublas: readonly string[],
    device: number,
    tf32: boolean,
  ): CudaEngineHandle;
  /** Frees the engine's device memory now (the garbage collector would, later). */
  engineDestroy(handle: CudaEngineHandle): void;
  /** Copies the training set to the device: whole samples of the input size. */
  engineSetPixels(handle: CudaEngineHandle, pixels: Uint8Array): void;
  /** Copies parameters to the device, where they stay until the next call. */
  engineSetParams(handle: CudaEngineHandle, params: Float32Array): void;
  /**
   * One block of leaves: `leaves` = [start0, end0, start1, end1, ...], consecutive positions of the epoch's order,
   * and `order` the block's part of that order (order[0] at position start0). Writes the block's gradient, reduced
   * over the leaf tree with `rounding` (0 f32, 1 f16, 2 bf16), into `outGrad`, each leaf's mean squared error into
   * `outLosses`.
   */
  engineCompute(
    handle: CudaEngineHandle,
    order: Uint32Array,
    leaves: Int32Array,
    stepSamples: number,
    rounding: number,
    outGrad: Float32Array,
    outLosses: Float64Array,
  ): void;
}

/** An engine from `engineCreate`: what it runs on. */
export interface CudaEngineHandle {
  readonly paramCount: number;
  /** The GPU's name, e.g. "NVIDIA H200". */
  readonly device: string;
  /** e.g. "9.0". */
  readonly computeCapability: string;
  /** CUDA version the driver supports, as 1000 * major + 10 * minor (12080 for 12.8). */
  readonly driverVersion: number;
  readonly cublasVersion: number;
  readonly cublasLibrary: string;
}

/** The CUDA engine cannot run here: the message says what is missing. */
export class CudaUnavailableError extends Error {
  override readonly name = 'CudaUnavailableError';
}

/** Where `pnpm install` (scripts/build.mjs) puts the addon and the kernels. */
export const CUDA_ADDON_PATH = new URL('../build/Release/gradq_cuda.node', import.meta.url).pathname;
export const CUDA_FATBIN_PATH = new URL('../build/gradq_cuda.fatbin', import.meta.url).pathname;

let loaded: CudaAddon | undefined;

/** Loads the addon once per process. Throws CudaUnavailableError when it was not built. */
export function loadCudaAddon(): CudaAddon {
  if (loaded) return loaded;
  if (!existsSync(CUDA_ADDON_PATH)) {
    throw new CudaUnavailableError(
      `the CUDA addon was not built (${CUDA_ADDON_PATH} is missing; needs a C compiler, then pnpm install)`,
    );
  }
  try {
    loaded = createRequire(import.meta.url)(CUDA_ADDON_PATH) as CudaAddon;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new CudaUnavailableError(`the CUDA addon did not load: ${message.split('\n')[0]}`);
  }
  return loaded;
}

/** The kernels' fatbin (`GRADQ_CUDA_FATBIN`, else the one built at install). Throws CudaUnavailableError if absent. */
export function readFatbin(env: NodeJS.ProcessEnv = process.env): Uint8Array {
  const path = env.GRADQ_CUDA_FATBIN || CUDA_FATBIN_PATH;
  if (!existsSync(path)) {
    throw new CudaUnavailableError(
      `the CUDA kernels were not built (${path} is missing: nvcc was not found at install; install the CUDA ` +
        'toolkit or set NVCC, then pnpm --filter @gradq/cuda-kernels build)',
    );
  }
  return new Uint8Array(readFileSync(path));
}

/** The libraries an engine opens, from the environment. */
export interface CudaLibraries {
  /** `GRADQ_CUDA_DRIVER`, default `libcuda.so.1` (installed by the NVIDIA driver, never by the toolkit). */
  readonly driver: string;
  /** `GRADQ_CUBLAS` (one name or path), default libcublas.so.13 then libcublas.so.12. */
  readonly cublas: readonly string[];
}

export function cudaLibraries(env: NodeJS.ProcessEnv = process.env): CudaLibraries {
  return {
    driver: env.GRADQ_CUDA_DRIVER || 'libcuda.so.1',
    cublas: env.GRADQ_CUBLAS ? [env.GRADQ_CUBLAS] : ['libcublas.so.13', 'libcublas.so.12'],
  };
}
