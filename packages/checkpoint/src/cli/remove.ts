import { CHECKPOINT_FILES, checkpointFileKey, checkpointPrefix, latestKey, runPrefix } from '../keys';
import { encodeLatest } from '../latest';
import { listCheckpoints, readLatestStep } from '../reader';
import type { ObjectStore } from '../store/index';

/** Deletes every object of a run; returns how many. */
export async function removeRun(store: ObjectStore, runId: string): Promise<number> {
  const keys = (await store.list(runPrefix(runId))).map((o) => o.key);
  // latest first, then manifests, so a reader racing the deletion never trusts a half-deleted checkpoint.
  const rank = (k: string) => (k === latestKey(runId) ? 0 : k.endsWith(`/${CHECKPOINT_FILES.manifest}`) ? 1 : 2);
  for (const r of [0, 1, 2]) await store.delete(keys.filter((k) => rank(k) === r));
  return keys.length;
}

/**
 * Deletes one checkpoint (manifest first). When `latest` named it, `latest` moves back to the newest complete
 * checkpoint left, or is deleted. Returns the step `latest` names afterwards.
 */
export async function removeCheckpoint(store: ObjectStore, runId: string, step: number): Promise<number | undefined> {
  const latest = await readLatestStep(store, runId).catch(() => undefined);
  const remaining = (await listCheckpoints(store, runId)).filter((c) => c.complete && c.step !== step);
  const fallback = remaining.at(-1)?.step;
  if (latest === step) {
    if (fallback === undefined) await store.delete([latestKey(runId)]);
    else await store.put(latestKey(runId), encodeLatest(fallback));
  }
  const manifest = checkpointFileKey(runId, step, CHECKPOINT_FILES.manifest);
  const keys = (await store.list(checkpointPrefix(runId, step))).map((o) => o.key);
  await store.delete(keys.filter((k) => k === manifest));
  await store.delete(keys.filter((k) => k !== manifest));
  return latest === step ? fallback : latest;
}
