/**
 * Which engine a worker computes with. `auto` (the default) takes the CUDA engine when it opens and passes a
 * self-test against the CPU engine, else the CPU engine this process's tfjs backend gives (selectEngine: native-cpu,
 * or tfjs where the addon is absent), and says in one line why CUDA was passed over. `cuda` must get the CUDA
 * engine or fails, naming what is missing. `cpu` never tries CUDA. No choice is silent: the worker logs it and
 * exports it on /metrics and /healthz.
 */
import { DEFAULT_LAYER_SIZES } from '@gradq/model';
import { type EngineFactory, selectEngine } from './select';
import type { ModelShape } from './tfjs-engine';
import type { BlockGradient, Engine } from './types';

export const ENGINE_REQUESTS = ['auto', 'cuda', 'cpu'] as const;
export type EngineRequest = (typeof ENGINE_REQUESTS)[number];

/** `GRADQ_ENGINE=cuda` (or `--engine cuda`) and the CUDA engine cannot run: the message says why. */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError';
}

/** GRADQ_ENGINE names no engine: a usage error (exit 2). */
export class EngineConfigError extends Error {
  override readonly name = 'EngineConfigError';
}

export interface WorkerEngine {
  /** The engine every run gets: `cuda`, `native-cpu`, `tfjs-wasm`... */
  readonly name: string;
  /** One line for the log and /healthz: the engine, what it runs on, its self-test. */
  readonly description: string;
  /** The GPU's name for the CUDA engine, `cpu` otherwise: a label of `gradq_worker_engine_info`. */
  readonly device: string;
  /** Why CUDA was passed over under `auto`. */
  readonly skipped?: string;
  readonly factory: EngineFactory;
}

export interface ChooseEngineOptions {
  /** Default `auto`. */
  readonly request?: string;
  /** The process's tfjs backend: the CPU engine's choice and the self-test's reference. */
  readonly backend: string;
  /** For the CUDA engine's settings (GRADQ_CUDA_*). Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Float32 products on the GPU against the CPU's: 8 samples differ by ~1e-7 of scale; TF32 by ~1e-3. */
const SELF_TEST_TOLERANCE = 1e-4;
const SELF_TEST_TOLERANCE_TF32 = 2e-2;

export async function chooseWorkerEngine(options: ChooseEngineOptions): Promise<WorkerEngine> {
  const request = options.request || 'auto';
  if (!(ENGINE_REQUESTS as readonly string[]).includes(request))
    throw new EngineConfigError(
      `GRADQ_ENGINE / --engine must be one of ${ENGINE_REQUESTS.join(', ')}; got '${request}'`,
    );
  const env = options.env ?? process.env;
  let skipped: string | undefined;
  if (request !== 'cpu') {
    try {
      return await cudaWorkerEngine(options.backend, env);
    } catch (err) {
      // A malformed GRADQ_CUDA_* is the user's to fix, under auto too.
      if ((err as Error).name === 'CudaConfigError') throw err;
      const reason = (err as Error).message.split('\n')[0] as string;
      if (request === 'cuda') throw new EngineUnavailableError(`the cuda engine cannot run here: ${reason}`);
      skipped = `cuda: ${reason}`;
    }
  }
  const probe = await selectEngine(seedShape(), options.backend);
  probe.engine.dispose();
  const skips = [skipped, probe.skipped].filter((s): s is string => s !== undefined);
  return {
    name: probe.engine.name,
    description: `${probe.engine.name}${skips.length ? ` (skipped ${skips.join('; ')})` : ''}`,
    device: 'cpu',
    ...(skips.length ? { skipped: skips.join('; ') } : {}),
    factory: (shape) => selectEngine(shape, options.backend),
  };
}

function seedShape(): ModelShape {
  return { layerSizes: DEFAULT_LAYER_SIZES, outputActivation: 'relu' };
}

async function cudaWorkerEngine(backend: string, env: NodeJS.ProcessEnv): Promise<WorkerEngine> {
  const { CudaEngine } = await import('./cuda-engine');
  const shape = seedShape();
  const cuda = new CudaEngine(shape, { env });
  const { engine: reference } = await selectEngine(shape, backend);
  let error: number;
  try {
    error = await selfTest(cuda, reference);
  } finally {
    cuda.dispose();
    reference.dispose();
  }
  const tolerance = cuda.device.tf32 ? SELF_TEST_TOLERANCE_TF32 : SELF_TEST_TOLERANCE;
  const d = cuda.device;
  const on = `${d.name} (compute ${d.computeCapability}, driver CUDA ${d.driverCuda}, ${d.cublas}${d.tf32 ? ', TF32' : ''})`;
  if (!(error <= tolerance))
    throw new Error(`self-test on ${on}: relative error ${error} against ${reference.name}, over ${tolerance}`);
  return {
    name: cuda.name,
    description: `${cuda.name} on ${on}, self-test against ${reference.name}: relative error ${error.toExponential(1)}`,
    device: d.name,
    factory: async (runShape) => ({ engine: new CudaEngine(runShape, { env }) }),
  };
}

/**
 * 8 samples of the seed model in two leaves (5 + 3), random pixels and parameters, on both engines: the largest
 * relative error over the gradient (against its scale) and the losses. NaN where either is not finite.
 */
export async function selfTest(engine: Engine, reference: Engine): Promise<number> {
  const sizes = DEFAULT_LAYER_SIZES;
  const size = sizes[0] as number;
  const paramCount = sizes.slice(1).reduce((sum, units, l) => sum + (sizes[l] as number) * units + units, 0);
  // xorshift32: fixed data, so a failure can be reproduced.
  let state = 0x9e3779b9;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const pixels = Uint8Array.from({ length: 8 * size }, () => Math.floor(next() * 256));
  const task = {
    version: 0,
    params: Float32Array.from({ length: paramCount }, () => (next() - 0.5) * 0.1),
    order: Uint32Array.from([3, 6, 0, 7, 1, 4, 2, 5]),
    leaves: [
      { start: 0, end: 5 },
      { start: 5, end: 8 },
    ],
    stepSamples: 8,
    rounding: 'f32' as const,
  };
  const results: BlockGradient[] = [];
  for (const e of [engine, reference]) {
    e.setTrainingSet(pixels, size);
    results.push(await e.computeBlock(task));
  }
  const [got, want] = results as [BlockGradient, BlockGradient];
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.grad.length; i++) {
    diff = Math.max(diff, Math.abs((got.grad[i] as number) - (want.grad[i] as number)));
    scale = Math.max(scale, Math.abs(want.grad[i] as number));
  }
  let error = scale > 0 ? diff / scale : diff;
  for (const [i, loss] of want.losses.entries())
    error = Math.max(error, Math.abs((got.losses[i] as number) - loss) / Math.abs(loss));
  return Number.isFinite(error) ? error : Number.NaN;
}
