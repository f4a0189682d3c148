import { type EngineFactory, firstNonFinite } from '@gradq/engine';
import { encodeVector } from '@gradq/model';
import {
  type BlockResult,
  type GradientJob,
  type GradientJobResult,
  gradientJobSchema,
  PROTOCOL_VERSION,
  type RedisClient,
  RunData,
  type StagedGradient,
  type StepOpening,
  type SubmitStatus,
} from '@gradq/protocol';
import { meanLoss } from '@gradq/trainer';
import { UnrecoverableError } from 'bullmq';
import { computeReplica, type ReplicaOutcome } from './replica-job';
import { RunCache } from './run-cache';

/** Hooks for metrics; all optional. `run` is the job's run id (`''` for a payload too malformed to name one). */
export interface ProcessorEvents {
  /** A job started; `createdAtMs` is when it was enqueued. */
  onStart?(run: string, createdAtMs: number): void;
  onFetch?(run: string, kind: 'params' | 'batches', bytes: number, seconds: number): void;
  onCompute?(run: string, seconds: number): void;
  onPush?(run: string, bytes: number, seconds: number): void;
  onParamsCache?(run: string, hit: boolean): void;
  /** A job computed on parameters derived here, confirmed by the step's parameters' hash (no fetch). */
  onDerived?(run: string): void;
  /** A line worth the log (a derived version that did not match). */
  onLog?(line: string): void;
  onOutcome?(run: string, outcome: 'ok' | 'failed' | 'rejected'): void;
  /** The worker stood by (no run needs it: it takes no jobs) or came back. */
  onStandby?(standingBy: boolean): void;
}

/** Runs kept in memory at once; a worker serving more runs refetches (it is a cache). */
const MAX_RUNS = 2;

/** How long a job of a step that has not opened yet waits for its parameters before it is retried. */
const OPEN_WAIT_MS = 120_000;

/**
 * How long a job of a step that has not opened yet holds this worker before it is handed back to the queue. The
 * step before may be waiting for a block that was re-issued (rejected, lost, straggling) and queued behind this
 * step's jobs: a worker that held on for OPEN_WAIT_MS would keep that block from ever running, and with one worker
 * (or every worker holding a next-step job) the run stalled for minutes (measured: hostile-gradients.test.ts, one
 * rejected gradient with one worker, no progress for 180 s).
 */
const HOLD_MS = 1000;

/** The job's step has not opened within HOLD_MS: hand the job back (not a failure) and serve the queue. */
export class StepNotOpenError extends Error {
  override readonly name = 'StepNotOpenError';
}

/**
 * Turns one gradient job (a block of leaves) into one submitted gradient. Stateless in the sense that matters:
 * everything it holds is a cache of Redis, so a worker can die at any point and another will redo the job with the
 * same result. Jobs of the next step are taken while the current one is still collected: such a job blocks until
 * its parameters are published.
 */
export class GradientProcessor {
  private readonly runs = new Map<string, RunCache>();
  /**
   * The last job's submission until Redis answers it (`status: 'sent'`): its gradient array is still being read, so
   * the next job computes into the run's other one.
   */
  private inFlight: { grad: Float32Array; sent: Promise<void>; status: Promise<SubmitStatus | undefined> } | undefined;

  constructor(
    private readonly redis: RedisClient,
    /** A connection of its own for the blocking wait on the next step. */
    private readonly blocking: RedisClient,
    private readonly workerId: string,
    /** Makes a run's engine: `selectEngine` on this process's backend (native on cpu-native). */
    private readonly engines: EngineFactory,
    private readonly events: ProcessorEvents = {},
    /** Test-only (GRADQ_TEST_SLOW_MS): ms to wait before each submit, to play a straggler. Always 0 in production. */
    private readonly testSlowMs = 0,
  ) {}

  async process(data: unknown, jobId: string | undefined, createdAtMs?: number): Promise<GradientJobResult> {
    // A job whose stored data was not JSON reaches us as a note of it (worker.ts, TolerantJob).
    if (typeof data === 'object' && data !== null && Object.keys(data).join() === 'unparsable') {
      this.events.onOutcome?.('', 'rejected');
      throw new UnrecoverableError(
        `invalid gradient job ${jobId ?? '?'}: ${(data as { unparsable: unknown }).unparsable}`,
      );
    }
    const parsed = gradientJobSchema.safeParse(data);
    const runId = parsed.success ? parsed.data.runId : '';
    if (createdAtMs !== undefined) this.events.onStart?.(runId, createdAtMs);
    if (!parsed.success) {
      this.events.onOutcome?.(runId, 'rejected');
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
      throw new UnrecoverableError(`invalid gradient job ${jobId ?? '?'}: ${problems}`);
    }
    return this.serve(parsed.data, jobId, createdAtMs);
  }

