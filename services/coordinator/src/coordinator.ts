import type { SelectedBackend } from '@gradq/backend';
import {
  type CheckpointConfig,
  CheckpointWriter,
  createStore,
  type LoadedCheckpoint,
  LocalStore,
  loadCheckpointConfig,
  loadLatestValid,
  type ObjectStore,
  previewDigitsFrom,
} from '@gradq/checkpoint';
import { type Engine, type Leaf, nativeTreeAdd, selectEngine } from '@gradq/engine';
import { loadMnist, MNIST_PIXELS } from '@gradq/model';
import {
  closeRedis,
  createRedis,
  DEFAULT_SLICES,
  ErrorLines,
  GRADIENT_QUEUE,
  newSession,
  PROTOCOL_VERSION,
  QUEUE_PREFIX,
  RunData,
  RunLease,
  redactUrl,
  redisHint,
  waitForRedis,
} from '@gradq/protocol';
import {
  type EpochReport,
  type Hyperparams,
  loadNativeMath,
  newRunId,
  pickHyperparams,
  prepareTrainee,
  ReplicaRunner,
  type RunSummary,
  type StepReport,
  stepShape,
  stepsPerEpoch,
  summarize,
  train,
  trainingSet,
  writeSummary,
} from '@gradq/trainer';
import { Queue } from 'bullmq';
import { Checkpointer } from './checkpointing';
import { type CoordinatorConfig, DEFAULT_REDIS_URL } from './config';
import { QueueGradientSource } from './queue-source';
import { replicaHere } from './replica-here';
import { resumeSettings } from './resume-settings';
import { CoordinatorTelemetry } from './telemetry';

/** The summary of a distributed run: the shared format plus the exactly-once counters. */
export interface CoordinatorSummary extends RunSummary {
  distributed: {
    shards_planned: number;
    shards_applied: number;
    duplicates_dropped: number;
    stale_dropped: number;
    reissued: number;
    reseeded: number;
    skipped_nonfinite: number;
    /** Blocks whose gradient came back non-finite twice, computed by the coordinator instead. */
    computed_here: number;
    rejected: Record<string, number>;
    workers_seen: number;
    resumed_from_step: number | null;
    checkpoints_saved: number;
  };
}

export interface CoordinatorHooks {
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal;
  /** Checkpoint settings; default: from the environment (S3_BUCKET, else CHECKPOINT_DIR). */
  readonly checkpoints?: CheckpointConfig;
  /** Where checkpoints go; default: the store `checkpoints` names. */
  readonly store?: ObjectStore;
  /** The option keys the user gave (`givenOptions`): a resumed run refuses training settings other than its own. */
  readonly given?: ReadonlySet<string>;
  /** The command a stopped run is resumed with, as the stop message prints it. Default `pnpm coordinator`. */
  readonly resumeCommand?: string;
  /** Awaited once the run is in Redis, before the first step (pnpm start: until its workers have started). */
  beforeTrain?(): Promise<void>;
  onStep?(report: StepReport, source: QueueGradientSource): void;
  onEpoch?(report: EpochReport, previousMse: number | undefined): void;
}

/**
 * One training run, top to bottom: load MNIST, resume from a checkpoint if asked, put the run into Redis, train
 * through the queue while checkpointing and exporting metrics, report. Workers need nothing from here but Redis:
 * any number may come and go while this runs.
 */
