import type { Engine, EngineFactory } from '@gradq/engine';
import { createAutoencoder, type FlatAdam, layoutOf, type ParamLayout } from '@gradq/model';
import {
  type InnerMoments,
  type ParamsFetch,
  paramsHash,
  type RedisClient,
  RunData,
  type RunMeta,
  type StepOpening,
} from '@gradq/protocol';
import { loadNativeMath, ReplicaRunner, runAdam } from '@gradq/trainer';

/** A run this worker has served: its engine and the bytes it has fetched. A cache, never state: all can be refetched. */
export class RunCache {
  readonly data: RunData;
  readonly fingerprint: string;
  private order: { epoch: number; order: Uint32Array } | undefined;
  private params: { version: number; params: Float32Array } | undefined;
  private trainLoaded = false;
  /**
   * The worker computes one job at a time; a job's gradient may still be on its way to Redis while the next job
   * computes (the processor's `inFlight`), so two arrays take turns: 3 MB per job less for the garbage collector
   * (the parameters reuse theirs too).
   */
  private readonly grads: readonly [Float32Array, Float32Array];
  private readonly layout: ParamLayout;
  /** `--algorithm local`: the inner steps' runner and the array an inner state is read into, made on first use. */
  private replica: Promise<ReplicaRunner> | undefined;
  private moments: InnerMoments | undefined;
  /**
   * Derived parameters (synchronous runs). A worker that computes a whole step (one job per step) holds a copy of the
   * coordinator's Adam, fetched once from Redis (`wantsState`), and applies it to the gradient it just submitted:
   * the next parameters without fetching them. Checked against the next step's parameters' hash before its gradient is
   * submitted; on a mismatch the worker fetches and computes again, and derives no more for this run.
   */
  private adam: Promise<FlatAdam> | undefined;
  /** The parameter version `adam` is at (it can apply that step's gradient next); undefined: no copy. */
  private adamAt: number | undefined;
  private derived: { version: number; params: Float32Array; hash: string } | undefined;
  /** A derivation `deriveSoon` started. */
  private deriving: Promise<void> | undefined;
  /** The last step whose result asked for the optimizer's state: once per 4 steps at most. */
  private askedAt = Number.NEGATIVE_INFINITY;
  /** The last step this worker computed whole (accepted, finite). */
  private lastWhole: number | undefined;
  /** Derivation is off for this run: not a synchronous run, or a derived version did not match. */
  private deriveOff: boolean;

  private constructor(
    readonly meta: RunMeta,
    /** The coordinator session this cache serves: a run id reused by a new run has another. */
    readonly session: string,
    redis: RedisClient,
    readonly engine: Engine,
  ) {
    this.data = new RunData(redis, meta.runId, meta.paramCount, meta.slices);
    this.grads = [new Float32Array(meta.paramCount), new Float32Array(meta.paramCount)];
    const h = meta.hyperparams;
    // The layout a model of these hyperparameters has here: a job with another fingerprint is refused.
    const model = createAutoencoder({ layerSizes: h.layerSizes, outputActivation: h.outputActivation, seed: 0 });
    this.layout = layoutOf(model);
    this.fingerprint = this.layout.fingerprint;
    model.dispose();
    this.deriveOff = h.algorithm === 'local';
  }

  /** An array to compute a gradient into: not `busy`, the one a submission in flight still reads. */
  gradOut(busy?: Float32Array): Float32Array {
    return busy === this.grads[0] ? this.grads[1] : this.grads[0];
  }

  /** Parameters derived for `version`, to compute with before its step opens; undefined when there are none. */
  async takeDerived(version: number): Promise<{ params: Float32Array; hash: string } | undefined> {
    await this.deriving;
    const derived = this.derived;
    if (derived?.version !== version) {
      this.derived = undefined;
      return undefined;
    }
    return derived;
  }

  /** The step opened with the derived parameters' hash: they are its parameters now. */
  adoptDerived(): void {
    if (this.derived) this.params = { version: this.derived.version, params: this.derived.params };
    this.derived = undefined;
  }

  /** A derived version did not match the coordinator's: stop deriving for this run. */
  stopDeriving(): void {
    this.derived = undefined;
    this.adamAt = undefined;
    this.deriveOff = true;
  }

  /**
   * Should this job's result ask for the optimizer's state? When the block is the whole step, this worker holds no
   * copy at this step, it computed the step before whole too (workers taking turns, before standby settles, would
   * each ask every other step and lose the copy at once), and it has not asked in the last 4 steps.
   */
  asksForState(step: number, wholeStep: boolean): boolean {
    if (this.deriveOff || !wholeStep || this.adamAt === step) return false;
    if (this.lastWhole !== step - 1 || step - this.askedAt < 4) return false;
    this.askedAt = step;
    return true;
  }

  /**
   * Will this job's gradient give this worker parameters `step + 1`? The job is the whole step, and the copy of the
   * optimizer and the parameters are at `step`. Its result says so (`derives`): the coordinator then opens the next
   * step without writing them.
   */
  derivesFrom(step: number, wholeStep: boolean): boolean {
    return wholeStep && this.holdsCopyAt(step);
  }

