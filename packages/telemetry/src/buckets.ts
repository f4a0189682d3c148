// Histogram buckets, in seconds. Measured on a laptop (2 cores): a 3 MB Redis SET/GET takes ~4-5 ms, a shard
// gradient tens to hundreds of ms, a whole step up to seconds; so step-level buckets span 1 ms..10 s with
// ~2.5x steps, which keeps quantile error under one bucket width without many series per histogram.

/** 1 ms .. 10 s: step durations, step parts, parameter fetch, gradient push and compute. */
export const STEP_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * 1 ms .. 5 min: time a job waits in the queue. With fewer workers than shards a job legitimately waits for a
 * whole step or more, and a backlog after a worker crash waits for the stall timeout.
 */
export const QUEUE_LATENCY_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** 10 ms .. 5 min: a checkpoint writes the model, Adam moments and a manifest, possibly to S3 over a slow link. */
export const CHECKPOINT_BUCKETS: readonly number[] = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];
