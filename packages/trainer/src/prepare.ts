import { type Engine, selectEngine } from '@gradq/engine';
import type { Hyperparams } from './config';
import { createTrainee, type Trainee } from './loop';
import { loadNativeMath, type OptimizerImpl } from './optimizer';

/** A trainee with the fastest step math this machine has (the same bits either way), named in one log line. */
export async function prepareTrainee(
  h: Hyperparams,
  optimizer: OptimizerImpl,
  log: (line: string) => void,
): Promise<Trainee> {
  const native = optimizer === 'fused' ? await loadNativeMath() : {};
  const trainee = createTrainee(h, { optimizer, native });
  const fallback = native.unavailable ? ` (native step math unavailable: ${native.unavailable})` : '';
  log(`optimizer: ${trainee.optimizer.description}${fallback}`);
  return trainee;
}

/** The compute engine for this process's tfjs backend (the native CPU engine on cpu-native), named in one log line. */
export async function prepareEngine(h: Hyperparams, backend: string, log: (line: string) => void): Promise<Engine> {
  const { engine, skipped } = await selectEngine(
    { layerSizes: h.layerSizes, outputActivation: h.outputActivation },
    backend,
  );
  log(`engine: ${engine.name}${skipped ? ` (skipped ${skipped})` : ''}`);
  return engine;
}
