// "Workers seen recently" is counted by the coordinator from the worker ids in job results, because workers
// register nothing (DESIGN: elastic, zero coordination). Ids stay in this process's memory only; they never
// become label values.

/** Options of {@link createWorkerSightings}. */
export interface WorkerSightingsOptions {
  /**
   * How long a worker counts as "seen" after its last result, in milliseconds. Longer than the slowest job plus
   * the time a job can wait in the queue, so an idle-but-alive worker between steps still counts. Default: 60000.
   */
  windowMs?: number;
}

/** Counts distinct worker ids seen within a sliding time window. */
export interface WorkerSightings {
  /** Records that `workerId` delivered a result at `nowMs` (default `Date.now()`). */
  mark(workerId: string, nowMs?: number): void;
  /** Distinct workers whose last sighting is within the window ending at `nowMs` (default `Date.now()`). */
  count(nowMs?: number): number;
}

export function createWorkerSightings(options: WorkerSightingsOptions = {}): WorkerSightings {
  const windowMs = options.windowMs ?? 60_000;
  if (!(windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${windowMs}`);
  const lastSeen = new Map<string, number>();
  // Pruning on every call keeps the map bounded by the workers of one window, however many come and go.
  const prune = (nowMs: number): void => {
    for (const [id, at] of lastSeen) if (nowMs - at > windowMs) lastSeen.delete(id);
  };
  return {
    mark(workerId, nowMs = Date.now()) {
      lastSeen.set(workerId, Math.max(nowMs, lastSeen.get(workerId) ?? nowMs));
      prune(nowMs);
    },
    count(nowMs = Date.now()) {
      prune(nowMs);
      return lastSeen.size;
    },
  };
}
