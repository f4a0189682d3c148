import { alignedBlocks, type BlockGradient, type Leaf, type LeafBlock, TreeReducer } from '@gradq/engine';
import { type AdamState, bytesPerValue, type WireEncoding } from '@gradq/model';
import {
  type BlockResult,
  blockResultSchema,
  GRADIENT_JOB_OPTIONS,
  type GradientJob,
  gradientJobId,
  type InnerPointer,
  PROTOCOL_VERSION,
  preferWorkers,
  type RedisClient,
  type RunData,
  writeStandbyPlan,
} from '@gradq/protocol';
import type { GradientSource, StepGradient, StepWork, Trainee } from '@gradq/trainer';
import type { Queue } from 'bullmq';
import { checkGradientValues } from './gradient-check';
import { type BlockEntry, checkRecord, jobsPerStep, overdue, StepBook } from './step-book';

/** Counters the coordinator keeps about the distributed steps, reported in the summary and metrics. */
export interface DistributedCounters {
  /** Leaf gradients applied; equals the planned number of leaves when every (step, leaf) counted exactly once. */
  shardsApplied: number;
  /** Jobs added again because a worker refused the block, its gradient was invalid, or its job failed, vanished or straggled. */
  reissued: number;
  /** Blocks refused by a worker or gradients refused here, by reason. */
  rejected: Record<string, number>;
  /** Times Redis lost the run (restarted without its data) and the coordinator put it back. */
  reseeded: number;
  /** Blocks the coordinator computed itself because their gradient came back non-finite twice. */
  computedHere: number;
}

export interface SourceEvents {
  onBytes?(kind: 'params' | 'gradients' | 'batches', bytes: number): void;
  /** A step's data-plane bytes through Redis, both sides, by protocol count (`exchangedBytes`). */
  onExchanged?(bytes: number): void;
  /** Seconds spent in each part of a step. */
  onPart?(part: 'wait_gradients' | 'reduce' | 'publish', seconds: number): void;
  onRejected?(reason: string): void;
  onReissue?(why: string): void;
  /** A worker delivered a gradient. */
  onWorker?(workerId: string): void;
  log?(line: string): void;
}

export interface QueueSourceOptions {
  readonly data: RunData;
  readonly session: string;
  readonly queue: Queue;
  /** The coordinator's connection, for small writes off the step's path (the standby plan). */
  readonly redis: RedisClient;
  /** A dedicated connection for BLPOP (it blocks). */
  readonly blocking: RedisClient;
  readonly trainee: Trainee;
  readonly fingerprint: string;
  /** How gradients travel (parameters are always float32). */
  readonly encoding: WireEncoding;
  /** Jobs per step: `auto` sizes them from the workers alive and measured costs. Default auto. */
  readonly jobsPerStep?: number | 'auto';
  /** Native `left = round(left + right)` for the tree; default the JS one (same bits). */
  readonly treeAdd?: (left: Float32Array, right: Float32Array, encoding: WireEncoding) => void;
  /**
   * Computes a block in this process (into `out`), on the current parameters: for a block whose gradient came back
   * non-finite twice, which no worker's word decides.
   */
  readonly computeHere: (
    work: StepWork,
    leaves: readonly Leaf[],
    out: Float32Array,
    first: number,
  ) => Promise<BlockGradient & { inner?: InnerPointer }>;
  /**
   * `--algorithm local`: a step is a round, one job per replica. With `keep`, each replica's inner Adam state stays in
   * Redis between rounds (`RunKeys.inner`), named by pointers written here from accepted results only; `initial` are
   * a resumed run's states by replica. A block computed here (`computeHere`) writes its replica's new state to
   * Redis itself and returns the pointer to it.
   */
  readonly local?: { readonly keep: boolean; readonly initial?: ReadonlyMap<number, AdamState> };
  /** Puts the run's description and training bytes back after Redis lost them. */
  readonly reseed: () => Promise<void>;
  /** After this long without a result, the missing blocks' jobs are checked and re-added if failed or gone. Default 5000. */
  readonly checkAfterMs?: number;
  /** A block whose job has been running this long is handed to another worker too; first result wins. Default 30000. */
  readonly shardDeadlineMs?: number;
  /** A block refused this many times aborts the run (no worker can take it). Default 20. */
  readonly maxRejections?: number;
  readonly signal?: AbortSignal;
  readonly events?: SourceEvents;
}

