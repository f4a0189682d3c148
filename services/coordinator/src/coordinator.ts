import type { SelectedBackend } from '@gradq/backend';
import { getParams, loadMnist, MNIST_PIXELS } from '@gradq/model';
import { createRedis, GRADIENT_QUEUE, PROTOCOL_VERSION, QUEUE_PREFIX, redactUrl, waitForRedis } from '@gradq/protocol';
import {
  createTrainee,
  type EpochReport,
  newRunId,
  paramsSha256,
  pickHyperparams,
  type RunSummary,
  type StepReport,
  train,
  trainingSet,
  writeSummary,
} from '@gradq/trainer';
import { Queue } from 'bullmq';
import { type CoordinatorConfig, DEFAULT_REDIS_URL } from './config';
import { QueueGradientSource } from './queue-source';
import { RedisRun } from './redis-run';

/** The summary of a distributed run: the shared format plus the exactly-once counters. */
export interface CoordinatorSummary extends RunSummary {
  distributed: {
    shards_planned: number;
    shards_applied: number;
    duplicates_dropped: number;
    stale_dropped: number;
    reissued: number;
    rejected: Record<string, number>;
    workers_seen: number;
  };
}

export interface CoordinatorHooks {
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal;
  onStep?(report: StepReport, source: QueueGradientSource): void;
  onEpoch?(report: EpochReport, previousMse: number | undefined): void;
}

/**
 * One training run, top to bottom: load MNIST, put the run into Redis, train through the queue, report.
 * Workers need nothing from here but Redis: any number may come and go while this runs.
 */
export async function runCoordinator(
  config: CoordinatorConfig,
  backend: SelectedBackend,
  hooks: CoordinatorHooks,
): Promise<CoordinatorSummary> {
  const { log, signal } = hooks;
  const h = pickHyperparams(config);
  const runId = config.runId ?? newRunId();
  const redisUrl = config.redisUrl ?? DEFAULT_REDIS_URL;
  const settings = { url: redisUrl, cluster: config.redisCluster };
  let lastError = '';
  const onRedisError = (err: Error) => {
    if (err.message !== lastError) log(`redis: ${err.message}`);
    lastError = err.message;
  };
  const redis = createRedis(settings, onRedisError);
  const blocking = createRedis(settings, onRedisError);
  const queue = new Queue(GRADIENT_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
  queue.on('error', (err) => onRedisError(err));
  try {
    await waitForRedis(redis, redisUrl);
    const data = await loadMnist(config.dataDir, { log });
    const trainSet = trainingSet(data.train, h.limit);
    const trainee = createTrainee(h);
    const { layout } = trainee.bound;

    const run = new RedisRun(redis, runId);
    const { uploadedBytes } = await run.seed(
      {
        protocol: PROTOCOL_VERSION,
        runId,
        hyperparams: h,
        fingerprint: layout.fingerprint,
        paramCount: layout.size,
        trainCount: trainSet.count,
        sampleSize: MNIST_PIXELS,
      },
      trainSet.pixels,
    );
    log(
      `run ${runId}: ${h.epochs} epoch(s) of ${trainSet.count} samples, batch ${h.batchSize} in ${h.shardsPerStep} shard job(s) per step, ` +
        `seed ${h.seed}, backend ${backend.name}, Redis ${redactUrl(redisUrl)} (${uploadedBytes} training bytes uploaded)`,
    );

    const source = new QueueGradientSource({
      run,
      queue,
      blocking,
      trainee,
      fingerprint: layout.fingerprint,
      checkAfterMs: config.checkAfterMs,
      ...(signal ? { signal } : {}),
      events: { log },
    });
    const result = await train(h, { train: trainSet, test: data.test }, trainee, source, {
      ...(signal ? { signal } : {}),
      onStep: (r) => hooks.onStep?.(r, source),
      onEpoch: (r) => hooks.onEpoch?.(r, trainee.position.testMse.at(-2)),
    });

    const stats = await run.stats();
    const planned = plannedShards(trainSet.count, h.batchSize, h.shardsPerStep) * h.epochs;
    const summary: CoordinatorSummary = {
      run_id: runId,
      backend: backend.name,
      epochs: h.epochs,
      steps: trainee.position.step,
      samples: trainee.position.samples,
      test_mse_by_epoch: trainee.position.testMse,
      train_samples_per_s: result.samplesTrained / Math.max(result.trainSeconds, 1e-9),
      params_sha256: paramsSha256(getParams(trainee.bound)),
      distributed: {
        shards_planned: planned,
        shards_applied: source.counters.shardsApplied,
        duplicates_dropped: stats.duplicates,
        stale_dropped: stats.stale,
        reissued: source.counters.reissued,
        rejected: source.counters.rejected,
        workers_seen: source.workersSeen.size,
      },
    };
    if (!config.keepRun) await run.remove();
    if (config.summaryPath) await writeSummary(config.summaryPath, summary);
    return summary;
  } finally {
    // Each close runs even if an earlier one failed: the queue, then both connections.
    await Promise.allSettled([queue.close()]);
    await Promise.allSettled([blocking.quit(), redis.quit()]);
  }
}

/** Shards in one epoch: K per full batch, fewer for a last batch shorter than K. */
function plannedShards(samples: number, batchSize: number, shardsPerStep: number): number {
  const full = Math.floor(samples / batchSize);
  const rest = samples - full * batchSize;
  return full * shardsPerStep + Math.min(rest, shardsPerStep);
}
