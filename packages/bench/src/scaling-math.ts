/**
 * The arithmetic of the scaling section (pure): how a point's run is shaped, what Redis's bandwidth allows, and a
 * point's figures from its step times. See scaling.ts for the measurements that feed it.
 */
import type { RawBandwidth, ScalingPoint } from './results';
import { spread } from './stats';

const median = (values: readonly number[]) => spread(values)?.median ?? Number.NaN;

export interface RunShape {
  /** `--limit`: whole batches only, so that every step has the same size. */
  readonly limit: number;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  /** Steps the run takes (epochs x stepsPerEpoch): at least warmup + steps. */
  readonly totalSteps: number;
}

/**
 * The shortest run of whole batches that has `warmup + steps` steps. One epoch when the training set holds that many
 * batches; otherwise as many epochs of the largest whole number of batches as it takes (16 workers x 1,024 samples
 * is 16,384 samples per step: 3 steps per epoch of 60,000 samples, so 35 steps take 12 epochs).
 */
export function runShape(trainCount: number, batch: number, warmup: number, steps: number): RunShape {
  if (!(batch >= 1) || batch > trainCount) {
    throw new RangeError(`a batch of ${batch} samples does not fit the ${trainCount} training samples`);
  }
  const wanted = warmup + steps;
  const stepsPerEpoch = Math.min(Math.floor(trainCount / batch), wanted);
  const epochs = Math.ceil(wanted / stepsPerEpoch);
  return { limit: stepsPerEpoch * batch, epochs, stepsPerEpoch, totalSteps: epochs * stepsPerEpoch };
}

/**
 * Bytes one step moves through Redis's data plane with W jobs: the coordinator publishes the parameters once, each
 * of W workers fetches them and writes its block's gradient, and the coordinator reads the W gradients. With one job
 * the worker derives the next parameters itself, the step opens without them (`deferred`) and none are written or
 * fetched (docs/architecture.md): 2 x P.
 */
export function bytesPerStep(jobs: number, paramBytes: number): number {
  return (jobs === 1 ? 2 : 1 + 3 * jobs) * paramBytes;
}

/**
 * What the Redis measured in this run allows: samples per step over (the step's bytes at the raw SET+GET bandwidth,
 * as if every transfer went back to back at full speed, + one block's compute). Nothing else costs time in the bound:
 * no queue, no coordinator, no overlap of compute with transfers.
 */
export function boundSamplesPerS(o: {
  samplesPerStep: number;
  bytesPerStep: number;
  rawMBps: number;
  computeSeconds: number;
}): number {
  return o.samplesPerStep / (o.bytesPerStep / 1e6 / o.rawMBps + o.computeSeconds);
}

export interface PointInput {
  readonly workers: number;
  readonly samplesPerWorker: number;
  /** The engine's ms per sample at this block size; 0 for instant workers. */
  readonly msPerSample: number;
  readonly paramBytes: number;
  /** Raw SET+GET bandwidth of the same Redis (or Cluster): the faster of just before and just after the point. */
  readonly raw: RawBandwidth;
  /** Every step's wall seconds, in order, warm-up included. */
  readonly stepSeconds: readonly number[];
  /** The coordinator's serial ms between steps (`QueueGradientSource.serialMs`): entry i precedes step i + 1. */
  readonly serialMs: readonly number[];
  readonly warmup: number;
  readonly shape: RunShape;
  /** CPU seconds used over the measured steps, when they were read. */
  readonly cpuSeconds?: { readonly redis: number; readonly coordinator: number; readonly workers: number };
}

/** A point's figures from its measured (post-warm-up) steps. Efficiency is filled in per series (`withEfficiency`). */
export function scalingPoint(p: PointInput): ScalingPoint {
  const measured = p.stepSeconds.slice(p.warmup);
  if (measured.length === 0) throw new RangeError(`no steps after ${p.warmup} warm-up steps`);
  const step = median(measured);
  const mean = measured.reduce((a, b) => a + b, 0) / measured.length;
  const samplesPerStep = p.samplesPerWorker * p.workers;
  const bytes = bytesPerStep(p.workers, p.paramBytes);
  const computeSeconds = (p.samplesPerWorker * p.msPerSample) / 1000;
  const bound = boundSamplesPerS({ samplesPerStep, bytesPerStep: bytes, rawMBps: p.raw.mb_per_s, computeSeconds });
  const samplesPerS = samplesPerStep / step;
  const perStep = (s: number) => (s * 1000) / measured.length;
  return {
    workers: p.workers,
    samples_per_worker: p.samplesPerWorker,
    samples_per_step: samplesPerStep,
    samples_per_s: samplesPerS,
    efficiency: Number.NaN,
    bound_samples_per_s: bound,
    bound_share: samplesPerS / bound,
    raw_mb_per_s: p.raw.mb_per_s,
    redis_mb_per_s: bytes / step / 1e6,
    bytes_per_step: bytes,
    compute_ms: computeSeconds * 1000,
    transfer_ms_at_raw: (bytes / 1e6 / p.raw.mb_per_s) * 1000,
    step_ms_median: step * 1000,
    step_ms_mean: mean * 1000,
    serial_ms_median: median(p.serialMs.slice(Math.max(0, p.warmup - 1))),
    steps_measured: measured.length,
    warmup_steps: p.warmup,
    limit: p.shape.limit,
    epochs: p.shape.epochs,
    ...(p.cpuSeconds
      ? {
          cpu_ms_per_step: {
            redis: perStep(p.cpuSeconds.redis),
            coordinator: perStep(p.cpuSeconds.coordinator),
            workers: perStep(p.cpuSeconds.workers),
          },
        }
      : {}),
  };
}

/** Weak-scaling efficiency: samples/s at W over W times the per-worker rate of the series' smallest W. */
export function withEfficiency(points: readonly ScalingPoint[]): ScalingPoint[] {
  const first = points[0];
  if (!first) return [];
  const perWorker = first.samples_per_s / first.workers;
  return points.map((p) => ({ ...p, efficiency: p.samples_per_s / (perWorker * p.workers) }));
}

/** The point of highest throughput (the series' saturation), or undefined for an empty series. */
export function saturation(points: readonly ScalingPoint[]): ScalingPoint | undefined {
  let best: ScalingPoint | undefined;
  for (const p of points) if (!best || p.samples_per_s > best.samples_per_s) best = p;
  return best;
}

/** The raw bandwidth that summarises a series: the median of its points' measurements. */
export function medianRaw(points: readonly ScalingPoint[]): number {
  return median(points.map((p) => p.raw_mb_per_s));
}