/** Redis no longer holds the run: it restarted without its data (or someone deleted it). */
class RunLostError extends Error {
  override readonly name = 'RunLostError';
}

type Accepted = Extract<BlockResult, { kind: 'accepted' }>;

/** A step whose jobs are in the queue. */
interface Enqueued {
  readonly work: StepWork;
  readonly book: StepBook;
}

/**
 * Computes a step's gradient through the queue. Step v+1's jobs are queued while step v is collected, so workers
 * pick them up as soon as they are free and block until parameters v+1 are published: the queue's round trip is
 * off the critical path. A step: publish parameters v (this opens it), queue step v+1's jobs, collect one accepted
 * block per job (the submit script has made each leaf count once), read each block's gradient as it arrives and
 * fold it into the leaf tree. Jobs that cannot finish (refused, failed, lost, straggling) are added again.
 */
export class QueueGradientSource implements GradientSource {
  readonly counters: DistributedCounters = {
    shardsApplied: 0,
    reissued: 0,
    rejected: {},
    reseeded: 0,
    computedHere: 0,
  };
  /** Worker id -> when it last delivered a gradient (ms). */
  readonly workersSeen = new Map<string, number>();
  private readonly publishedEpochs = new Set<number>();
  private next: Enqueued | undefined;
  /** Measured costs that size the jobs: one worker's seconds per sample, seconds per parameter-sized transfer. */
  private computePerSample: number | undefined;
  private transferSeconds: number | undefined;
  private workersCounted = { count: 0, at: 0 };
  /** When the last step's gradient was handed to the loop: the time until the next publish is serial. */
  private returnedAt: number | undefined;
  /**
   * The coordinator's serial time between steps (optimizer, checks, hooks, the run check), ms, for the last 1,000
   * steps: what no transfer overlaps. The bench reports it.
   */
  readonly serialMs: number[] = [];
  private lastFoldMs = 0;
  /**
   * Gradient arrays read in the previous step, free again once the loop has applied that step (it asks for the next
   * one only then): reused, so that a step allocates no 3 MB array per block for the garbage collector.
   */
  private lent: Float32Array[] = [];
  /** Milliseconds from the last step's opening to its first accepted result: when to queue the next step's jobs. */
  private firstResultMs: number | undefined;
  /** The next step's queueing, while it may still be in flight. */
  private pendingNext: Promise<void> | undefined;
  private readonly spare: Float32Array[] = [];
  /** Standby (`@gradq/protocol` standby.ts): the workers this run prefers, its recent jobs per step, its step time. */
  private preferred: string[] = [];
  private readonly recentJobs: number[] = [];
  private stepMs: number | undefined;
  private lastPublishAt: number | undefined;
  /** What the last plan written said (jobs and workers) and when (Date.now()): unchanged plans go out once a second. */
  private planWritten = { shape: '', at: 0 };
  /** Workers whose job went past the deadline -> when: not preferred for {@link AVOID_MS}. */
  private readonly avoided = new Map<string, number>();
  /**
   * `--algorithm local` with `keep`: where each replica's inner state is, as Redis's pointers say; undefined until
   * they are first written (before the first round opens).
   */
  innerPointers: Map<number, InnerPointer> | undefined;
  /**
   * The worker that computed the last step whole holds no copy of the optimizer's state and asked for one
   * (`wantsState`): it is written beside the next parameters, and from then on that worker derives each next
   * parameter version itself while it computes whole steps (the opening's parameters' hash checks it), skipping their fetch.
   */
  private stateWanted = false;
  /**
   * The last step was one block whose worker derives the next parameters (`derives`): the next step, if it is one
   * job again, opens `deferred`, its parameters written only if a worker asks for them (a `wanted` record).
   */
  private derivesNext = false;
  /** The step being collected opened deferred: its parameters are not in Redis until asked for (then `written`). */
  private deferred: { step: number; written?: Promise<number> } | undefined;

  constructor(private readonly o: QueueSourceOptions) {}