export async function runCoordinator(
  config: CoordinatorConfig,
  backend: SelectedBackend,
  hooks: CoordinatorHooks,
): Promise<CoordinatorSummary> {
  const { log } = hooks;
  // Stops the run: the user (hooks.signal), or the loss of its lease to another coordinator.
  const lostLease = new AbortController();
  const signal = hooks.signal ? AbortSignal.any([hooks.signal, lostLease.signal]) : lostLease.signal;
  let lease: RunLease | undefined;
  const checkpoints = hooks.checkpoints ?? loadCheckpointConfig(process.env);
  const store = hooks.store ?? createStore(checkpoints.store);
  // An unwritable CHECKPOINT_DIR is a usage error now, not a run's worth of failed saves ending in exit 0.
  if (store instanceof LocalStore) await store.assertWritable();
  const resumed = config.resume ? await resumeFrom(store, config.resume, backend, log) : undefined;
  const resumedWith = resumed
    ? resumeSettings(resumed.hyperparams, pickHyperparams(config), hooks.given ?? new Set(), resumed.position.epoch)
    : undefined;
  const h: Hyperparams = resumedWith?.hyperparams ?? pickHyperparams(config);
  const runId = config.resume ?? config.runId ?? newRunId();

  const redisUrl = config.redisUrl ?? DEFAULT_REDIS_URL;
  const settings = { url: redisUrl, cluster: config.redisCluster };
  // One line per distinct error, then one every 30 s while it lasts (every reconnect fails, on each connection).
  const redisErrors = new ErrorLines(log, { hint: redisHint(redisUrl) });
  const onRedisError = (err: Error) => redisErrors.report(`redis: ${err.message}`);
  const redis = createRedis(settings, onRedisError);
  const blocking = createRedis(settings, onRedisError);
  const queue = new Queue(GRADIENT_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
  queue.on('error', onRedisError);
  const telemetry = await CoordinatorTelemetry.start(
    runId,
    { port: config.metricsPort, host: config.metricsHost },
    log,
  );
  const m = telemetry.metrics;
  /** An engine of the coordinator's own, made the first time a block must be computed here (QueueGradientSource). */
  let here: Engine | undefined;
  let replicaRunner: ReplicaRunner | undefined;
  try {
    await waitForRedis(redis, redisUrl);
    const data = await loadMnist(config.dataDir, { log });
    const trainSet = trainingSet(data.train, h.limit);
    const trainee = await prepareTrainee(h, config.optimizer, log);
    const { layout } = trainee.bound;
    const treeAdd = await nativeTreeAdd();
    if (resumed) {
      trainee.params.set(resumed.params);
      await trainee.optimizer.setState(resumed.adam);
      Object.assign(trainee.position, structuredClone(resumed.position));
    }

    const session = newSession();
    // One coordinator per run (lease.ts): wait for a dead one's lease to lapse, refuse a live one, stop if taken.
    lease = new RunLease(redis, runId, session, { log });
    await lease.acquire((owner) => {
      lostLease.abort(new Error(`run ${runId} was taken over by another coordinator (session ${owner}): stopping`));
    }, signal);
    const run = new RunData(redis, runId, layout.size, DEFAULT_SLICES);
    // Opening and closing steps and the done sets are written only while the lease is ours (fence.ts).
    run.fenceWith(lease.fence);
    const meta = {
      protocol: PROTOCOL_VERSION,
      runId,
      hyperparams: h,
      fingerprint: layout.fingerprint,
      paramCount: layout.size,
      trainCount: trainSet.count,
      sampleSize: MNIST_PIXELS,
      slices: DEFAULT_SLICES,
    };
    /** Puts the run into Redis; any steps a previous coordinator left half-collected are forgotten first. */
    const seed = async () => {
      await run.resetSteps();
      const { uploadedBytes } = await run.seed(meta, trainSet.pixels, session);
      m.transferBytes.inc({ kind: 'batches' }, uploadedBytes);
      return uploadedBytes;
    };
    await seed();
    const local =
      h.algorithm === 'local'
        ? `local: ${h.replicas} replica(s) x ${h.innerSteps} inner step(s) per round (one job per replica), outer lr ${h.outerLr} momentum ${h.outerMomentum}, inner state ${h.innerState}, `
        : '';
    log(
      `run ${runId}: ${h.epochs} epoch(s) of ${trainSet.count} samples, batch ${h.batchSize} in ${h.shardsPerStep} leaves per step (jobs per step: ${config.jobsPerStep}), ${local}` +
        `seed ${h.seed}, backend ${backend.name}, Redis ${redactUrl(redisUrl)}, checkpoints in ${store.description}` +
        (resumed ? `, resuming at step ${resumed.step}` : ''),
    );
    if (resumedWith) log(`resume: ${resumedWith.line}`);

    const writer = new CheckpointWriter({
      store,
      retention: checkpoints.retention,
      retry: checkpoints.retry,
      previewDigits: previewDigitsFrom(data.test),
      log,
      hooks: {
        onSaved: (e) => m.observeCheckpoint(e.seconds, e.bytes, e.at.getTime()),
        onPreview: (e) => telemetry.history.preview(e.step, e.png),
        onFailure: () => m.checkpointFailures.inc(),
      },
    });
    const checkpointer = new Checkpointer(writer, {
      runId,
      hyperparams: h,
      backend: backend.name,
      every: config.checkpointEvery,
      ...(h.algorithm === 'local' && h.innerState === 'keep' ? { inner: () => source.readInnerStates() } : {}),
    });
    const source: QueueGradientSource = new QueueGradientSource({
      data: run,
      session,
      queue,
      redis,
      blocking,
      trainee,
      fingerprint: layout.fingerprint,
      encoding: h.gradEncoding,
      jobsPerStep: config.jobsPerStep,
      ...(treeAdd ? { treeAdd } : {}),
      ...(h.algorithm === 'local'
        ? {
            local: {
              keep: h.innerState === 'keep',
              ...(resumed?.inner ? { initial: new Map(resumed.inner.map((r) => [r.replica, r.state])) } : {}),
            },
          }
        : {}),
      computeHere: async (work, leaves, out, first) => {
        if (!here) {
          here = (await selectEngine({ layerSizes: h.layerSizes, outputActivation: h.outputActivation }, backend.name))
            .engine;
          here.setTrainingSet(trainSet.pixels, MNIST_PIXELS);
        }
        if (h.algorithm === 'local') {
          replicaRunner ??= new ReplicaRunner(here, layout, h, (await loadNativeMath()).adamUpdate);
          return replicaHere({
            runner: replicaRunner,
            data: run,
            pointer: h.innerState === 'keep' ? (source.innerPointers?.get(first) ?? { fresh: true }) : undefined,
            step: work.step,
            global: trainee.params,
            order: work.order,
            span: leaves[0] as Leaf,
            roundSamples: work.shards.reduce((sum, s) => sum + (s.end - s.start), 0),
            out,
          });
        }
        return here.computeBlock({
          version: work.step,
          params: trainee.params,
          order: work.order,
          leaves,
          stepSamples: work.shards.reduce((sum, s) => sum + (s.end - s.start), 0),
          rounding: h.gradEncoding,
          out,
        });
      },
      // The coordinator's memory is newer than any checkpoint: a Redis that lost the run gets it back from here.
      // Redis lost the run, or a successor finished and removed it while this coordinator was paused: only the
      // first is ours to put back.
      reseed: async () => {
        await run.checkOwner();
        await seed();
      },
      checkAfterMs: config.checkAfterMs,
      shardDeadlineMs: config.shardDeadlineMs,
      signal,
      events: telemetry.sourceEvents(log),
    });
    telemetry.watch(queue, run);
    m.runActive.set(1);
    const shape = stepShape(h);
    const perEpoch = stepsPerEpoch(trainSet.count, shape.samples);
    telemetry.history.begin({
      epochs: h.epochs,
      stepsTotal: perEpoch * h.epochs,
      step: trainee.position.step,
      epoch: trainee.position.epoch + 1,
    });
    // Test MSEs measured before this session's first step (the initial network's, a resumed run's earlier epochs),
    // each at the step its epoch ended.
    let msesShown = 0;
    const showEarlierMses = () => {
      for (; msesShown < trainee.position.testMse.length; msesShown++)
        telemetry.history.testMse(msesShown * perEpoch, trainee.position.testMse[msesShown] as number);
    };

    await hooks.beforeTrain?.();
    let lastLoss: number | undefined;
    const stopped = async () => {
      // Stopped between steps (Ctrl-C, SIGTERM): keep what was trained, and say how to go on.
      const saved = await checkpointer.onStop(trainee, lastLoss);
      const flushed = saved ? await writer.flush() : undefined;
      const { step, epoch, stepInEpoch } = trainee.position;
      if (!saved) log(`stopped before the first step: nothing to resume`);
      else if (flushed?.error)
        log(`stopped at step ${step}; its checkpoint could not be saved: ${flushed.error.message}`);
      else
        log(
          `stopped at step ${step} (epoch ${epoch + 1} of ${h.epochs}, step ${stepInEpoch} of ${perEpoch}); checkpoint in ${store.description}\n` +
            `resume with: ${hooks.resumeCommand ?? 'pnpm coordinator'} --resume ${runId}`,
        );
    };
    const trained = train(h, { train: trainSet, test: data.test }, trainee, source, {
      signal,
      onStep: async (r) => {
        lastLoss = r.loss;
        if (msesShown === 0) showEarlierMses();
        telemetry.step(r);
        if (h.algorithm === 'local') telemetry.round(r);
        hooks.onStep?.(r, source);
        await checkpointer.afterStep(trainee, r.loss);
      },
      onSkip: (r) => {
        m.observeNonfiniteStep();
        log(
          `step ${r.step}: loss ${r.loss} or its averaged gradient is not finite; step skipped (parameters unchanged)`,
        );
      },
      onEpoch: async (r) => {
        m.testMse.set(r.testMse);
        showEarlierMses();
        hooks.onEpoch?.(r, trainee.position.testMse.at(-2));
        await checkpointer.afterEpoch(trainee, r.testMse, lastLoss);
      },
    });
    const result = await trained.catch(async (err: unknown) => {
      // Saved only when the user stopped it: a run taken over belongs to its new coordinator now.
      if (hooks.signal?.aborted && !lostLease.signal.aborted) await stopped();
      if (lostLease.signal.aborted) throw lostLease.signal.reason;
      throw err;
    });
    telemetry.history.finish();
    const flushed = await writer.flush();
    if (flushed.error) log(`checkpoint: the last checkpoint could not be saved: ${flushed.error.message}`);
    else if (flushed.lastSavedStep !== undefined)
      log(
        `the model: run ${runId} step ${flushed.lastSavedStep} in ${store.description}; take it with ` +
          `pnpm ckpt download ${runId} --out DIR, or pnpm ckpt export ${runId} --format safetensors|onnx --out FILE`,
      );

    const stats = await run.stats();
    const planned =
      plannedShards(trainSet.count, shape.samples, shape.leaves) * h.epochs -
      (resumed ? resumedShards(resumed, trainSet.count, h) : 0);
    const summary: CoordinatorSummary = {
      ...summarize(runId, backend.name, h.epochs, trainee, result),
      distributed: {
        shards_planned: planned,
        shards_applied: source.counters.shardsApplied,
        duplicates_dropped: stats.duplicates,
        stale_dropped: stats.stale,
        reissued: source.counters.reissued,
        reseeded: source.counters.reseeded,
        skipped_nonfinite: trainee.position.skippedSteps,
        computed_here: source.counters.computedHere,
        rejected: source.counters.rejected,
        workers_seen: source.workersSeen.size,
        resumed_from_step: resumed?.step ?? null,
        checkpoints_saved: writer.stats.saved,
      },
    };
    if (!config.keepRun) await run.remove();
    if (config.summaryPath) await writeSummary(config.summaryPath, summary);
    return summary;
  } finally {
    // Each close runs even if an earlier one failed: the lease (a resume need not wait for it), metrics, the queue,
    // then both connections.
    await Promise.allSettled([lease?.release()]);
    here?.dispose();
    await Promise.allSettled([telemetry.close()]);
    await Promise.allSettled([queue.close()]);
    // closeRedis, not quit(): a QUIT queued behind a PING to a Redis that never answered would wait forever.
    await Promise.allSettled([closeRedis(blocking), closeRedis(redis)]);
  }
}

async function resumeFrom(
  store: ObjectStore,
  runId: string,
  backend: SelectedBackend,
  log: (line: string) => void,
): Promise<LoadedCheckpoint> {
  const checkpoint = await loadLatestValid(store, runId, { warn: log });
  if (!checkpoint) throw new Error(`--resume ${runId}: no valid checkpoint of that run in ${store.description}`);
  if (checkpoint.backend !== backend.name) {
    log(
      `resume: checkpoint was computed on ${checkpoint.backend}, continuing on ${backend.name}: results will not be bit-identical`,
    );
  }
  return checkpoint;
}

/** Shards in one epoch: K per full batch, fewer for a last batch shorter than K. */
function plannedShards(samples: number, batchSize: number, shardsPerStep: number): number {
  const full = Math.floor(samples / batchSize);
  const rest = samples - full * batchSize;
  return full * shardsPerStep + Math.min(rest, shardsPerStep);
}

/** Shards a resumed run had applied before its checkpoint (every step before it was a full or final batch). */
function resumedShards(resumed: LoadedCheckpoint, samples: number, h: Hyperparams): number {
  const shape = stepShape(h);
  const perEpoch = plannedShards(samples, shape.samples, shape.leaves);
  const { epoch, stepInEpoch } = resumed.position;
  return epoch * perEpoch + Math.min(stepInEpoch * shape.leaves, perEpoch);
}
