// The only label values gradq ever records. Every set is small and fixed so a series count is known up front:
// Prometheus keeps one series per label combination forever (until retention), so an id-valued label (job id,
// run id, worker id) would grow it without bound. These arrays are also used to pre-create every series at 0,
// which makes `increase()`/`rate()` see the first event instead of a series appearing out of nowhere.

/** The parts a coordinator step is split into, in the order they happen. */
export const STEP_PARTS = ['wait_gradients', 'reduce', 'optimizer', 'publish'] as const;
export type StepPart = (typeof STEP_PARTS)[number];

/** What the data plane moves: parameters, gradients, batch pixels. */
export const TRANSFER_KINDS = ['params', 'gradients', 'batches'] as const;
export type TransferKind = (typeof TRANSFER_KINDS)[number];

/**
 * BullMQ job states, as returned by `Queue.getJobCounts()`. `waiting-children` is only used by flows, but it is a
 * state BullMQ reports, so the gauge keeps it rather than silently dropping a count.
 */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'completed',
  'failed',
  'prioritized',
  'waiting-children',
] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Why the coordinator refused a gradient instead of averaging it. */
export const REJECT_REASONS = ['schema', 'layout', 'length', 'nonfinite', 'stale', 'protocol'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * How a worker's job ended: `ok` completed, `failed` threw and may be retried by BullMQ, `rejected` refused as
 * unrecoverable (bad payload, layout fingerprint mismatch, protocol version).
 */
export const JOB_OUTCOMES = ['ok', 'failed', 'rejected'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** Which process a registry belongs to; becomes the `role` default label on every series. */
export const ROLES = ['coordinator', 'worker'] as const;
export type Role = (typeof ROLES)[number];