  async gradients(work: StepWork): Promise<StepGradient> {
    for (;;) {
      try {
        return await this.step(work);
      } catch (err) {
        // A next step still being queued must not land after the reseed below has reset the run.
        await this.pendingNext?.catch(() => {});
        if (!(err instanceof RunLostError)) throw err;
        if (this.o.local?.keep)
          throw new Error(
            `Redis no longer holds run ${this.o.data.runId}, and with it the replicas' inner optimizer states: resume from the last checkpoint (--resume ${this.o.data.runId})`,
          );
        this.o.events?.log?.(
          `Redis no longer holds run ${this.o.data.runId} (restarted without its data?): putting it back and redoing step ${work.step}`,
        );
        await this.o.reseed();
        this.publishedEpochs.clear();
        this.next = undefined;
        this.derivesNext = false;
        this.counters.reseeded += 1;
      }
    }
  }

  private async step(work: StepWork): Promise<StepGradient> {
    const { data } = this.o;
    const ev = this.o.events ?? {};
    const started = performance.now();
    this.spare.push(...this.lent);
    this.lent = [];
    // A Redis that restarted empty between two steps loses no result of ours, so nothing else would notice: workers
    // holding the run in their caches keep going, while a new worker (or one restarted) would find no run to serve.
    // Asked on the publish's connection just ahead of it (one round trip less per step): a step opened in a Redis
    // that lost the run is reset by the reseed before it is redone.
    const present = data.present();
    present.catch(() => {}); // awaited below; handled meanwhile
    if (this.returnedAt !== undefined) {
      // Folding the last block in, the loop's optimizer and hooks, and the run check: nothing overlaps them.
      this.serialMs.push(performance.now() - this.returnedAt + this.lastFoldMs);
      if (this.serialMs.length > 1000) this.serialMs.shift();
    }
    await this.publishOrder(work);
    if (this.o.local?.keep && !this.innerPointers) await this.writeInitialInner(work);
    const publishStart = performance.now();
    // A local run's optimizer is the outer one; a worker derives only a synchronous run's parameters.
    const state = this.stateWanted && !this.o.local ? await this.o.trainee.optimizer.getState() : undefined;
    this.stateWanted = false;
    const deferred =
      this.derivesNext &&
      !state &&
      !this.o.local &&
      this.next?.work.step === work.step &&
      this.next.book.entries.length === 1;
    this.derivesNext = false;
    this.deferred = deferred ? { step: work.step } : undefined;
    const published = data.publishParams(work.step, this.o.trainee.params, this.o.session, state, deferred);
    published.catch(() => {}); // awaited below; handled meanwhile
    if (!(await present)) {
      await published.catch(() => {});
      throw new RunLostError(`run ${data.runId} is not in Redis at the start of step ${work.step}`);
    }
    ev.onBytes?.('params', await published);
    // A deferred opening wrote no parameters: its time says nothing of a transfer (it made 2 jobs look cheap).
    if (!deferred) this.measureTransfer(performance.now() - publishStart);
    if (this.lastPublishAt !== undefined) this.stepMs = ewma(this.stepMs, publishStart - this.lastPublishAt);
    this.lastPublishAt = publishStart;
    this.writePlan(work.step);
    const current = this.next?.work.step === work.step ? this.next : await this.enqueueStep(work);
    const openedAt = Date.now();
    const openedPerf = performance.now();
    this.next = undefined;
    const queueNext = this.queueNextLater(work.next);
    ev.onPart?.('publish', (performance.now() - started) / 1000);

    const waitStart = performance.now();
    const { book } = current;
    const leafCount = work.shards.length;
    const reducer = new TreeReducer(leafCount, this.o.encoding, this.o.treeAdd);
    const losses: number[] = new Array(leafCount).fill(Number.NaN);
    const counts: number[] = new Array(leafCount).fill(0);
    const tokens: string[] = [];
    /** This round's accepted inner states, by replica (`--algorithm local`, `keep`). */
    const inner = new Map<number, InnerPointer>();
    let reduceSeconds = 0;
    while (!book.complete) {
      const { entry, result } = await this.nextAccepted(current, openedAt);
      if (tokens.length === 0) this.firstResultMs = performance.now() - openedPerf;
      // A worker is done with this step: the next step's jobs must be there for it now.
      queueNext.now();
      const readStart = performance.now();
      const verdict = checkRecord(entry, result);
      // A non-finite loss is read all the same (a second one means the coordinator computes the block itself).
      const readable = verdict.ok || verdict.problem === 'nonfinite';
      const into = this.spare.pop() ?? new Float32Array(data.paramCount);
      this.lent.push(into);
      const read = readable ? await data.readGradient(work.step, result.token, this.o.encoding, into) : undefined;
      let grad: Float32Array | undefined;
      let finalVerdict = verdict;
      if (read && 'missing' in read) {
        // Redis lost it with the run (restarted empty), or something deleted it: only the first means a reseed.
        if (!(await data.present()))
          throw new RunLostError(`gradient of step ${work.step} block ${entry.first} vanished`);
        finalVerdict = { ok: false, problem: 'length', detail: 'its gradient slices are missing' };
      } else if (read && 'problem' in read) finalVerdict = { ok: false, problem: 'length', detail: read.problem };
      else if (read && 'grad' in read) {
        ev.onBytes?.('gradients', read.bytes);
        this.measureTransfer(performance.now() - readStart);
        grad = read.grad;
        const values = checkGradientValues(grad);
        if (!values.ok && finalVerdict.ok) finalVerdict = { ok: false, problem: 'nonfinite', detail: values.detail };
      }
      if (finalVerdict.ok && this.o.local?.keep && result.innerIterations === undefined)
        finalVerdict = { ok: false, problem: 'length', detail: 'a local round without its inner state' };
      const decision = book.gradient(entry, finalVerdict);
      const detail = finalVerdict.ok ? '' : finalVerdict.detail;
      if (decision === 'reissue') {
        await data.forgetBlock(work.step, entry.first, entry.end, result.token);
        this.o.events?.onRejected?.(finalVerdict.ok ? 'schema' : finalVerdict.problem);
        ev.log?.(
          `step ${work.step} leaves [${entry.first}, ${entry.end}) from ${result.worker} rejected: ${detail}; adding them again`,
        );
        await this.reissue(current, entry, 'invalid');
        continue;
      }
      // Its leaves stay accepted in Redis (a late copy is a duplicate); its bytes go with the step's.
      tokens.push(result.token);
      let block: BlockGradient;
      if (decision === 'compute-here') {
        this.o.events?.onRejected?.('nonfinite');
        const computed = await this.o.computeHere(work, entry.leaves, into, entry.first);
        block = computed;
        if (computed.inner) inner.set(entry.first, computed.inner);
        book.computedHere(entry);
        this.counters.computedHere += 1;
        const finite = block.losses.every(Number.isFinite) && checkGradientValues(block.grad).ok;
        ev.log?.(
          `step ${work.step} leaves [${entry.first}, ${entry.end}) from ${result.worker} not finite again (${detail}); ` +
            (finite
              ? 'computed here: finite, used'
              : 'computed here: not finite either, so the divergence is real (the step is skipped)'),
        );
      } else {
        if (!grad) throw new Error(`step ${work.step} leaves [${entry.first}, ${entry.end}): used without a gradient`);
        this.measureCompute(result);
        block = { grad, losses: result.losses, counts: result.counts };
        const whole = entry.first === 0 && entry.end === leafCount;
        if (result.wantsState && whole) this.stateWanted = true;
        if (result.derives && whole) this.derivesNext = true;
        if (result.innerIterations !== undefined)
          inner.set(entry.first, { step: work.step, token: result.token, iterations: result.innerIterations });
      }
      for (let i = 0; i < block.counts.length; i++) {
        losses[entry.first + i] = block.losses[i] as number;
        counts[entry.first + i] = block.counts[i] as number;
      }
      const reduceStart = performance.now();
      reducer.add(entry, block.grad);
      this.lastFoldMs = performance.now() - reduceStart;
      reduceSeconds += this.lastFoldMs / 1000;
    }
    queueNext.now();
    await queueNext.done;
    // Parameters written on request go out without a copy: the optimizer must not change them before Redis has them.
    const late = this.deferred?.written;
    const paramsWritten = !this.deferred || late !== undefined;
    this.deferred = undefined;
    if (late) ev.onBytes?.('params', await late);
    if (this.o.local?.keep) await this.advanceInner(work, inner);
    // Not awaited: it goes ahead of the next publish on the same connection, and every leaf is accepted already, so a
    // late copy in between is a duplicate; closing makes it count as stale.
    void data.closeStep(work.step).catch((err: Error) => ev.log?.(`closing step ${work.step}: ${err.message}`));
    ev.onPart?.('wait_gradients', (performance.now() - waitStart) / 1000 - reduceSeconds);
    ev.onPart?.('reduce', reduceSeconds);
    void data
      .dropStep(work.step, this.o.session, tokens)
      .catch((err: Error) => ev.log?.(`cleanup of step ${work.step}: ${err.message}`));
    ev.onExchanged?.(
      exchangedBytes(
        data.paramCount,
        tokens.length,
        bytesPerValue(this.o.encoding),
        this.o.local?.keep ? inner.size : 0,
        paramsWritten,
      ),
    );
    this.counters.shardsApplied += leafCount;
    for (const [reason, n] of Object.entries(book.rejected))
      this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + n;
    this.returnedAt = performance.now();
    return { grad: reducer.root(), losses, counts };
  }