  private async serve(job: GradientJob, jobId: string | undefined, createdAtMs?: number): Promise<GradientJobResult> {
    const runId = job.runId;
    const end = job.first + job.leaves.length;
    if (job.protocol !== PROTOCOL_VERSION) {
      await this.reject(job, 'protocol', `job speaks protocol ${job.protocol}, this worker speaks ${PROTOCOL_VERSION}`);
    }
    const dropped = (status: 'stale' | 'duplicate') => ({ status, count: 0 }) as const;
    // Counted in the run's stats like the submit script's stale results, so that `stale_dropped` is every stale copy.
    const stale = async (data: RunData) => {
      await data.countStale();
      return dropped('stale');
    };
    const run = await this.run(job.runId, job.session);
    // The slice count does not matter for the stats hash.
    if (run === 'stale') return stale(new RunData(this.redis, job.runId, 1, 1));
    if (!run) {
      this.events.onOutcome?.(runId, 'rejected');
      throw new UnrecoverableError(`job ${jobId}: run ${job.runId} is not in Redis (finished or expired)`);
    }
    const wholeStep = job.first === 0 && end === job.leafCount;
    // Parameters this worker derived from the step before, which it computed whole: computed with at once, checked
    // against the step's opening before the gradient goes out.
    const derived = await run.takeDerived(job.step);
    let params: Float32Array;
    if (derived) params = derived.params;
    else {
      // A job of the next step waits here for its parameters, fetching each part as soon as it is written; a late
      // retry or a straggler's copy finds its step gone.
      const fetch = run.fetchParams(job.step);
      const open = await this.waitOpen(run, job, jobId, createdAtMs, fetch?.ready);
      if (open === 'stale') return stale(run.data);
      // The original finished while this copy waited in the queue: skip the compute. Asked alongside the parameter
      // fetch, not before it: one round trip less on every job, 3 MB fetched for nothing on a rare duplicate.
      const t = performance.now();
      const [done, fetched] = await Promise.all([
        run.data.anyLeafDone(job.step, job.first, end),
        run.useParams(job.step, fetch),
        // The coordinator wrote its optimizer's state with these parameters because this worker asked.
        open.state && wholeStep ? run.loadState(job.step, open.state) : undefined,
      ]);
      if (done) {
        await run.data.countDuplicate();
        return dropped('duplicate');
      }
      if (!fetched) {
        if (typeof (await run.data.waitForStep(this.blocking, job.step, job.session, 0)) !== 'object')
          return stale(run.data);
        throw new Error(`parameters v${job.step} of run ${job.runId} are not in Redis`);
      }
      this.events.onParamsCache?.(runId, fetched.fetched === 0);
      if (fetched.fetched > 0) this.events.onFetch?.(runId, 'params', fetched.fetched, (performance.now() - t) / 1000);
      params = fetched.params;
    }

    // The last job's bytes leave this process before the engine holds the event loop.
    await this.inFlight?.sent;
    let t = performance.now();
    const trainBytes = await run.loadTrainingSet();
    const order = await run.epochOrder(job.epoch);
    const lastEnd = (job.leaves.at(-1) as [number, number])[1];
    if (lastEnd > order.length)
      throw new UnrecoverableError(`job ${jobId}: samples up to ${lastEnd} exceed the epoch's ${order.length}`);
    if (trainBytes > 0) this.events.onFetch?.(runId, 'batches', trainBytes, (performance.now() - t) / 1000);

    t = performance.now();
    const local = run.meta.hyperparams.algorithm === 'local';
    // A local run's job is one replica's round (the coordinator queues one per replica).
    if (local && job.leaves.length !== 1)
      throw new UnrecoverableError(`job ${jobId}: a local run's job is one replica, not ${job.leaves.length} leaves`);
    const { block, inner, innerIterations }: ReplicaOutcome = local
      ? await computeReplica(run, job, params, order)
      : {
          block: await run.engine.computeBlock({
            version: job.step,
            params,
            order,
            leaves: job.leaves.map(([start, end]) => ({ start, end })),
            stepSamples: job.stepSamples,
            rounding: run.meta.hyperparams.gradEncoding,
            out: run.gradOut(this.inFlight?.grad),
          }),
        };
    const computeSeconds = (performance.now() - t) / 1000;
    this.events.onCompute?.(runId, computeSeconds);
    const encoding = run.meta.hyperparams.gradEncoding;
    // The engine already rounded every tree node to the encoding: encoding it loses nothing more.
    const bytes = encodeVector(block.grad, encoding);
    let staged: StagedGradient | undefined;
    if (derived) {
      // Computed before its step opened: the gradient's bytes go out now, while the coordinator still reads and
      // applies the step before, and count only once the opening's parameters' hash matches and it is submitted. Measured with
      // one instant emulated worker: step 13.8 -> 10.2 ms (median of 3 paired runs); `pnpm start` no slower.
      const early = run.data.stageGradient(job.step, bytes, encoding, inner);
      staged = early;
      const discard = () => run.data.discardGradient(early);
      // Only the opening: the parameters it names are here already.
      const open = await this.waitOpen(run, job, jobId, createdAtMs, undefined, false).catch(async (err: Error) => {
        await discard();
        throw err;
      });
      if (open === 'stale') {
        await discard();
        return stale(run.data);
      }
      if (open.hash !== derived.hash) {
        // Never expected (the same Adam on the same numbers): fetch what the coordinator published and compute again.
        await discard();
        run.stopDeriving();
        this.events.onLog?.(
          `run ${runId} step ${job.step}: parameters derived here differ from the coordinator's (hash ${derived.hash}, published ${open.hash ?? 'none'}); fetching them instead, and from now on for this run`,
        );
        return this.serve(job, jobId, createdAtMs);
      }
      run.adoptDerived();
      this.events.onDerived?.(runId);
    }
    // Awaited, not a busy wait: BullMQ keeps renewing the job's lock, so the job stays active, as a slow worker's would.
    if (this.testSlowMs > 0) await new Promise((resolve) => setTimeout(resolve, this.testSlowMs));

    const count = block.counts.reduce((a, b) => a + b, 0);
    const wantsState = run.asksForState(job.step, wholeStep);
    const derives = !local && run.derivesFrom(job.step, wholeStep);
    // One submission in flight at a time, in order: the last job's has long had its answer by now.
    await this.inFlight?.status;
    t = performance.now();
    const submission = run.data.sendGradient(
      { step: job.step, session: job.session, first: job.first, end },
      staged ?? run.data.stageGradient(job.step, bytes, encoding, inner),
      (token) =>
        JSON.stringify({
          kind: 'accepted',
          step: job.step,
          first: job.first,
          end,
          token,
          losses: block.losses.map((l) => (Number.isFinite(l) ? l : null)),
          counts: [...block.counts],
          computeSeconds,
          worker: this.workerId,
          ...(innerIterations === undefined ? {} : { innerIterations }),
          ...(wantsState ? { wantsState } : {}),
          ...(derives ? { derives } : {}),
        } satisfies Omit<Extract<BlockResult, { kind: 'accepted' }>, 'losses'> & { losses: (number | null)[] }),
    );
    const answered = submission.done.then(({ status }) => {
      if (status === 'accepted') this.events.onPush?.(runId, bytes.byteLength, (performance.now() - t) / 1000);
      this.events.onOutcome?.(runId, 'ok');
      return status;
    });
    // The coordinator applies this gradient when the step's loss and gradient are finite; a copy that is not
    // accepted had the same bits (a duplicate) or its step is gone (stale). The next opening's parameters' hash checks it.
    const finite = () => Number.isFinite(meanLoss(block.losses, block.counts).loss) && firstNonFinite(block.grad) < 0;
    // A local run's inner moments are one array per run, and a Cluster cannot tell when its bytes have left: their
    // jobs wait for the answer.
    if (local || !submission.sent) {
      const status = await answered;
      if (wholeStep && !local) await run.derive(job.step, block.grad, status === 'accepted' && finite());
      return { status, count: status === 'accepted' ? count : 0 };
    }
    // The job ends as soon as its submission is written. The next job computes once its bytes have left this
    // process, while Redis takes them in and the coordinator reads them, and its answer is logged when it comes. A
    // worker killed before it lands leaves its block to the coordinator's lost-job check (the job is gone from
    // BullMQ, removed on completion, and its leaves are not done).
    this.inFlight = {
      grad: block.grad,
      sent: submission.sent,
      status: answered.then(
        (status) => {
          if (status !== 'accepted') this.events.onLog?.(`job ${jobId}: ${status}, dropped`);
          return status;
        },
        (err: Error) => {
          this.events.onOutcome?.(runId, 'failed');
          this.events.onLog?.(
            `job ${jobId}: its gradient may not have reached Redis (${err.message}); the coordinator adds the block again`,
          );
          return undefined;
        },
      ),
    };
    // Derived after the job ends (the finiteness check too), while BullMQ's command that ends it and takes the next
    // job travels.
    if (wholeStep) run.deriveSoon(job.step, block.grad, finite);
    return { status: 'sent', count };
  }

