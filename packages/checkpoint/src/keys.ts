import { RUN_ID_PATTERN } from '@gradq/trainer';
import { UnsafeKeyError } from './errors/index';

/**
 * Where a run's checkpoints live, relative to the store's root (bucket + `S3_PREFIX`, or `CHECKPOINT_DIR`):
 *
 *     runs/<run-id>/latest                                 {"step": 1200} — moves only after a manifest exists
 *     runs/<run-id>/checkpoints/0000001200/manifest.json   written last
 *     runs/<run-id>/checkpoints/0000001200/model.json ...
 *
 * Steps are zero-padded to 10 digits so that object listings sort numerically.
 */
export const STEP_DIGITS = 10;
export const MAX_STEP = 10 ** STEP_DIGITS - 1;

/** The files of one checkpoint. `manifest.json` lists all the others with size and sha256. */
export const CHECKPOINT_FILES = {
  modelJson: 'model.json',
  weights: 'weights.bin',
  optimizer: 'optimizer.bin',
  optimizerJson: 'optimizer.json',
  trainer: 'trainer.json',
  preview: 'preview.png',
  /** `--algorithm local` with `--inner-state keep`: the replicas' inner Adam states, and how to read them. */
  inner: 'inner.bin',
  innerJson: 'inner.json',
  manifest: 'manifest.json',
} as const;

/** Names a checkpoint file may have: one path segment, no leading dot. */
export const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertRunId(runId: string): void {
  if (typeof runId !== 'string' || !RUN_ID_PATTERN.test(runId) || runId.includes('..')) {
    throw new UnsafeKeyError(`invalid run id '${String(runId)}': must match ${RUN_ID_PATTERN}`);
  }
}

export function assertStep(step: number): void {
  if (!Number.isSafeInteger(step) || step < 0 || step > MAX_STEP) {
    throw new UnsafeKeyError(`invalid step ${String(step)}: must be an integer from 0 to ${MAX_STEP}`);
  }
}

export function assertFileName(name: string): void {
  if (typeof name !== 'string' || !FILE_NAME_PATTERN.test(name) || name.includes('..')) {
    throw new UnsafeKeyError(`invalid checkpoint file name '${String(name)}'`);
  }
}

export function formatStep(step: number): string {
  assertStep(step);
  return String(step).padStart(STEP_DIGITS, '0');
}

/** A step as typed by a user or found in a key: digits only, so `1e3`, `-1` or `0x10` are refused. */
export function parseStep(text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new UnsafeKeyError(`invalid step '${text}': must be a non-negative integer`);
  return Number(text);
}

export const RUNS_PREFIX = 'runs/';

export function runPrefix(runId: string): string {
  assertRunId(runId);
  return `${RUNS_PREFIX}${runId}/`;
}

export function checkpointsPrefix(runId: string): string {
  return `${runPrefix(runId)}checkpoints/`;
}

export function checkpointPrefix(runId: string, step: number): string {
  return `${checkpointsPrefix(runId)}${formatStep(step)}/`;
}

export function checkpointFileKey(runId: string, step: number, name: string): string {
  assertFileName(name);
  return `${checkpointPrefix(runId, step)}${name}`;
}

export function latestKey(runId: string): string {
  return `${runPrefix(runId)}latest`;
}

/** The step and file name of a key under `checkpointsPrefix(runId)`; undefined for anything else. */
export function parseCheckpointKey(runId: string, key: string): { step: number; file: string } | undefined {
  const prefix = checkpointsPrefix(runId);
  if (!key.startsWith(prefix)) return undefined;
  const match = /^(\d{10})\/([^/]+)$/.exec(key.slice(prefix.length));
  if (!match || !FILE_NAME_PATTERN.test(match[2] as string)) return undefined;
  return { step: Number(match[1]), file: match[2] as string };
}

/** The run id of a key under `runs/`; undefined when it is not a valid run's key. */
export function parseRunId(key: string): string | undefined {
  if (!key.startsWith(RUNS_PREFIX)) return undefined;
  const runId = key.slice(RUNS_PREFIX.length).split('/', 1)[0] ?? '';
  return RUN_ID_PATTERN.test(runId) && !runId.includes('..') ? runId : undefined;
}
