/**
 * A first-order model of synchronous data-parallel steps through one Redis and one coordinator, fed with the
 * bench's measured costs. Weak scaling: W workers on separate machines, K = W shards per step (one per worker), each
 * of `shardSamples` samples, so the global batch grows with W. A step is the critical path
 *
 *   publish + fetch(W) + dispatch(W) + compute + push(W) + read(W) + average(W) + optimizer
 *
 * where every transfer goes through the single Redis one at a time (Redis executes commands on one thread, and in a
 * synchronous step all W workers want the new parameters at once and finish their gradients at about the same time,
 * so their transfers queue rather than overlap), at min(measured Redis MB/s, link MB/s).
 */
export interface ScalingInputs {
  /** Bytes of one parameter vector (what a worker fetches per step). */
  readonly paramBytes: number;
  /** Bytes of one gradient as sent (what a worker pushes and the coordinator reads). */
  readonly gradientBytes: number;
  readonly shardSamples: number;
  /** Measured raw Redis throughput of one large value, 1e6 bytes/s. */
  readonly redisSetMBps: number;
  readonly redisGetMBps: number;
  /** The Redis host's network link, 1e6 bytes/s (loopback measurements do not include it). */
  readonly linkMBps: number;
  /** One worker's gradient compute for one shard, seconds. */
  readonly computeSeconds: number;
  /** Coordinator: publishing parameters and enqueuing, per step, seconds. */
  readonly publishSeconds: number;
  /** Coordinator: the optimizer update, per step, seconds (independent of W). */
  readonly optimizerSeconds: number;
  /** Coordinator: averaging, per gradient, seconds. */
  readonly averagePerGradientSeconds: number;
  /** Queue round trip per job that is not data transfer (BullMQ's Lua scripts, result records), seconds. */
  readonly dispatchPerJobSeconds: number;
}

export type StepTerm = 'publish' | 'fetch' | 'dispatch' | 'compute' | 'push' | 'read' | 'average' | 'optimizer';

export interface ScalingPoint {
  readonly workers: number;
  readonly stepSeconds: number;
  readonly samplesPerSecond: number;
  /** Throughput / (workers x one worker's throughput). */
  readonly efficiency: number;
  readonly terms: Readonly<Record<StepTerm, number>>;
  /** The largest term other than compute: what to fix first. */
  readonly limit: StepTerm;
}

const MB = 1e6;

export function stepTerms(i: ScalingInputs, workers: number): Record<StepTerm, number> {
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`workers must be a positive integer, got ${workers}`);
  const setBps = Math.min(i.redisSetMBps, i.linkMBps) * MB;
  const getBps = Math.min(i.redisGetMBps, i.linkMBps) * MB;
  if (!(setBps > 0) || !(getBps > 0)) throw new RangeError('Redis and link bandwidths must be positive');
  return {
    publish: i.publishSeconds,
    fetch: (workers * i.paramBytes) / getBps,
    dispatch: workers * i.dispatchPerJobSeconds,
    compute: i.computeSeconds,
    push: (workers * i.gradientBytes) / setBps,
    read: (workers * i.gradientBytes) / getBps,
    average: workers * i.averagePerGradientSeconds,
    optimizer: i.optimizerSeconds,
  };
}

/** Projected throughput and efficiency at each cluster size. */
export function projectScaling(i: ScalingInputs, sizes: readonly number[]): ScalingPoint[] {
  const at = (workers: number) => {
    const terms = stepTerms(i, workers);
    const stepSeconds = Object.values(terms).reduce((a, b) => a + b, 0);
    let limit: StepTerm = 'publish';
    for (const [k, v] of Object.entries(terms) as [StepTerm, number][]) {
      if (k !== 'compute' && v > terms[limit]) limit = k;
    }
    return { workers, stepSeconds, samplesPerSecond: (workers * i.shardSamples) / stepSeconds, terms, limit };
  };
  const one = at(1);
  return sizes.map((w) => {
    const p = at(w);
    return { ...p, efficiency: p.samplesPerSecond / (w * one.samplesPerSecond) };
  });
}

/** 1, 2, 4, ... up to `max`. */
export function powersOfTwo(max: number): number[] {
  const out: number[] = [];
  for (let w = 1; w <= max; w *= 2) out.push(w);
  return out;
}

/** The cluster size beyond which adding workers no longer adds throughput (the model's peak), or undefined. */
export function peakWorkers(points: readonly ScalingPoint[]): number | undefined {
  let best: ScalingPoint | undefined;
  for (const p of points) if (!best || p.samplesPerSecond > best.samplesPerSecond) best = p;
  return best && best !== points.at(-1) ? best.workers : undefined;
}
