import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CHECKPOINT_BUCKETS, STEP_BUCKETS } from './buckets';
import type { LabeledCounter, LabeledGauge, LabeledHistogram } from './labeled';
import {
  type QueueState,
  REJECT_REASONS,
  type RejectReason,
  STEP_PARTS,
  type StepPart,
  TRANSFER_KINDS,
  type TransferKind,
} from './labels';
import { COORDINATOR_METRIC as N } from './names';
import { createWorkerSightings, type WorkerSightingsOptions } from './workers-seen';

/** One applied step, as recorded by {@link CoordinatorMetrics.observeStep}. */
export interface AppliedStep {
  /** Parameter version after the step (the step counter). */
  step: number;
  /** The epoch the step belongs to, 1-based (as the progress bar and `pnpm ckpt list` count). */
  epoch: number;
  /** Sample-weighted mean training loss over the step's shards. */
  loss: number;
  /** Samples in the step (sum of shard counts). */
  samples: number;
  /** Wall time of the whole step, seconds. */
  seconds: number;
}

/** The coordinator's metrics; every field records into the registry given to {@link createCoordinatorMetrics}. */
export interface CoordinatorMetrics {
  /** `gradq_train_loss`: mean training loss of the last applied step. */
  trainLoss: Gauge;
  /** `gradq_test_mse`: test-set MSE (mean over pixels) at the last epoch end. */
  testMse: Gauge;
  /** `gradq_epoch`: current epoch. */
  epoch: Gauge;
  /** `gradq_step`: last applied step (parameter version). */
  step: Gauge;
  /** `gradq_run_active`: 1 while a run is training, 0 before start and after it finished. Gates the stall alert. */
  runActive: Gauge;
  /** `gradq_samples_total`: training samples applied. */
  samples: Counter;
  /** `gradq_steps_total`: optimizer steps applied. */
  steps: Counter;
  /** `gradq_training_samples_per_second`: samples / wall seconds of the last applied step. */
  samplesPerSecond: Gauge;
  /** `gradq_step_duration_seconds`: wall time of a whole step, enqueue to publish. */
  stepDuration: Histogram;
  /** `gradq_step_part_duration_seconds{part}`: wall time of each part of a step. */
  stepPartDuration: LabeledHistogram<{ part: StepPart }>;
  /** `gradq_transfer_bytes_total{kind}`: bytes the coordinator wrote or read on the data plane. */
  transferBytes: LabeledCounter<{ kind: TransferKind }>;
  /** `gradq_queue_jobs{state}`: jobs per BullMQ state, from `Queue.getJobCounts()`. */
  queueJobs: LabeledGauge<{ state: QueueState }>;
  /** `gradq_duplicates_dropped_total`: gradients for a (step, shard) already applied, dropped. */
  duplicatesDropped: Counter;
  /** `gradq_gradients_rejected_total{reason}`: gradients refused before averaging. */
  gradientsRejected: LabeledCounter<{ reason: RejectReason }>;
  /** `gradq_steps_skipped_nonfinite_total`: steps not applied because the loss or gradient was NaN/Inf. */
  stepsSkippedNonfinite: Counter;
  /** `gradq_loss_nonfinite`: 1 while the most recent step had a non-finite loss or gradient, else 0. Alert on it. */
  lossNonfinite: Gauge;
  /** `gradq_checkpoint_duration_seconds`: wall time of a successful checkpoint (all files plus manifest). */
  checkpointDuration: Histogram;
  /** `gradq_checkpoint_bytes_total`: bytes written by checkpoints. */
  checkpointBytes: Counter;
  /** `gradq_checkpoint_last_success_timestamp_seconds`: unix time of the last checkpoint whose manifest was written. */
  checkpointLastSuccess: Gauge;
  /** `gradq_checkpoint_failures_total`: checkpoints that threw. */
  checkpointFailures: Counter;
  /**
   * `gradq_exchanged_bytes_total`: bytes every step moved through Redis on the data plane, both sides counted from the
   * protocol (the publish, one parameter fetch and one change written and read per accepted job, a local replica's
   * inner state written and read). Divided by `gradq_samples_total`: bytes exchanged per trained sample.
   */
  exchangedBytes: Counter;
  /** `gradq_local_rounds_total`: rounds applied by an `--algorithm local` run (each is one step). */
  localRounds: Counter;
  /** `gradq_inner_loss`: an `--algorithm local` round's mean inner training loss over its replicas' inner steps. */
  innerLoss: Gauge;
  /** Marks a worker id as seen now; `gradq_workers_seen` counts distinct ids within the window at scrape time. */
  markWorkerSeen(workerId: string, nowMs?: number): void;
  /** What `gradq_workers_seen` reads now: distinct workers seen within the window (the live run page shows it). */
  workersSeen(nowMs?: number): number;
  /**
   * Records an applied step in one call: step, epoch, loss, samples and steps counters, step duration, samples/s,
   * and clears `gradq_loss_nonfinite`.
   */
  observeStep(step: AppliedStep): void;
  /** Records a step skipped for a non-finite loss: counts it and raises `gradq_loss_nonfinite` to 1. */
  observeNonfiniteStep(): void;
  /** Records a successful checkpoint: duration, bytes, and the last-success time (`nowMs`, default `Date.now()`). */
  observeCheckpoint(seconds: number, bytes: number, nowMs?: number): void;
}

