import { fromBytes, type ShardGradient } from '@gradq/model';
import {
  GRADIENT_JOB_OPTIONS,
  type GradientJob,
  gradientJobId,
  PROTOCOL_VERSION,
  type RedisClient,
  type ShardResult,
  shardResultSchema,
} from '@gradq/protocol';
import type { GradientSource, StepWork, Trainee } from '@gradq/trainer';
import type { Queue } from 'bullmq';
import type { RedisRun } from './redis-run';

/** Counters the coordinator keeps about the distributed steps, reported in the summary and metrics. */
export interface DistributedCounters {
  /** Shard gradients applied; equals the planned number of shards when every (step, shard) counted exactly once. */
  shardsApplied: number;
  /** Jobs added again because a worker refused the shard, or its job failed, vanished or straggled. */
  reissued: number;
  /** Shards refused by a worker, by reason. */
  rejected: Record<string, number>;
}

export interface SourceEvents {
  onBytes?(kind: 'params' | 'gradients' | 'batches', bytes: number): void;
  /** Seconds spent in each part of a step. */
  onPart?(part: 'wait_gradients' | 'publish', seconds: number): void;
  onRejected?(reason: string): void;
  onReissue?(why: string): void;
  /** A worker delivered a gradient. */
  onWorker?(workerId: string): void;
  log?(line: string): void;
}

export interface QueueSourceOptions {
  readonly run: RedisRun;
  readonly queue: Queue;
  /** A dedicated connection for BLPOP (it blocks). */
  readonly blocking: RedisClient;
  readonly trainee: Trainee;
  readonly fingerprint: string;
  /** After this long without a result, the missing shards' jobs are checked and re-added if failed or gone. */
  readonly checkAfterMs?: number;
  /** A shard refused this many times aborts the run (no worker can take it). Default 20. */
  readonly maxRejections?: number;
  readonly signal?: AbortSignal;
  readonly events?: SourceEvents;
}

/**
 * Computes a step's shard gradients through the queue: publish parameters, enqueue one job per shard, collect
 * the K accepted results (the submit script has already made each (step, shard) count once), read the K gradients.
 */
export class QueueGradientSource implements GradientSource {
  readonly counters: DistributedCounters = { shardsApplied: 0, reissued: 0, rejected: {} };
  /** Worker id -> when it last delivered a gradient (ms). */
  readonly workersSeen = new Map<string, number>();
  private publishedEpoch = -1;

  constructor(private readonly o: QueueSourceOptions) {}

  async gradients(work: StepWork): Promise<ShardGradient[]> {
    const { run } = this.o;
    const ev = this.o.events ?? {};
    const started = performance.now();
    // Never `hook?.(await work())`: optional calls skip evaluating their arguments when the hook is absent.
    if (work.epoch !== this.publishedEpoch) {
      const orderBytes = await run.publishOrder(work.epoch, work.order);
      ev.onBytes?.('batches', orderBytes);
      this.publishedEpoch = work.epoch;
    }
    const paramBytes = await run.publishParams(work.step, this.o.trainee.params);
    ev.onBytes?.('params', paramBytes);
    const attempts = new Map(work.shards.map((s) => [s.shard, 0]));
    await this.enqueue(work, [...attempts.keys()], attempts);
    ev.onPart?.('publish', (performance.now() - started) / 1000);

    const waitStart = performance.now();
    const results = await this.collect(work, attempts);
    await run.closeStep(work.step);
    ev.onPart?.('wait_gradients', (performance.now() - waitStart) / 1000);

    const shardIds = work.shards.map((s) => s.shard);
    const buffers = await run.readGradients(work.step, shardIds);
    await run.dropStep(work.step, shardIds);
    const size = this.o.trainee.bound.layout.size;
    const grads = work.shards.map(({ shard }, i) => {
      const result = results.get(shard) as Extract<ShardResult, { kind: 'accepted' }>;
      const bytes = buffers[i] as Buffer;
      ev.onBytes?.('gradients', bytes.byteLength);
      return {
        grad: fromBytes(bytes, size, `gradient of step ${work.step} shard ${shard}`),
        loss: result.loss,
        count: result.count,
      };
    });
    this.counters.shardsApplied += grads.length;
    return grads;
  }

