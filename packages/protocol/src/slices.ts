import calculateSlot from 'cluster-key-slot';

/** Redis Cluster's hash slots. */
const SLOTS = 16384;

/**
 * Parameters and gradients travel in this many slices by default: enough to spread over a few Cluster nodes and to
 * overlap transfers, few enough that per-command overhead stays small (3.08 MB / 12 = 257 KB per slice).
 */
export const DEFAULT_SLICES = 12;

/** Element ranges [start, end) of `count` nearly equal slices of a vector of `length` values. */
export function sliceRanges(length: number, count: number): { start: number; end: number }[] {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`slice count must be a positive integer, got ${count}`);
  return Array.from({ length: count }, (_, i) => ({
    start: Math.floor((i * length) / count),
    end: Math.floor(((i + 1) * length) / count),
  }));
}

const tagCache = new Map<string, string[]>();

/**
 * Hash tags for a run's slices, one per slice: slice i's tag hashes into the i-th of `count` equal ranges of the
 * 16,384 slots. Cluster nodes own contiguous slot ranges, so the slices spread evenly over however many nodes there
 * are. Deterministic (coordinator and workers compute the same tags); on one Redis the tags are simply names.
 */
export function sliceTags(runId: string, count: number): string[] {
  const key = `${runId}\n${count}`;
  const cached = tagCache.get(key);
  if (cached) return cached;
  const tags: string[] = [];
  for (let i = 0; i < count; i++) {
    // Rounded as `redis-cli --cluster create` rounds the nodes' ranges, so that equal counts land on each node.
    const lo = Math.round((i * SLOTS) / count);
    const hi = Math.round(((i + 1) * SLOTS) / count);
    for (let j = 0; ; j++) {
      const tag = `${runId}#${j}`;
      const slot = calculateSlot(tag);
      if (slot >= lo && slot < hi) {
        tags.push(tag);
        break;
      }
    }
  }
  tagCache.set(key, tags);
  return tags;
}