  /** The last `sent` job's word from Redis, once it has come (undefined when the submission failed). */
  async lastStatus(): Promise<SubmitStatus | undefined> {
    return this.inFlight?.status;
  }

  /** Waits for the last submission's answer (before the worker closes its connections). */
  async drain(): Promise<void> {
    await this.inFlight?.status;
  }

  /**
   * Waits for the job's step to open (and, with `needParams`, for its parameters to be in Redis) and checks the
   * job's layout then: the opening, or 'stale'. A step not open within HOLD_MS hands the job back (StepNotOpenError).
   */
  private async waitOpen(
    run: RunCache,
    job: GradientJob,
    jobId: string | undefined,
    createdAtMs: number | undefined,
    onReady?: (slices: number) => void,
    needParams = true,
  ): Promise<StepOpening | 'stale'> {
    const open = await run.data.waitForStep(this.blocking, job.step, job.session, HOLD_MS, onReady, needParams);
    if (open === 'stale') return open;
    if (open === 'timeout') {
      if (createdAtMs === undefined || Date.now() - createdAtMs < OPEN_WAIT_MS)
        throw new StepNotOpenError(`job ${jobId}: step ${job.step} has not opened yet; handing the job back`);
      throw new Error(`job ${jobId}: step ${job.step} did not open within ${OPEN_WAIT_MS} ms`);
    }
    // Refused only once its step is open: the coordinator reads the refusals of the step it collects and drops any
    // other, so a refusal of a job taken early would be lost, and its block re-issued only after --check-after-ms.
    if (job.fingerprint !== run.fingerprint) {
      await this.reject(
        job,
        'layout',
        `job's parameter layout ${job.fingerprint} differs from this worker's ${run.fingerprint}`,
      );
    }
    return open;
  }

