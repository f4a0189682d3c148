import type { ShardGradient, WireEncoding } from '@gradq/model';
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
import { checkGradient, type GradientProblem } from './gradient-check';
import type { RedisRun } from './redis-run';

/** Counters the coordinator keeps about the distributed steps, reported in the summary and metrics. */
export interface DistributedCounters {
  /** Shard gradients applied; equals the planned number of shards when every (step, shard) counted exactly once. */
  shardsApplied: number;
  /** Jobs added again because a worker refused the shard, its gradient was invalid, or its job failed, vanished or straggled. */
  reissued: number;
  /** Shards refused by a worker or gradients refused here, by reason. */
  rejected: Record<string, number>;
  /** Times Redis lost the run (restarted without its data) and the coordinator put it back. */
  reseeded: number;
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
  /** How parameters and gradients travel. */
  readonly encoding: WireEncoding;
  /** Puts the run's description and training bytes back after Redis lost them. */
  readonly reseed: () => Promise<void>;
  /** After this long without a result, the missing shards' jobs are checked and re-added if failed or gone. Default 5000. */
  readonly checkAfterMs?: number;
  /** A shard whose job has been running this long is handed to another worker too; first result wins. Default 30000. */
  readonly shardDeadlineMs?: number;
  /** A shard refused this many times aborts the run (no worker can take it). Default 20. */
  readonly maxRejections?: number;
  readonly signal?: AbortSignal;
  readonly events?: SourceEvents;
}

/** Redis no longer holds the run: it restarted without its data (or someone deleted it). */
class RunLostError extends Error {
  override readonly name = 'RunLostError';
}

type Accepted = Extract<ShardResult, { kind: 'accepted' }>;

/** One step's bookkeeping while its shards are out. */
interface StepState {
  readonly work: StepWork;
  /** Shard -> current attempt number (its job id). */
  readonly attempts: Map<number, number>;
  /** Shard -> how often it was refused or its gradient rejected. */
  readonly rejections: Map<number, number>;
  /** Shard -> gradients that were non-finite, to tell a corrupted write from a genuinely diverged step. */
  readonly nonfinite: Map<number, number>;
  readonly gradients: Map<number, ShardGradient>;
}

/**
 * Computes a step's shard gradients through the queue: publish parameters, enqueue one job per shard, collect one
 * accepted result per shard (the submit script has already made each (step, shard) count once), read and check
 * the gradients. Jobs that cannot finish (refused, failed, lost, straggling) are added again under a new attempt.
 */
export class QueueGradientSource implements GradientSource {
  readonly counters: DistributedCounters = { shardsApplied: 0, reissued: 0, rejected: {}, reseeded: 0 };
  /** Worker id -> when it last delivered a gradient (ms). */
  readonly workersSeen = new Map<string, number>();
  private publishedEpoch = -1;

  constructor(private readonly o: QueueSourceOptions) {}

  async gradients(work: StepWork): Promise<ShardGradient[]> {
    for (;;) {
      try {
        return await this.step(work);
      } catch (err) {
        if (!(err instanceof RunLostError)) throw err;
        this.o.events?.log?.(
          `Redis no longer holds run ${this.o.run.runId} (restarted without its data?): putting it back and redoing step ${work.step}`,
        );
        await this.o.reseed();
        this.publishedEpoch = -1;
        this.counters.reseeded += 1;
      }
    }
  }