  /**
   * The replicas' inner states as the next round will read them (`--algorithm local`, `keep`), for a checkpoint:
   * read back from Redis (a fresh one is left out; it is fresh again on resume). Called between rounds.
   */
  async readInnerStates(): Promise<{ replica: number; state: AdamState }[]> {
    const states: { replica: number; state: AdamState }[] = [];
    for (const [replica, pointer] of [...(this.innerPointers ?? [])].sort(([a], [b]) => a - b)) {
      if ('fresh' in pointer) continue;
      const n = this.o.data.paramCount;
      const moments = { firstMoment: new Float32Array(n), secondMoment: new Float32Array(n) };
      if (!(await this.o.data.readInnerState(pointer.step, pointer.token, moments)))
        throw new Error(`replica ${replica}'s inner state of round ${pointer.step} is not in Redis`);
      states.push({ replica, state: { iterations: pointer.iterations, ...moments } });
    }
    return states;
  }

  /**
   * Points every replica at a fresh inner state, or a resumed run's states (written here under new tokens), before
   * the first round opens: a worker that finds no pointer knows Redis lost the run rather than starting afresh.
   */
  private async writeInitialInner(work: StepWork): Promise<void> {
    const pointers = new Map<number, InnerPointer>();
    const replicas = Math.max(work.shards.length, ...[...(this.o.local?.initial?.keys() ?? [])].map((r) => r + 1));
    for (let replica = 0; replica < replicas; replica++) {
      const state = this.o.local?.initial?.get(replica);
      if (!state) pointers.set(replica, { fresh: true });
      else {
        const token = await this.o.data.writeInnerState(work.step, state);
        pointers.set(replica, { step: work.step, token, iterations: state.iterations });
      }
    }
    await this.o.data.setInnerPointers(pointers);
    this.innerPointers = pointers;
  }