  private job(work: StepWork, shard: number, attempt: number): GradientJob {
    const span = work.shards.find((s) => s.shard === shard);
    if (!span) throw new Error(`step ${work.step} has no shard ${shard}`);
    return {
      protocol: PROTOCOL_VERSION,
      runId: this.o.run.runId,
      step: work.step,
      shard,
      version: work.step,
      epoch: work.epoch,
      start: span.start,
      end: span.end,
      fingerprint: this.o.fingerprint,
      attempt,
    };
  }

  private async enqueue(work: StepWork, shards: number[], attempts: Map<number, number>): Promise<void> {
    await this.o.queue.addBulk(
      shards.map((shard) => {
        const data = this.job(work, shard, attempts.get(shard) ?? 0);
        return { name: 'gradient', data, opts: { ...GRADIENT_JOB_OPTIONS, jobId: gradientJobId(data) } };
      }),
    );
  }

  /** Waits until every shard of the step has an accepted gradient, re-adding jobs that cannot finish. */
  private async collect(work: StepWork, attempts: Map<number, number>): Promise<Map<number, ShardResult>> {
    const { blocking, run, signal } = this.o;
    const ev = this.o.events ?? {};
    const results = new Map<number, ShardResult>();
    const rejections = new Map<number, number>();
    const checkAfter = this.o.checkAfterMs ?? 5000;
    let lastProgress = performance.now();
    while (results.size < work.shards.length) {
      signal?.throwIfAborted();
      const popped = await blocking.blpop(run.keys.results, 1);
      if (popped === null) {
        if (performance.now() - lastProgress > checkAfter) {
          await this.reissueLost(work, results, attempts);
          lastProgress = performance.now();
        }
        continue;
      }
      const parsed = shardResultSchema.safeParse(JSON.parse(popped[1]));
      // Records of other steps are leftovers (a previous coordinator's, or a stale retry): not ours to count.
      if (!parsed.success || parsed.data.step !== work.step || !attempts.has(parsed.data.shard)) continue;
      const result = parsed.data;
      if (result.kind === 'accepted') {
        results.set(result.shard, result);
        this.workersSeen.set(result.worker, Date.now());
        ev.onWorker?.(result.worker);
        lastProgress = performance.now();
        continue;
      }
      if (results.has(result.shard)) continue;
      this.counters.rejected[result.reason] = (this.counters.rejected[result.reason] ?? 0) + 1;
      ev.onRejected?.(result.reason);
      const refused = (rejections.get(result.shard) ?? 0) + 1;
      rejections.set(result.shard, refused);
      if (refused >= (this.o.maxRejections ?? 20)) {
        throw new Error(
          `shard ${result.shard} of step ${work.step} was refused ${refused} times; last by ${result.worker}: ${result.message}`,
        );
      }
      ev.log?.(
        `worker ${result.worker} refused step ${work.step} shard ${result.shard} (${result.reason}): ${result.message}; re-adding it`,
      );
      await this.reissue(work, result.shard, attempts, result.reason);
    }
    return results;
  }

  /** Re-adds the jobs of missing shards whose job failed for good or no longer exists (e.g. Redis lost it). */
  private async reissueLost(
    work: StepWork,
    results: Map<number, ShardResult>,
    attempts: Map<number, number>,
  ): Promise<void> {
    for (const [shard, attempt] of attempts) {
      // A result pushed just after the last BLPOP timed out is already in the done hash: not lost.
      if (results.has(shard) || (await this.o.blocking.hexists(this.o.run.keys.done(work.step), String(shard))))
        continue;
      const id = gradientJobId({ runId: this.o.run.runId, step: work.step, shard, attempt });
      const job = await this.o.queue.getJob(id);
      const state = job ? await job.getState() : 'missing';
      if (state === 'failed' || state === 'missing' || state === 'unknown') {
        this.o.events?.log?.(
          `step ${work.step} shard ${shard}: job ${id} is ${state}${job?.failedReason ? ` (${job.failedReason})` : ''}; re-adding it`,
        );
        await this.reissue(work, shard, attempts, state);
      }
    }
  }

  private async reissue(work: StepWork, shard: number, attempts: Map<number, number>, why: string): Promise<void> {
    attempts.set(shard, (attempts.get(shard) ?? 0) + 1);
    this.counters.reissued += 1;
    this.o.events?.onReissue?.(why);
    await this.enqueue(work, [shard], attempts);
  }

  /** Workers that delivered a gradient in the last `windowMs`. */
  recentWorkers(windowMs = 30_000): number {
    const since = Date.now() - windowMs;
    let n = 0;
    for (const t of this.workersSeen.values()) if (t >= since) n++;
    return n;
  }
}
