import { encodeVector, MNIST_PIXELS, scalePixels, shardGradient } from '@gradq/model';
import {
  DATA_TTL_SECONDS,
  type GradientJob,
  type GradientJobResult,
  gradientJobSchema,
  PROTOCOL_VERSION,
  type RedisClient,
  type RunKeys,
  runKeys,
  type ShardResult,
  submitGradient,
} from '@gradq/protocol';
import { gatherSamples } from '@gradq/trainer';
import { UnrecoverableError } from 'bullmq';
import { RunCache } from './run-cache';

/** Hooks for metrics; all optional. */
export interface ProcessorEvents {
  /** A job started; `createdAtMs` is when it was enqueued. */
  onStart?(createdAtMs: number): void;
  onFetch?(kind: 'params' | 'batches', bytes: number, seconds: number): void;
  onCompute?(seconds: number): void;
  onPush?(bytes: number, seconds: number): void;
  onParamsCache?(hit: boolean): void;
  onOutcome?(outcome: 'ok' | 'failed' | 'rejected'): void;
}

/** Runs kept in memory at once; a worker serving more runs refetches (it is a cache). */
const MAX_RUNS = 2;

/**
 * Turns one gradient job into one submitted gradient. Stateless in the sense that matters: everything it holds is
 * a cache of Redis, so a worker can die at any point and another will redo the job with the same result.
 */
export class GradientProcessor {
  private readonly runs = new Map<string, RunCache>();

  constructor(
    private readonly redis: RedisClient,
    private readonly workerId: string,
    private readonly events: ProcessorEvents = {},
    /** Test-only (GRADQ_TEST_SLOW_MS): ms to wait before each submit, to play a straggler. Always 0 in production. */
    private readonly testSlowMs = 0,
  ) {}

  async process(data: unknown, jobId: string | undefined, createdAtMs?: number): Promise<GradientJobResult> {
    if (createdAtMs !== undefined) this.events.onStart?.(createdAtMs);
    const parsed = gradientJobSchema.safeParse(data);
    if (!parsed.success) {
      this.events.onOutcome?.('rejected');
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
      throw new UnrecoverableError(`invalid gradient job ${jobId ?? '?'}: ${problems}`);
    }
    const job = parsed.data;
    if (job.protocol !== PROTOCOL_VERSION) {
      await this.reject(job, 'protocol', `job speaks protocol ${job.protocol}, this worker speaks ${PROTOCOL_VERSION}`);
    }
    const run = await this.run(job.runId);
    if (!run) {
      this.events.onOutcome?.('rejected');
      throw new UnrecoverableError(`job ${jobId}: run ${job.runId} is not in Redis (finished or expired)`);
    }
    if (job.fingerprint !== run.bound.layout.fingerprint) {
      await this.reject(
        job,
        'layout',
        `job's parameter layout ${job.fingerprint} differs from this worker's ${run.bound.layout.fingerprint}`,
      );
    }
    const stale = { status: 'stale', loss: Number.NaN, count: 0 } as const;
    // Skip the compute when the step has already been applied (a late retry or a straggler's duplicate), or when
    // this shard already has its gradient (the original finished while this copy waited in the queue).
    if (!(await this.isOpen(run.keys, job))) return stale;
    if (await this.redis.hexists(run.keys.done(job.step), String(job.shard))) {
      await this.redis.hincrby(run.keys.stats, 'duplicates', 1);
      return { status: 'duplicate', loss: Number.NaN, count: 0 };
    }

    let t = performance.now();
    const fetched = await run.useParams(job.version);
    if (fetched === undefined) {
      if (!(await this.isOpen(run.keys, job))) return stale;
      throw new Error(`parameters v${job.version} of run ${job.runId} are not in Redis`);
    }
    this.events.onParamsCache?.(fetched === 0);
    if (fetched > 0) this.events.onFetch?.('params', fetched, (performance.now() - t) / 1000);

    t = performance.now();
    const { pixels, fetchedBytes } = await run.trainingSet();
    const order = await run.epochOrder(job.epoch);
    if (job.end > order.length)
      throw new UnrecoverableError(
        `job ${jobId}: samples [${job.start}, ${job.end}) exceed the epoch's ${order.length}`,
      );
    if (fetchedBytes > 0) this.events.onFetch?.('batches', fetchedBytes, (performance.now() - t) / 1000);

    t = performance.now();
    const count = job.end - job.start;
    const inputs = scalePixels(gatherSamples(pixels, MNIST_PIXELS, order, job.start, job.end));
    const { grad, loss } = shardGradient(run.bound, inputs, count);
    this.events.onCompute?.((performance.now() - t) / 1000);
    // Awaited, not a busy wait: BullMQ keeps renewing the job's lock, so the job stays active, as a slow worker's would.
    if (this.testSlowMs > 0) await new Promise((resolve) => setTimeout(resolve, this.testSlowMs));

    t = performance.now();
    const result: ShardResult = {
      kind: 'accepted',
      step: job.step,
      shard: job.shard,
      loss,
      count,
      worker: this.workerId,
    };
    const bytes = encodeVector(grad, run.meta.hyperparams.gradEncoding);
    const status = await submitGradient(this.redis, run.keys, job, JSON.stringify(result), bytes);
    if (status === 'accepted') this.events.onPush?.(bytes.byteLength, (performance.now() - t) / 1000);
    this.events.onOutcome?.('ok');
    return { status, loss, count };
  }

  /** Is the job's step the one its coordinator is collecting? (Both keys share the run's hash slot: one MGET.) */
  private async isOpen(keys: RunKeys, job: GradientJob): Promise<boolean> {
    const [step, session] = await this.redis.mget(keys.step, keys.session);
    return step === String(job.step) && session === job.session;
  }

  /** Tells the coordinator this shard needs another worker, then fails the job without retry. */
  private async reject(job: GradientJob, reason: 'layout' | 'protocol' | 'params', message: string): Promise<never> {
    const keys = runKeys(job.runId);
    const record: ShardResult = {
      kind: 'rejected',
      step: job.step,
      shard: job.shard,
      reason,
      message,
      worker: this.workerId,
    };
    await this.redis.rpush(keys.results, JSON.stringify(record));
    await this.redis.expire(keys.results, DATA_TTL_SECONDS);
    this.events.onOutcome?.('rejected');
    throw new UnrecoverableError(`refused job for run ${job.runId} step ${job.step} shard ${job.shard}: ${message}`);
  }

  private async run(runId: string): Promise<RunCache | undefined> {
    const cached = this.runs.get(runId);
    if (cached) return cached;
    const run = await RunCache.open(this.redis, runId);
    if (!run) return undefined;
    if (this.runs.size >= MAX_RUNS) {
      const [oldest] = this.runs.keys();
      if (oldest !== undefined) {
        this.runs.get(oldest)?.dispose();
        this.runs.delete(oldest);
      }
    }
    this.runs.set(runId, run);
    return run;
  }

  dispose(): void {
    for (const run of this.runs.values()) run.dispose();
    this.runs.clear();
  }
}