  /**
   * A round's accepted inner states become the ones its replicas' next jobs read (before the next round opens, so a
   * job reads only accepted states); the states they replace are deleted.
   */
  private async advanceInner(work: StepWork, accepted: ReadonlyMap<number, InnerPointer>): Promise<void> {
    const pointers = this.innerPointers ?? new Map<number, InnerPointer>();
    await this.o.data.setInnerPointers(accepted);
    const replaced: { step: number; token: string }[] = [];
    for (const [replica, pointer] of accepted) {
      const old = pointers.get(replica);
      if (old && !('fresh' in old)) replaced.push(old);
      pointers.set(replica, pointer);
    }
    this.innerPointers = pointers;
    void this.o.data
      .dropInnerStates(replaced)
      .catch((err: Error) => this.o.events?.log?.(`inner states replaced in round ${work.step}: ${err.message}`));
  }

  /** Waits until a record arrives that needs its gradient read, re-adding refused, lost and straggling blocks. */
  private async nextAccepted(step: Enqueued, openedAt: number): Promise<{ entry: BlockEntry; result: Accepted }> {
    const { blocking, data, signal } = this.o;
    const checkAfter = this.o.checkAfterMs ?? 5000;
    const deadline = this.o.shardDeadlineMs ?? 30_000;
    let lastProgress = Date.now();
    let lastInspection = Date.now();
    for (;;) {
      signal?.throwIfAborted();
      // Short timeouts keep Ctrl-C and the straggler deadline responsive; an empty BLPOP costs one round trip.
      const popped = await blocking.blpop(data.keys.results, 0.25);
      const now = Date.now();
      if (popped) {
        const record = parseRecord(popped[1]);
        if (!record) continue;
        if (record.kind === 'wanted') {
          this.writeDeferred(step.work.step, record.step);
          continue;
        }
        const action = step.book.onRecord(record);
        if (action.action === 'fetch') {
          this.workersSeen.set(action.result.worker, now);
          this.o.events?.onWorker?.(action.result.worker);
          return { entry: action.entry, result: action.result };
        }
        if (action.action === 'reissue' && record.kind === 'rejected') {
          this.o.events?.onRejected?.(record.reason);
          this.o.events?.log?.(
            `step ${step.work.step} leaves [${record.first}, ${record.end}) refused by ${record.worker}: ${record.message}; adding them again`,
          );
          await this.reissue(step, action.entry, 'refused');
          lastProgress = now;
        }
        continue;
      }
      if (now - lastInspection < Math.min(1000, checkAfter)) continue;
      lastInspection = now;
      const quietFor = now - lastProgress;
      if (this.preferred.length > 0 && quietFor >= this.waitMs()) {
        // No result for as long as a job may wait: a preferred worker may be dead. Everyone takes jobs until the
        // next step prefers whoever delivers then (standby).
        this.preferred = [];
        this.writePlan(step.work.step, { open: true });
      }
      if (quietFor >= checkAfter && !(await data.present())) throw new RunLostError();
      for (const entry of step.book.missing()) {
        // Accepted in Redis, yet its record never reached us. Pushed just after the last BLPOP, it is still in the
        // list; after a quiet spell it was lost in transit (popped by a connection that died before the reply came
        // back, as a proxy failover or CLIENT KILL does): the submit script keeps the same record in the done set.
        const stored = await data.acceptedRecord(step.work.step, entry.first);
        if (stored !== undefined) {
          if (quietFor < checkAfter) continue;
          const record = parseRecord(stored);
          const action = record && record.kind !== 'wanted' ? step.book.onRecord(record) : undefined;
          if (action?.action !== 'fetch') continue;
          this.o.events?.log?.(
            `step ${step.work.step} leaves [${entry.first}, ${entry.end}): accepted in Redis but its result never arrived (lost in transit); taking it from the done set`,
          );
          return { entry: action.entry, result: action.result };
        }
        if (await data.anyLeafDone(step.work.step, entry.first, entry.end)) continue;
        const id = this.jobId(step.work, entry);
        const job = await this.o.queue.getJob(id);
        const state = job ? await job.getState() : 'missing';
        const why = overdue({ state, activeSinceMs: job?.processedOn }, now, openedAt, deadline, quietFor, checkAfter);
        if (!why) continue;
        this.o.events?.log?.(
          why === 'straggler'
            ? `step ${step.work.step} leaves [${entry.first}, ${entry.end}): job ${id} is past the ${deadline} ms deadline; giving it to another worker too`
            : `step ${step.work.step} leaves [${entry.first}, ${entry.end}): job ${id} is ${state}${job?.failedReason ? ` (${job.failedReason})` : ''}; adding it again`,
        );
        await this.reissue(step, entry, why);
        if (why === 'straggler' && job?.processedBy) {
          // Its worker keeps no preference: the copy goes to the workers standing by at once.
          this.avoided.set(job.processedBy, Date.now());
          this.writePlan(step.work.step, { now: true });
        }
        lastProgress = now;
      }
    }
  }

