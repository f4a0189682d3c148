import { type EngineFactory, selectEngine } from '@gradq/engine';
import {
  closeRedis,
  createRedis,
  ErrorLines,
  GRADIENT_QUEUE,
  type GradientJobResult,
  QUEUE_PREFIX,
  REDIS_UNREACHABLE,
  type RedisSettings,
  redactUrl,
  redisHint,
} from '@gradq/protocol';
import { RUN_ID_PATTERN } from '@gradq/trainer';
import { DelayedError, Job, type JobJsonRaw, type MinimalQueue, Worker } from 'bullmq';
import { GradientProcessor, type ProcessorEvents, StepNotOpenError } from './processor';
import { Standby } from './standby';

export interface WorkerOptions {
  readonly redis: RedisSettings;
  readonly workerId: string;
  /** The tfjs backend of this process: it picks the compute engine. */
  readonly backend: string;
  /** Replaces the engine (the bench's emulated workers); default `selectEngine` on `backend`. */
  readonly engines?: EngineFactory;
  /** BullMQ lock duration, ms. */
  readonly lockMs: number;
  readonly log: (line: string) => void;
  readonly events?: ProcessorEvents;
  /** Test-only: sleep this long before each submit (a straggler for the fault suite). Default 0. */
  readonly testSlowMs?: number;
}

export interface RunningWorker {
  /** Finishes the job in hand, then closes the BullMQ worker and the Redis connection. */
  close(): Promise<void>;
}

/** Starts taking gradient jobs of any run. Registers nothing: it simply starts consuming the shared queue. */
export function startWorker(options: WorkerOptions): RunningWorker {
  const { log } = options;
  // ioredis reports every failed reconnect, and BullMQ the same failure again: one line per distinct error, then one
  // every 30 s while it lasts.
  const errors = new ErrorLines(log, { hint: redisHint(options.redis.url) });
  const connection = createRedis(options.redis, (err) => errors.report(`redis: ${err.message}`));
  connection.on('ready', () => {
    if (errors.clear()) log(`redis: reconnected to ${redactUrl(options.redis.url)}`);
  });
  // Jobs of the next step wait for their parameters with a blocking read, on a connection of its own.
  const blocking = connection.duplicate();
  blocking.on('error', () => {});
  // Gradients and parameters on a connection of their own: BullMQ's command that ends a job and takes the next one
  // would otherwise wait behind the 3 MB of the gradient just sent (Redis reads a connection's commands in order).
  const dataPlane = connection.duplicate();
  dataPlane.on('error', () => {});
  const processor = new GradientProcessor(
    dataPlane,
    blocking,
    options.workerId,
    options.engines ?? ((shape) => selectEngine(shape, options.backend)),
    { onLog: log, ...options.events },
    options.testSlowMs ?? 0,
  );
  const openWorker = () => {
    const w = new GradqWorker<unknown, GradientJobResult>(
      GRADIENT_QUEUE,
      async (job, token) => {
        try {
          return await processor.process(job.data, job.id, job.timestamp);
        } catch (err) {
          // A job of a step not open yet goes to the back of the queue (no attempt used), and this worker takes
          // whatever the step being collected still needs.
          if (!(err instanceof StepNotOpenError) || token === undefined) throw err;
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
      },
      {
        connection,
        prefix: QUEUE_PREFIX,
        // Names this worker in the jobs it takes (BullMQ's processedBy): the coordinator stops preferring a worker
        // whose job went past the deadline (standby).
        name: options.workerId,
        concurrency: 1,
        lockDuration: options.lockMs,
        stalledInterval: options.lockMs,
        // A job whose worker died is "stalled"; BullMQ fails it after this many stalls. Workers die often here, by design.
        maxStalledCount: 100,
      },
    );
    w.on('error', (err) =>
      errors.report(REDIS_UNREACHABLE.test(err.message) ? `redis: ${err.message}` : `worker error: ${err.message}`),
    );
    w.on('completed', (job, result) => {
      standby.jobDone(runOf(job.data));
      // Accepted gradients are the normal case; dropped ones are worth a line (they mean retries or stragglers).
      if (result.status !== 'accepted' && result.status !== 'sent') log(`job ${job.id}: ${result.status}, dropped`);
    });
    w.on('failed', (job, err) => {
      options.events?.onOutcome?.(runOf(job?.data), 'failed');
      log(`job ${job?.id ?? '?'} failed: ${err.message}`);
    });
    return w;
  };
  // Open while taking jobs, undefined while standing by (standby.ts).
  let worker: Worker<unknown, GradientJobResult> | undefined;
  const standby = new Standby({
    redis: connection,
    workerId: options.workerId,
    open: () => {
      worker = openWorker();
    },
    close: async () => {
      const w = worker;
      worker = undefined;
      await w?.close();
    },
    log,
    // Through the worker's error lines: one per distinct error, as the connection's own.
    onError: (message) => errors.report(`standby: ${message}`),
    ...(options.events?.onStandby ? { onChange: options.events.onStandby } : {}),
  });
  standby.start();

  return {
    async close() {
      // Each step runs even if an earlier one failed: workers, then the processor's models, then Redis.
      standby.stop();
      const results = [await settle(worker?.close() ?? Promise.resolve())];
      results.push(await settle(processor.drain()));
      processor.dispose();
      // Not quit(): it would wait forever behind commands queued for a Redis that is down.
      results.push(await settle(closeRedis(blocking)));
      results.push(await settle(closeRedis(dataPlane)));
      results.push(await settle(closeRedis(connection)));
      for (const r of results) if (r.status === 'rejected') log(`shutdown: ${(r.reason as Error).message}`);
    },
  };
}

/** The run id a job names, for its metrics; `''` when its payload names no valid one (a label value from a hostile job
 * could be anything, and of any length). */
function runOf(data: unknown): string {
  const runId = (data as { runId?: unknown } | undefined)?.runId;
  return typeof runId === 'string' && RUN_ID_PATTERN.test(runId) ? runId : '';
}

function settle(p: Promise<unknown>): Promise<PromiseSettledResult<unknown>> {
  return Promise.allSettled([p]).then(([r]) => r as PromiseSettledResult<unknown>);
}

/**
 * A job whose stored fields are not JSON (corrupted in Redis) is read with its data replaced by a note of what was
 * there, so that the processor refuses it once, naming it. BullMQ itself throws while reading such a job, before any
 * processor sees it: the job stayed active until it stalled, went back to the queue and cycled through the workers
 * up to `maxStalledCount` (100) times, each logging a JSON error that named no job.
 */
// biome-ignore lint/suspicious/noExplicitAny: BullMQ's own defaults, which `typeof Job` requires
class TolerantJob<D = any, R = any, N extends string = string> extends Job<D, R, N> {
  static override fromJSON<T = unknown, R = unknown, N extends string = string>(
    queue: MinimalQueue,
    json: JobJsonRaw,
    jobId?: string,
  ): Job<T, R, N> {
    try {
      return Job.fromJSON<T, R, N>(queue, json, jobId);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const unparsable = (field: string | undefined, fallback: string) => {
        try {
          JSON.parse(field ?? fallback);
          return field ?? fallback;
        } catch {
          return fallback;
        }
      };
      const data = JSON.stringify({ unparsable: `stored data is not JSON (${err.message})` });
      return Job.fromJSON<T, R, N>(
        queue,
        { ...json, data, opts: unparsable(json.opts, '{}'), progress: unparsable(json.progress, '0') },
        jobId,
      );
    }
  }
}

class GradqWorker<D, R> extends Worker<D, R> {
  protected override get Job(): typeof Job {
    return TolerantJob;
  }
}
