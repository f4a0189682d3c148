import {
  type CudaAddon,
  type CudaEngineHandle,
  CudaUnavailableError,
  cudaLibraries,
  loadCudaAddon,
  readFatbin,
} from '@gradq/cuda-kernels';
import type { OutputActivation, WireEncoding } from '@gradq/model';
import { BlockScratch, checkTask } from './task';
import type { ModelShape } from './tfjs-engine';
import type { BlockGradient, BlockTask, Engine } from './types';

const OUTPUT_ACTIVATION_CODES: Record<OutputActivation, number> = { relu: 0, sigmoid: 1, linear: 2 };
const ROUNDING_CODES: Record<WireEncoding, number> = { f32: 0, f16: 1, bf16: 2 };

/** A CUDA setting in the environment is malformed: a usage error (the CLIs exit 2). */
export class CudaConfigError extends Error {
  override readonly name = 'CudaConfigError';
}

/** What the engine runs on, for logs, /metrics and health. */
export interface CudaDevice {
  /** e.g. "NVIDIA H200". */
  readonly name: string;
  /** e.g. "9.0". */
  readonly computeCapability: string;
  /** e.g. "12.8": the newest CUDA the driver supports. */
  readonly driverCuda: string;
  /** The cuBLAS library opened and its version, e.g. "libcublas.so.12 120804". */
  readonly cublas: string;
  readonly tf32: boolean;
}

export interface CudaEngineOptions {
  /**
   * Read for GRADQ_CUDA_DEVICE (GPU ordinal, default 0), GRADQ_CUDA_TF32 (`1`: TF32 products, default off),
   * GRADQ_CUDA_DRIVER / GRADQ_CUBLAS (the libraries, default libcuda.so.1 and libcublas.so.13 or .12) and
   * GRADQ_CUDA_FATBIN (the kernels, default the build's). Default: process.env.
   */
  readonly env?: NodeJS.ProcessEnv;
  /** The kernels' fatbin; default read from GRADQ_CUDA_FATBIN or the build. */
  readonly image?: Uint8Array;
}

/**
 * The CUDA engine (`@gradq/cuda-kernels`): one call per block runs every leaf's forward, MSE and backward pass on an
 * NVIDIA GPU (cuBLAS SGEMM and kernels.cu) and the leaf tree's rounded merges, on the device. Parameters are copied
 * to the device once per version, the training set once; per block only the block's span of the order goes up and
 * the gradient comes back. Within float32 rounding of the CPU engines, not bit-identical to them: cuBLAS sums in its
 * own order, which may differ between GPU models and cuBLAS versions. On one GPU model and cuBLAS version a leaf has
 * the same bits in any block (every product covers one leaf), so worker counts still do not change a run whose
 * workers are all alike.
 */
export class CudaEngine implements Engine {
  readonly name: string;
  readonly paramCount: number;
  readonly device: CudaDevice;
  private readonly addon: CudaAddon;
  private handle: CudaEngineHandle | undefined;
  private readonly sampleSize: number;
  private sampleCount = 0;
  /** The parameters on the device: their version and the array they came from. */
  private resident: { version: number; params: Float32Array } | undefined;
  private readonly scratch = new BlockScratch();

  /** Throws CudaUnavailableError naming what is missing (the addon, the kernels, the driver, a GPU, cuBLAS). */
  constructor(shape: ModelShape, options: CudaEngineOptions = {}) {
    const env = options.env ?? process.env;
    const device = parseDevice(env.GRADQ_CUDA_DEVICE);
    const tf32 = parseFlag('GRADQ_CUDA_TF32', env.GRADQ_CUDA_TF32);
    this.addon = loadCudaAddon();
    const image = options.image ?? readFatbin(env);
    const libraries = cudaLibraries(env);
    try {
      this.handle = this.addon.engineCreate(
        image,
        Int32Array.from(shape.layerSizes),
        OUTPUT_ACTIVATION_CODES[shape.outputActivation],
        libraries.driver,
        libraries.cublas,
        device,
        tf32,
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_GRADQ_CUDA_UNAVAILABLE')
        throw new CudaUnavailableError((err as Error).message);
      throw err;
    }
    const h = this.handle;
    this.paramCount = h.paramCount;
    this.sampleSize = shape.layerSizes[0] as number;
    // TF32 products round their inputs to 10-bit mantissas: other bits, so another engine name.
    this.name = tf32 ? 'cuda-tf32' : 'cuda';
    const driver = h.driverVersion;
    this.device = {
      name: h.device,
      computeCapability: h.computeCapability,
      driverCuda: `${Math.floor(driver / 1000)}.${Math.floor((driver % 1000) / 10)}`,
      cublas: `${h.cublasLibrary} ${h.cublasVersion}`,
      tf32,
    };
  }

  setTrainingSet(pixels: Uint8Array, sampleSize: number): void {
    const handle = this.live();
    if (sampleSize !== this.sampleSize)
      throw new RangeError(`${this.name}: sampleSize ${sampleSize}, the model's input has ${this.sampleSize} units`);
    if (pixels.length % sampleSize !== 0)
      throw new RangeError(`${this.name}: ${pixels.length} pixels are not whole samples of ${sampleSize}`);
    this.addon.engineSetPixels(handle, pixels);
    this.sampleCount = pixels.length / sampleSize;
  }

  /** Writes `grad` into `task.out` when given, else into a fresh array. */
  computeBlock(task: BlockTask): BlockGradient {
    const handle = this.live();
    if (this.sampleCount === 0) throw new Error(`${this.name}: setTrainingSet was not called`);
    checkTask(task, this.paramCount, this.sampleCount);
    // A version names its parameters (BlockTask); another array under the same version is a caller's new vector too.
    if (this.resident?.version !== task.version || this.resident.params !== task.params) {
      this.addon.engineSetParams(handle, task.params);
      this.resident = { version: task.version, params: task.params };
    }
    const { spans, losses, counts } = this.scratch.views(task.leaves);
    const first = task.leaves[0]?.start ?? 0;
    const end = task.leaves.at(-1)?.end ?? first;
    const grad = task.out ?? new Float32Array(this.paramCount);
    this.addon.engineCompute(
      handle,
      task.order.subarray(first, end),
      spans,
      task.stepSamples,
      ROUNDING_CODES[task.rounding],
      grad,
      losses,
    );
    return { grad, losses: Array.from(losses), counts };
  }

  /** Frees the device memory now. */
  dispose(): void {
    if (this.handle) this.addon.engineDestroy(this.handle);
    this.handle = undefined;
    this.resident = undefined;
  }

  private live(): CudaEngineHandle {
    if (!this.handle) throw new Error(`${this.name}: the engine was disposed`);
    return this.handle;
  }
}

function parseDevice(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1024)
    throw new CudaConfigError(`GRADQ_CUDA_DEVICE must be a GPU ordinal (0, 1, ...), got '${value}'`);
  return n;
}

function parseFlag(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new CudaConfigError(`${name} must be 0 or 1, got '${value}'`);
}
