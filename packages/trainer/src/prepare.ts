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