  /**
   * A worker asked for the parameters of `wanted`: written once, when that is the step being collected and it opened
   * deferred (a request for any other step comes too late: its jobs are stale). The parameters are still the step's:
   * the optimizer applies it only after this source returns.
   */
  private writeDeferred(collecting: number, wanted: number): void {
    const deferred = this.deferred;
    if (wanted !== collecting || deferred?.step !== wanted || deferred.written) return;
    deferred.written = this.o.data.writeParams(wanted, this.o.trainee.params, this.o.session);
    deferred.written.catch(() => {}); // awaited by the step; handled meanwhile
  }

  private async reissue(step: Enqueued, entry: BlockEntry, why: 'refused' | 'invalid' | 'straggler' | 'lost') {
    step.book.reissue(entry, why);
    this.counters.reissued += 1;
    this.o.events?.onReissue?.(why);
    // At the head of the queue: the next step's jobs are queued already, and none of them can run before this one.
    await this.enqueue(step.work, [entry], true);
  }

  /**
   * Queues the next step's jobs (and publishes its epoch's order) while this step is computed: after half the time
   * the previous step took from opening to its first result, or at once when a result arrives first, or with none
   * measured yet. They are there before any worker is done with this step, and adding them (which wakes an idle
   * worker) lands while the workers compute instead of inside the publish and the parameter fetch. Measured: the
   * publish went from 4.8 to 3.0 ms at batch 128; 2 workers at batch 1024 from 0.93x to about 1.0x of 1. (It did not
   * change the ~9% that 2 workers lost to 1 at batch 128 by taking turns: standby, `writePlan`, did.)
   */
  private queueNextLater(next: StepWork | undefined): { now(): void; done: Promise<void> } {
    if (!next) return { now: () => {}, done: Promise.resolve() };
    let now = () => {};
    const due = new Promise<void>((resolve) => {
      now = resolve;
    });
    const timer = this.firstResultMs === undefined ? undefined : setTimeout(now, this.firstResultMs / 2);
    const done = due.then(async () => {
      clearTimeout(timer);
      await this.publishOrder(next);
      this.next = await this.enqueueStep(next);
    });
    if (timer === undefined) now();
    // Awaited by the step; until then a failure must not count as unhandled (the step rethrows it).
    done.catch(() => {});
    this.pendingNext = done;
    return { now, done };
  }