  private async step(work: StepWork): Promise<ShardGradient[]> {
    const { run } = this.o;
    const ev = this.o.events ?? {};
    const started = performance.now();
    // A Redis that restarted empty between two steps loses no result of ours, so nothing else would notice: workers
    // holding the run in their caches keep going, while a new worker (or one restarted) would find no run to serve.
    if (!(await run.present()))
      throw new RunLostError(`run ${run.runId} is not in Redis at the start of step ${work.step}`);
    // Never `hook?.(await work())`: optional calls skip evaluating their arguments when the hook is absent.
    if (work.epoch !== this.publishedEpoch) {
      const orderBytes = await run.publishOrder(work.epoch, work.order);
      ev.onBytes?.('batches', orderBytes);
      this.publishedEpoch = work.epoch;
    }
    const paramBytes = await run.publishParams(work.step, this.o.trainee.params, this.o.encoding);
    ev.onBytes?.('params', paramBytes);
    const state: StepState = {
      work,
      attempts: new Map(work.shards.map((s) => [s.shard, 0])),
      rejections: new Map(),
      nonfinite: new Map(),
      gradients: new Map(),
    };
    await this.enqueue(state, [...state.attempts.keys()]);
    ev.onPart?.('publish', (performance.now() - started) / 1000);

    const waitStart = performance.now();
    while (state.gradients.size < work.shards.length) {
      const arrived = await this.nextResults(state);
      await this.accept(state, arrived);
    }
    await run.closeStep(work.step);
    await run.dropStep(
      work.step,
      work.shards.map((s) => s.shard),
    );
    ev.onPart?.('wait_gradients', (performance.now() - waitStart) / 1000);
    this.counters.shardsApplied += work.shards.length;
    return work.shards.map(({ shard }) => state.gradients.get(shard) as ShardGradient);
  }

  /** Reads the arrived shards' gradients; keeps the valid ones, sends the others back to the queue. */
  private async accept(state: StepState, arrived: Accepted[]): Promise<void> {
    const { run } = this.o;
    const { step } = state.work;
    const size = this.o.trainee.params.length;
    const buffers = await run.readGradients(
      step,
      arrived.map((r) => r.shard),
    );
    for (const [i, result] of arrived.entries()) {
      const bytes = buffers[i];
      if (bytes === null || bytes === undefined)
        throw new RunLostError(`gradient of step ${step} shard ${result.shard} vanished`);
      this.o.events?.onBytes?.('gradients', bytes.byteLength);
      const span = state.work.shards.find((s) => s.shard === result.shard);
      if (!span || result.count !== span.end - span.start) {
        // Defence in depth: sessions already keep other coordinators' jobs out; a count that disagrees with the
        // shard's span can only come from a job that was not ours.
        await run.forgetShard(step, result.shard);
        await this.refuse(
          state,
          result.shard,
          'schema',
          `result from ${result.worker} covers ${result.count} samples, the shard has ${span ? span.end - span.start : 0}`,
        );
        continue;
      }
      const checked = checkGradient(bytes, size, this.o.encoding, result);
      // A non-finite gradient is sent back once (a corrupted write); computed again and still non-finite, it is
      // real divergence: accepted here, and the training loop skips the step and raises the alert.
      const retryNonfinite = checked.problem === 'nonfinite' && (state.nonfinite.get(result.shard) ?? 0) === 0;
      if (checked.grad && (!checked.problem || !retryNonfinite)) {
        state.gradients.set(result.shard, { grad: checked.grad, loss: result.loss, count: result.count });
        continue;
      }
      const problem = checked.problem as GradientProblem;
      if (problem === 'nonfinite') state.nonfinite.set(result.shard, 1);
      await run.forgetShard(step, result.shard);
      await this.refuse(state, result.shard, problem, `gradient from ${result.worker}: ${checked.detail}`);
    }
  }

  /** Waits until at least one new shard is accepted, handling refusals, lost jobs, stragglers and a lost run. */
  private async nextResults(state: StepState): Promise<Accepted[]> {
    const { blocking, run, signal } = this.o;
    const { work } = state;
    const checkAfter = this.o.checkAfterMs ?? 5000;
    let lastProgress = performance.now();
    let lastInspection = performance.now();
    for (;;) {
      signal?.throwIfAborted();
      // Short timeouts keep Ctrl-C and the straggler deadline responsive; an empty BLPOP costs one round trip.
      const popped = await blocking.blpop(run.keys.results, 0.25);
      const now = performance.now();
      if (popped) {
        const result = parseResult(popped[1]);
        // Records of other steps are leftovers (a previous coordinator's, or a stale retry): not ours to count.
        if (
          !result ||
          result.step !== work.step ||
          !state.attempts.has(result.shard) ||
          state.gradients.has(result.shard)
        )
          continue;
        if (result.kind === 'accepted') {
          this.workersSeen.set(result.worker, Date.now());
          this.o.events?.onWorker?.(result.worker);
          return [result];
        }
        await this.refuse(state, result.shard, result.reason, `refused by ${result.worker}: ${result.message}`);
        lastProgress = now;
        continue;
      }
      if (now - lastInspection >= Math.min(1000, checkAfter)) {
        lastInspection = now;
        const lostFor = now - lastProgress;
        if (lostFor >= checkAfter && !(await run.present())) throw new RunLostError();
        if (await this.inspectMissing(state, lostFor >= checkAfter)) lastProgress = now;
      }
    }
  }