/** Options of {@link createCoordinatorMetrics}. */
export interface CoordinatorMetricsOptions {
  /** Window of `gradq_workers_seen`. Default: see {@link WorkerSightingsOptions.windowMs} (60 s). */
  workersSeen?: WorkerSightingsOptions;
}

/** Registers the coordinator's metrics on `registry` (call once per registry: names must be unique in it). */
export function createCoordinatorMetrics(
  registry: Registry,
  options: CoordinatorMetricsOptions = {},
): CoordinatorMetrics {
  const registers = [registry];
  const sightings = createWorkerSightings(options.workersSeen);

  const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
  const counter = (name: string, help: string) => new Counter({ name, help, registers });

  const stepPartDuration = new Histogram({
    name: N.stepPartDuration,
    help: 'Wall time of each part of a step: waiting for all shard gradients, averaging, the Adam update, publishing the new parameters.',
    labelNames: ['part'],
    buckets: [...STEP_BUCKETS],
    registers,
  });
  for (const part of STEP_PARTS) stepPartDuration.zero({ part });

  const transferBytes = new Counter({
    name: N.transferBytes,
    help: 'Bytes moved on the data plane (binary Redis values), by kind: params, gradients, batches.',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of TRANSFER_KINDS) transferBytes.inc({ kind }, 0);

  const gradientsRejected = new Counter({
    name: N.gradientsRejected,
    help: 'Gradients refused before averaging, by reason: schema, layout, length, nonfinite, stale, protocol.',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of REJECT_REASONS) gradientsRejected.inc({ reason }, 0);
  // No loss before the first step and no test MSE before the first evaluation: NaN (a gap in Grafana), not 0 (the
  // loss panel opened with a drop to zero).
  const trainLoss = gauge(N.trainLoss, 'Sample-weighted mean training loss (MSE) of the last applied step.');
  const testMse = gauge(
    N.testMse,
    'Test-set reconstruction MSE (mean over pixels), evaluated at the end of each epoch.',
  );
  trainLoss.set(Number.NaN);
  testMse.set(Number.NaN);

  const metrics: Omit<
    CoordinatorMetrics,
    'markWorkerSeen' | 'workersSeen' | 'observeStep' | 'observeNonfiniteStep' | 'observeCheckpoint'
  > = {
    trainLoss,
    testMse,
    epoch: gauge(N.epoch, 'The epoch being trained, 1-based (as the progress bar counts).'),
    step: gauge(N.step, 'Last applied optimizer step (the published parameter version).'),
    runActive: gauge(N.runActive, '1 while a training run is in progress on this coordinator, 0 otherwise.'),
    samples: counter(N.samples, 'Training samples whose gradients were applied.'),
    steps: counter(N.steps, 'Optimizer steps applied.'),
    samplesPerSecond: gauge(
      N.samplesPerSecond,
      'Training throughput of the last applied step: samples / step wall time.',
    ),
    stepDuration: new Histogram({
      name: N.stepDuration,
      help: 'Wall time of a whole synchronous step, from enqueueing the shard jobs to publishing the next parameters.',
      buckets: [...STEP_BUCKETS],
      registers,
    }),
    stepPartDuration,
    transferBytes,
    queueJobs: new Gauge({
      name: N.queueJobs,
      help: 'Jobs in the gradient queue by BullMQ state.',
      labelNames: ['state'],
      registers,
    }),
    duplicatesDropped: counter(
      N.duplicatesDropped,
      'Gradients for a (step, shard) that had already been applied, dropped.',
    ),
    gradientsRejected,
    stepsSkippedNonfinite: counter(
      N.stepsSkippedNonfinite,
      'Steps not applied because the loss or the averaged gradient was NaN or infinite.',
    ),
    lossNonfinite: gauge(
      N.lossNonfinite,
      '1 if the most recent step had a non-finite loss or gradient (and was skipped), else 0.',
    ),
    checkpointDuration: new Histogram({
      name: N.checkpointDuration,
      help: 'Wall time of a successful checkpoint: model, optimizer and trainer state, then the manifest.',
      buckets: [...CHECKPOINT_BUCKETS],
      registers,
    }),
    checkpointBytes: counter(N.checkpointBytes, 'Bytes written by checkpoints.'),
    checkpointLastSuccess: gauge(
      N.checkpointLastSuccess,
      'Unix time (seconds) of the last checkpoint whose manifest was written.',
    ),
    checkpointFailures: counter(N.checkpointFailures, 'Checkpoints that failed.'),
    exchangedBytes: counter(
      N.exchangedBytes,
      'Bytes the steps moved through Redis on the data plane (parameters, changes or gradients, inner states), both sides, by protocol count.',
    ),
    localRounds: counter(N.localRounds, 'Rounds applied by an --algorithm local run.'),
    innerLoss: gauge(N.innerLoss, "An --algorithm local round's mean training loss over its replicas' inner steps."),
  };
  metrics.innerLoss.set(Number.NaN);

  new Gauge({
    name: N.workersSeen,
    help: 'Distinct workers that delivered a gradient within the last window (default 60 s).',
    registers,
    // Computed at scrape time so the gauge decays when workers disappear, without a timer in the coordinator.
    collect() {
      this.set(sightings.count());
    },
  });

  metrics.lossNonfinite.set(0);
  metrics.runActive.set(0);

  return {
    ...metrics,
    markWorkerSeen: (workerId, nowMs) => sightings.mark(workerId, nowMs),
    workersSeen: (nowMs) => sightings.count(nowMs),
    observeStep({ step, epoch, loss, samples, seconds }) {
      metrics.step.set(step);
      metrics.epoch.set(epoch);
      metrics.trainLoss.set(loss);
      metrics.samples.inc(samples);
      metrics.steps.inc();
      metrics.stepDuration.observe(seconds);
      if (seconds > 0) metrics.samplesPerSecond.set(samples / seconds);
      metrics.lossNonfinite.set(0);
    },
    observeNonfiniteStep() {
      metrics.stepsSkippedNonfinite.inc();
      metrics.lossNonfinite.set(1);
    },
    observeCheckpoint(seconds, bytes, nowMs = Date.now()) {
      metrics.checkpointDuration.observe(seconds);
      metrics.checkpointBytes.inc(bytes);
      metrics.checkpointLastSuccess.set(nowMs / 1000);
    },
  };
}