  /** Plans a step's blocks from the workers alive and queues one job per block. */
  private async enqueueStep(work: StepWork): Promise<Enqueued> {
    const leafCount = work.shards.length;
    const auto = !this.o.local && (this.o.jobsPerStep === undefined || this.o.jobsPerStep === 'auto');
    // Before anything is measured (the first two steps) `auto` guesses one job per worker: not a plan for standby to
    // keep for 8 steps, which kept a second worker taking turns with the first (and ending its derived parameters).
    const guessed = auto && (this.computePerSample === undefined || this.transferSeconds === undefined);
    // A local round is one job per replica: a replica's inner steps are sequential, so it is the unit of work.
    const jobs = this.o.local ? leafCount : auto ? await this.autoJobs(work) : (this.o.jobsPerStep as number);
    const blocks = alignedBlocks(leafCount, Math.min(jobs, leafCount)).map((b: LeafBlock) => ({
      ...b,
      leaves: work.shards.slice(b.first, b.end) as Leaf[],
    }));
    if (!guessed) {
      this.recentJobs.push(blocks.length);
      if (this.recentJobs.length > 8) this.recentJobs.shift();
    }
    const book = new StepBook(work.step, blocks, this.o.maxRejections ?? 20);
    await this.enqueue(work, book.entries);
    return { work, book };
  }

  /**
   * Tells the workers whether this run needs them (standby.ts in @gradq/protocol); not awaited. The run wants the
   * most jobs of its last 8 steps, from the workers that deliver first, kept while they keep delivering (10 steps or
   * 2 s); a worker whose job went past the deadline is not preferred for a minute; a step without a result for
   * `waitMs` opens the plan to every worker. A job still at the head of the queue for `waitMs` brings idle workers
   * back. Written when the workers or jobs change, after a straggler, and once a second besides (workers judge a
   * plan live while it changes, for 5 s): not one Redis write per step, which at batch 128 is 50-100 a second.
   */
  private writePlan(step: number, o: { open?: boolean; now?: boolean } = {}): void {
    const stepMs = this.stepMs ?? 1000;
    const jobs = Math.max(1, ...this.recentJobs);
    const now = Date.now();
    const candidates = new Map(this.workersSeen);
    for (const [worker, at] of this.avoided) {
      if (now - at < AVOID_MS) candidates.delete(worker);
      else this.avoided.delete(worker);
    }
    if (!o.open) this.preferred = preferWorkers(this.preferred, candidates, jobs, now, Math.max(2000, 10 * stepMs));
    const plan = { workers: o.open ? [] : this.preferred, jobs, waitMs: this.waitMs(), step };
    const shape = `${jobs} ${plan.workers.join(',')}`;
    if (!o.open && !o.now && shape === this.planWritten.shape && now - this.planWritten.at < 1000) return;
    this.planWritten = { shape, at: now };
    void writeStandbyPlan(this.o.redis, this.o.data.runId, plan).catch((err: Error) =>
      this.o.events?.log?.(`standby plan of step ${step}: ${err.message}`),
    );
  }

  /**
   * How long a job may wait at the head of the queue (standby): about a step while its worker finishes the last one;
   * early steps are slower than the average says (the training set's download, V8 warming up). 1 s + 4 steps, 5 s
   * at most.
   */
  private waitMs(): number {
    return Math.round(Math.min(5000, 1000 + 4 * (this.stepMs ?? 1000)));
  }