  /** Tells the coordinator this block needs another worker, then fails the job without retry. */
  private async reject(job: GradientJob, reason: 'layout' | 'protocol' | 'params', message: string): Promise<never> {
    const record: BlockResult = {
      kind: 'rejected',
      step: job.step,
      first: job.first,
      end: job.first + job.leaves.length,
      reason,
      message,
      worker: this.workerId,
    };
    // The run's slice count does not matter for the results list.
    await new RunData(this.redis, job.runId, 1, 1).pushRecord(JSON.stringify(record));
    this.events.onOutcome?.(job.runId, 'rejected');
    throw new UnrecoverableError(
      `refused job for run ${job.runId} step ${job.step} leaves [${record.first}, ${record.end}): ${message}`,
    );
  }

  /**
   * The run's cache for the coordinator session that queued the job. A run id can be reused by a new run (another
   * seed, other data), so a cache belongs to one session: a job of another session opens the run afresh, once that
   * session is the one Redis holds ('stale' if not: a dead coordinator's leftover must not evict the live cache). A
   * resumed run has a new session too, and fetches its training set once more.
   */
  private async run(runId: string, session: string): Promise<RunCache | 'stale' | undefined> {
    const cached = this.runs.get(runId);
    if (cached?.session === session) return cached;
    const current = await RunData.readSession(this.redis, runId);
    if (current === undefined) return undefined;
    if (current !== session) return 'stale';
    const run = await RunCache.open(this.redis, runId, session, this.engines);
    if (!run) return undefined;
    if (cached) {
      cached.dispose();
      this.runs.delete(runId);
    }
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
