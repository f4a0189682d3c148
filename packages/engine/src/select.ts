import type { ModelShape } from './tfjs-engine';
import { TfjsEngine } from './tfjs-engine';
import type { Engine } from './types';

/** Makes the engine for a model shape; the worker's default is {@link selectEngine} on its backend. */
export type EngineFactory = (shape: ModelShape) => Promise<EngineChoice>;

export interface EngineChoice {
  readonly engine: Engine;
  /** Why the native engine was passed over, if it was. */
  readonly skipped?: string;
}

/**
 * The engine for a process whose tfjs backend is `backend`: the fused native CPU engine on `cpu-native` (the addon
 * is built there), the tfjs engine on every other backend. Both sides of a run pick the same way, so a
 * coordinator's baseline and its workers compute the same bits.
 */
export async function selectEngine(shape: ModelShape, backend: string): Promise<EngineChoice> {
  if (backend === 'cpu-native') {
    try {
      const { NativeEngine } = await import('./native-engine');
      return { engine: new NativeEngine(shape) };
    } catch (err) {
      // A bad GRADQ_BLAS_THREADS is the user's to fix, not a reason to run on another engine.
      if ((err as Error).name === 'NativeKernelsConfigError') throw err;
      return { engine: new TfjsEngine(shape), skipped: `native-cpu: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  return { engine: new TfjsEngine(shape) };
}

/**
 * The native `left = round(left + right)` for the coordinator's TreeReducer (same bits as the JS one, several times
 * faster on 3 MB vectors), or undefined where the addon is not built.
 */
export async function nativeTreeAdd(): Promise<
  ((left: Float32Array, right: Float32Array, encoding: 'f32' | 'f16' | 'bf16') => void) | undefined
> {
  try {
    const native = await import('./native-engine');
    return native.nativeTreeAdd();
  } catch (err) {
    if ((err as Error).name === 'NativeKernelsConfigError') throw err;
    return undefined;
  }
}