  private async autoJobs(work: StepWork): Promise<number> {
    const leafCount = work.shards.length;
    const samples = work.shards.reduce((sum, s) => sum + (s.end - s.start), 0);
    return jobsPerStep({
      workers: await this.workersAlive(),
      leaves: leafCount,
      computeSeconds: this.computePerSample === undefined ? undefined : this.computePerSample * samples,
      transferSeconds: this.transferSeconds,
      largestBlock: (j) => Math.max(...alignedBlocks(leafCount, j).map((b) => b.end - b.first)),
      derives: !this.o.local,
    });
  }

  private async enqueue(work: StepWork, entries: readonly BlockEntry[], first = false): Promise<void> {
    await this.o.queue.addBulk(
      entries.map((entry) => {
        const data = this.job(work, entry);
        const opts = { ...GRADIENT_JOB_OPTIONS, jobId: gradientJobId(data), ...(first ? { lifo: true } : {}) };
        return { name: 'gradient', data, opts };
      }),
    );
  }

  private job(work: StepWork, entry: BlockEntry): GradientJob {
    return {
      protocol: PROTOCOL_VERSION,
      runId: this.o.data.runId,
      session: this.o.session,
      step: work.step,
      epoch: work.epoch,
      first: entry.first,
      leaves: entry.leaves.map((l) => [l.start, l.end] as [number, number]),
      leafCount: work.shards.length,
      stepSamples: work.shards.reduce((sum, s) => sum + (s.end - s.start), 0),
      fingerprint: this.o.fingerprint,
      attempt: entry.attempt,
    };
  }

  private jobId(work: StepWork, entry: BlockEntry): string {
    return gradientJobId({
      runId: this.o.data.runId,
      session: this.o.session,
      step: work.step,
      first: entry.first,
      attempt: entry.attempt,
    });
  }

  private async publishOrder(work: StepWork): Promise<void> {
    if (this.publishedEpochs.has(work.epoch)) return;
    this.o.events?.onBytes?.('batches', await this.o.data.publishOrder(work.epoch, work.order));
    this.publishedEpochs.add(work.epoch);
  }

  /** Workers connected to the queue (BullMQ names its connections), at least those seen lately; refreshed each second. */
  private async workersAlive(): Promise<number> {
    const now = Date.now();
    if (now - this.workersCounted.at > 1000) {
      let count = 0;
      try {
        count = await this.o.queue.getWorkersCount();
      } catch {
        // CLIENT LIST can be disabled (managed Redis): fall back to the workers seen delivering.
      }
      this.workersCounted = { count, at: now };
    }
    return Math.max(1, this.workersCounted.count, this.recentWorkers());
  }

  private measureCompute(result: Accepted): void {
    const samples = result.counts.reduce((a, b) => a + b, 0);
    if (samples === 0 || result.computeSeconds <= 0) return;
    this.computePerSample = ewma(this.computePerSample, result.computeSeconds / samples);
  }

  private measureTransfer(ms: number): void {
    this.transferSeconds = ewma(this.transferSeconds, ms / 1000);
  }

  /** Workers that delivered a gradient in the last `windowMs`. */
  recentWorkers(windowMs = 30_000): number {
    const since = Date.now() - windowMs;
    let n = 0;
    for (const t of this.workersSeen.values()) if (t >= since) n++;
    return n;
  }
}

/**
 * What a step moves through Redis on the data plane, both sides, by protocol count: the parameters published once
 * and fetched once per job, each job's change (or gradient) written and read, and with local `keep` each replica's
 * inner moments (two vectors) written and read. Re-fetches, duplicates and parameter caches are not counted.
 */
export function exchangedBytes(
  paramCount: number,
  jobs: number,
  wireWidth: number,
  innerStates: number,
  /** False when the step opened deferred and no worker asked for its parameters: neither written nor fetched. */
  paramsWritten = true,
): number {
  const params = 4 * paramCount;
  const published = paramsWritten ? params + jobs * params : 0;
  return published + 2 * jobs * wireWidth * paramCount + 2 * innerStates * 2 * params;
}

/** How long a worker whose job went past the deadline is not preferred (standby). */
const AVOID_MS = 60_000;

function ewma(previous: number | undefined, value: number): number {
  return previous === undefined ? value : 0.8 * previous + 0.2 * value;
}

function parseRecord(raw: string): BlockResult | undefined {
  try {
    const parsed = blockResultSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
