import type { Engine, EngineFactory } from '@gradq/engine';
import { createAutoencoder, layoutOf, type ParamLayout } from '@gradq/model';
import { type InnerMoments, type ParamsFetch, type RedisClient, RunData, type RunMeta } from '@gradq/protocol';
import { loadNativeMath, ReplicaRunner } from '@gradq/trainer';

/** A run this worker has served: its engine and the bytes it has fetched. A cache, never state: all can be refetched. */
export class RunCache {
  readonly data: RunData;
  readonly fingerprint: string;
  private order: { epoch: number; order: Uint32Array } | undefined;
  private params: { version: number; params: Float32Array } | undefined;
  private trainLoaded = false;
  /**
   * The worker computes one job at a time and has sent a job's gradient before it takes the next, so one array
   * serves every job: 3 MB per job less for the garbage collector (the parameters reuse theirs too).
   */
  readonly gradOut: Float32Array;
  private readonly layout: ParamLayout;
  /** `--algorithm local`: the inner steps' runner and the array an inner state is read into, made on first use. */
  private replica: Promise<ReplicaRunner> | undefined;
  private moments: InnerMoments | undefined;

  private constructor(
    readonly meta: RunMeta,
    /** The coordinator session this cache serves: a run id reused by a new run has another. */
    readonly session: string,
    redis: RedisClient,
    readonly engine: Engine,
  ) {
    this.data = new RunData(redis, meta.runId, meta.paramCount, meta.slices);
    this.gradOut = new Float32Array(meta.paramCount);
    const h = meta.hyperparams;
    // The layout a model of these hyperparameters has here: a job with another fingerprint is refused.
    const model = createAutoencoder({ layerSizes: h.layerSizes, outputActivation: h.outputActivation, seed: 0 });
    this.layout = layoutOf(model);
    this.fingerprint = this.layout.fingerprint;
    model.dispose();
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
