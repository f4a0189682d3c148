import { CheckpointNotFoundError, CheckpointVerificationError } from './errors/index';
import { decodeCheckpoint, type LoadedCheckpoint } from './files/index';
import {
  assertRunId,
  CHECKPOINT_FILES,
  checkpointFileKey,
  checkpointsPrefix,
  latestKey,
  parseCheckpointKey,
  parseRunId,
  RUNS_PREFIX,
} from './keys';
import { parseLatest } from './latest';
import { type Manifest, parseManifest, verifyFile } from './manifest';
import type { ObjectStore } from './store/index';

/** A checkpoint directory as a listing shows it (nothing verified yet). */
export interface CheckpointListing {
  readonly step: number;
  /** Has manifest.json; without one it is an unfinished save and never trusted. */
  readonly complete: boolean;
  /** Sum of the stored objects' sizes. */
  readonly bytes: number;
}

/** Run ids with anything stored, sorted. */
export async function listRuns(store: ObjectStore): Promise<string[]> {
  const runs = new Set<string>();
  for (const { key } of await store.list(RUNS_PREFIX)) {
    const runId = parseRunId(key);
    if (runId) runs.add(runId);
  }
  return [...runs].sort();
}

/** The run's checkpoint directories, oldest first. */
export async function listCheckpoints(store: ObjectStore, runId: string): Promise<CheckpointListing[]> {
  const byStep = new Map<number, { complete: boolean; bytes: number }>();
  for (const object of await store.list(checkpointsPrefix(runId))) {
    const parsed = parseCheckpointKey(runId, object.key);
    if (!parsed) continue;
    const entry = byStep.get(parsed.step) ?? { complete: false, bytes: 0 };
    entry.bytes += object.size;
    if (parsed.file === CHECKPOINT_FILES.manifest) entry.complete = true;
    byStep.set(parsed.step, entry);
  }
  return [...byStep.entries()].sort(([a], [b]) => a - b).map(([step, e]) => ({ step, ...e }));
}

/** The step `latest` names, or undefined when the run has none; throws when it is unreadable. */
export async function readLatestStep(store: ObjectStore, runId: string): Promise<number | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(latestKey(runId));
  } catch (err) {
    if (err instanceof CheckpointNotFoundError) return undefined;
    throw err;
  }
  return parseLatest(bytes);
}

export async function readManifest(store: ObjectStore, runId: string, step: number): Promise<Manifest> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(checkpointFileKey(runId, step, CHECKPOINT_FILES.manifest));
  } catch (err) {
    if (err instanceof CheckpointNotFoundError) {
      throw new CheckpointVerificationError(
        `run ${runId} step ${step} has no manifest.json (unfinished or deleted)`,
        CHECKPOINT_FILES.manifest,
      );
    }
    throw err;
  }
  return parseManifest(bytes, { runId, step });
}

/**
 * Reads one checkpoint and checks every file against its manifest (size and sha256) and against each other.
 * Throws {@link CheckpointVerificationError} naming the file that failed.
 */
export async function readCheckpoint(store: ObjectStore, runId: string, step: number): Promise<LoadedCheckpoint> {
  const manifest = await readManifest(store, runId, step);
  const files = new Map<string, Uint8Array>();
  for (const entry of manifest.files) {
    let bytes: Uint8Array;
    try {
      bytes = await store.get(checkpointFileKey(runId, step, entry.name));
    } catch (err) {
      if (err instanceof CheckpointNotFoundError) {
        throw new CheckpointVerificationError(`${entry.name} is listed in the manifest but missing`, entry.name);
      }
      throw err;
    }
    verifyFile(entry, bytes);
    files.set(entry.name, bytes);
  }
  return decodeCheckpoint(manifest, files);
}

export interface LoadLatestOptions {
  /** Receives one line per skipped checkpoint, naming it and why. Default: stderr. */
  warn?: (line: string) => void;
}

/**
 * The newest checkpoint of a run that verifies, for resuming: the one `latest` names, else older ones, newest
 * first. Each skipped checkpoint is reported through `warn`. Undefined when the run has no valid checkpoint.
 * Checkpoints newer than `latest` are not considered: `latest` had not moved to them, so their save never finished.
 * Store errors (the server unreachable) are thrown, not skipped: a resume must not silently fall back because of
 * an outage.
 */
export async function loadLatestValid(
  store: ObjectStore,
  runId: string,
  options: LoadLatestOptions = {},
): Promise<LoadedCheckpoint | undefined> {
  assertRunId(runId);
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  let latest: number | undefined;
  try {
    latest = await readLatestStep(store, runId);
  } catch (err) {
    warn(`checkpoint: run ${runId}: ignoring unreadable latest pointer (${(err as Error).message})`);
  }
  const listed = await listCheckpoints(store, runId);
  const candidates = listed
    .map((c) => c.step)
    .filter((step) => latest === undefined || step <= latest)
    .sort((a, b) => b - a);
  if (latest !== undefined && !candidates.includes(latest)) {
    warn(`checkpoint: run ${runId}: latest names step ${latest}, which does not exist`);
  }
  for (const step of candidates) {
    try {
      return await readCheckpoint(store, runId, step);
    } catch (err) {
      if (!(err instanceof CheckpointVerificationError)) throw err;
      warn(`checkpoint: run ${runId}: skipping step ${step}: ${err.message}`);
    }
  }
  return undefined;
}
