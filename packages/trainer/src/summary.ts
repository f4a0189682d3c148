import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Trainee, TrainResult } from './loop';

/** What every training command prints and writes at the end; shared by the baseline and the distributed trainer. */
export interface RunSummary {
  run_id: string;
  backend: string;
  epochs: number;
  steps: number;
  samples: number;
  /** Index 0 is the initial parameters; index e is after epoch e. */
  test_mse_by_epoch: number[];
  train_samples_per_s: number;
  /** sha256 of the final flat float32 parameter bytes. */
  params_sha256: string;
}

/** The shared summary of a finished run. */
export function summarize(
  runId: string,
  backend: string,
  epochs: number,
  trainee: Trainee,
  result: TrainResult,
): RunSummary {
  const { position } = trainee;
  return {
    run_id: runId,
    backend,
    epochs,
    steps: position.step,
    samples: position.samples,
    test_mse_by_epoch: position.testMse,
    train_samples_per_s: result.samplesTrained / Math.max(result.trainSeconds, 1e-9),
    params_sha256: paramsSha256(trainee.params),
  };
}

/**
 * Throws when the run ended diverged (its last test MSE is NaN or infinite), so that the command exits 1 after
 * printing its summary: a run that only produced NaN is not a success to a script that checks the exit code.
 */
export function assertConverged(summary: RunSummary, learningRate: number): void {
  const last = summary.test_mse_by_epoch.at(-1);
  if (last === undefined || Number.isFinite(last)) return;
  throw new Error(
    `training diverged: the final test MSE is ${last} (run ${summary.run_id}); try a lower --learning-rate than ${learningRate}`,
  );
}

export function paramsSha256(params: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(params.buffer, params.byteOffset, params.byteLength))
    .digest('hex');
}

/** Writes the summary next to any partial file name, then renames, so readers never see half a summary. */
export async function writeSummary(path: string, summary: RunSummary): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial-${process.pid}`;
  await writeFile(partial, `${JSON.stringify(summary, null, 2)}\n`);
  await rename(partial, path);
}