  /** Re-adds missing shards whose job failed for good or vanished (when `checkLost`) or has run past the deadline. */
  private async inspectMissing(state: StepState, checkLost: boolean): Promise<boolean> {
    const { work } = state;
    const deadline = this.o.shardDeadlineMs ?? 30_000;
    let reissued = false;
    for (const [shard, attempt] of state.attempts) {
      if (state.gradients.has(shard)) continue;
      // A result pushed just after the last BLPOP is already in the done hash: not lost.
      if (await this.o.blocking.hexists(this.o.run.keys.done(work.step), String(shard))) continue;
      const id = gradientJobId({
        runId: this.o.run.runId,
        session: this.o.run.session,
        step: work.step,
        shard,
        attempt,
      });
      const job = await this.o.queue.getJob(id);
      const jobState = job ? await job.getState() : 'missing';
      if (jobState === 'active' && job?.processedOn && Date.now() - job.processedOn > deadline) {
        this.o.events?.log?.(
          `step ${work.step} shard ${shard}: job ${id} has run ${Math.round((Date.now() - job.processedOn) / 1000)} s, past the ${deadline} ms deadline; giving it to another worker too`,
        );
        await this.reissue(state, shard, 'straggler');
        reissued = true;
      } else if (checkLost && (jobState === 'failed' || jobState === 'missing' || jobState === 'unknown')) {
        this.o.events?.log?.(
          `step ${work.step} shard ${shard}: job ${id} is ${jobState}${job?.failedReason ? ` (${job.failedReason})` : ''}; adding it again`,
        );
        await this.reissue(state, shard, jobState);
        reissued = true;
      }
    }
    return reissued;
  }

  private async refuse(state: StepState, shard: number, reason: string, message: string): Promise<void> {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
    this.o.events?.onRejected?.(reason);
    const refused = (state.rejections.get(shard) ?? 0) + 1;
    state.rejections.set(shard, refused);
    if (refused >= (this.o.maxRejections ?? 20)) {
      throw new Error(
        `shard ${shard} of step ${state.work.step} was rejected ${refused} times; last: ${reason}, ${message}`,
      );
    }
    this.o.events?.log?.(`step ${state.work.step} shard ${shard} rejected (${reason}), ${message}; adding it again`);
    await this.reissue(state, shard, reason);
  }

  private async reissue(state: StepState, shard: number, why: string): Promise<void> {
    state.attempts.set(shard, (state.attempts.get(shard) ?? 0) + 1);
    this.counters.reissued += 1;
    this.o.events?.onReissue?.(why);
    await this.enqueue(state, [shard]);
  }

  private async enqueue(state: StepState, shards: number[]): Promise<void> {
    await this.o.queue.addBulk(
      shards.map((shard) => {
        const data = this.job(state.work, shard, state.attempts.get(shard) ?? 0);
        return { name: 'gradient', data, opts: { ...GRADIENT_JOB_OPTIONS, jobId: gradientJobId(data) } };
      }),
    );
  }

  private job(work: StepWork, shard: number, attempt: number): GradientJob {
    const span = work.shards.find((s) => s.shard === shard);
    if (!span) throw new Error(`step ${work.step} has no shard ${shard}`);
    return {
      protocol: PROTOCOL_VERSION,
      runId: this.o.run.runId,
      session: this.o.run.session,
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

  /** Workers that delivered a gradient in the last `windowMs`. */
  recentWorkers(windowMs = 30_000): number {
    const since = Date.now() - windowMs;
    let n = 0;
    for (const t of this.workersSeen.values()) if (t >= since) n++;
    return n;
  }
}

function parseResult(raw: string): ShardResult | undefined {
  try {
    const parsed = shardResultSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