  /** Derivation is on and both the optimizer's copy and the parameters are at `version`. */
  private holdsCopyAt(version: number): boolean {
    return !this.deriveOff && this.adamAt === version && this.params?.version === version;
  }

  /** Loads the coordinator's Adam state written with parameters `version` (the step's opening names it). */
  async loadState(version: number, state: NonNullable<StepOpening['state']>): Promise<void> {
    if (this.deriveOff) return;
    const adam = await this.optimizerCopy();
    this.adamAt = undefined;
    if (!(await this.data.readState(version, state.token, adam))) return;
    adam.setState({ iterations: state.iterations, firstMoment: adam.firstMoment, secondMoment: adam.secondMoment });
    this.adamAt = version;
  }

  /**
   * This worker's block was step `version` whole, finite and accepted: applies Adam to parameters `version` in place,
   * which become the derived parameters `version + 1`. Any other outcome ends the copy (`finite` false, or the copy
   * was not at `version`).
   */
  async derive(version: number, grad: Float32Array, finite: boolean): Promise<void> {
    this.lastWhole = finite ? version : undefined;
    const params = this.params;
    if (!finite || !this.holdsCopyAt(version) || !params) {
      this.adamAt = undefined;
      return;
    }
    const adam = await this.optimizerCopy();
    adam.step(params.params, grad);
    this.params = undefined;
    this.derived = { version: version + 1, params: params.params, hash: paramsHash(params.params) };
    this.adamAt = version + 1;
  }

  /**
   * `derive` on the next turn of the event loop, after the callers' promises have settled (the job has ended and
   * BullMQ has asked for the next one); `takeDerived` waits for it. A derivation that throws ends derivation.
   */
  deriveSoon(version: number, grad: Float32Array, finite: () => boolean): void {
    this.deriving = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.derive(version, grad, finite()))
      .catch(() => this.stopDeriving());
  }

  /** The coordinator's `fused` optimizer: the run's Adam (`runAdam`), native when built here. */
  private optimizerCopy(): Promise<FlatAdam> {
    this.adam ??= loadNativeMath().then((native) =>
      runAdam(this.layout, this.meta.hyperparams.learningRate, native.adamUpdate),
    );
    return this.adam;
  }

  /** Runs a local run's inner steps (one replica at a time, like the engine it computes with). */
  replicaRunner(): Promise<ReplicaRunner> {
    this.replica ??= loadNativeMath().then(
      (native) => new ReplicaRunner(this.engine, this.layout, this.meta.hyperparams, native.adamUpdate),
    );
    return this.replica;
  }

  /** Where a replica's inner state is read to; the runner copies it in, so one pair serves every job. */
  innerMoments(): InnerMoments {
    this.moments ??= {
      firstMoment: new Float32Array(this.meta.paramCount),
      secondMoment: new Float32Array(this.meta.paramCount),
    };
    return this.moments;
  }

  static async open(
    redis: RedisClient,
    runId: string,
    session: string,
    engines: EngineFactory,
  ): Promise<RunCache | undefined> {
    const meta = await RunData.readMeta(redis, runId);
    if (!meta) return undefined;
    const h = meta.hyperparams;
    const { engine } = await engines({ layerSizes: h.layerSizes, outputActivation: h.outputActivation });
    return new RunCache(meta, session, redis, engine);
  }

  /** Loads the training set into the engine once per run; returns the bytes fetched (0 when already there). */
  async loadTrainingSet(): Promise<number> {
    if (this.trainLoaded) return 0;
    const bytes = await this.data.readTrain(this.meta.trainCount * this.meta.sampleSize);
    this.engine.setTrainingSet(bytes, this.meta.sampleSize);
    this.trainLoaded = true;
    return bytes.byteLength;
  }

  /** The epoch's sample order, fetched once per epoch. */
  async epochOrder(epoch: number): Promise<Uint32Array> {
    if (this.order?.epoch === epoch) return this.order.order;
    const order = await this.data.readOrder(epoch);
    this.order = { epoch, order };
    return order;
  }

  /**
   * Starts fetching parameters `version` (slices as they are announced: `ready`), or undefined when this cache holds
   * them already. `useParams` finishes it.
   */
  fetchParams(version: number): ParamsFetch | undefined {
    if (this.params?.version === version) return undefined;
    // Into the previous version's array: no job uses it any more (one job at a time). A fetch given up on (its step
    // did not open) may still be writing into its array: the next one gets a fresh array.
    const reuse = this.params?.params;
    this.params = undefined;
    return this.data.fetchParams(version, this.session, reuse);
  }

  /**
   * Parameters `version`: from memory, or what `fetch` has not fetched yet. Returns them with the bytes fetched (0 on
   * a cache hit), or undefined when Redis no longer has that version (the step moved on).
   */
  async useParams(
    version: number,
    fetch = this.fetchParams(version),
  ): Promise<{ params: Float32Array; fetched: number } | undefined> {
    if (!fetch) return this.params && { params: this.params.params, fetched: 0 };
    const read = await fetch.done();
    if (!read) return undefined;
    this.params = { version, params: read.params };
    return { params: read.params, fetched: read.bytes };
  }

  dispose(): void {
    this.engine.dispose();
  }
}
