import { type BoundModel, bindModel, createAutoencoder, decodeVector, setParams } from '@gradq/model';
import { type RedisClient, type RunKeys, type RunMeta, runKeys, runMetaSchema } from '@gradq/protocol';

/** A run this worker has served: its model and the bytes it has fetched. A cache, never state: all can be refetched. */
export class RunCache {
  readonly keys: RunKeys;
  readonly bound: BoundModel;
  private train: Uint8Array | undefined;
  private order: { epoch: number; order: Uint32Array } | undefined;
  /** Version of the parameters currently in `bound`, -1 for none. */
  private version = -1;

  private constructor(
    readonly meta: RunMeta,
    private readonly redis: RedisClient,
  ) {
    this.keys = runKeys(meta.runId);
    const h = meta.hyperparams;
    this.bound = bindModel(
      createAutoencoder({ layerSizes: h.layerSizes, outputActivation: h.outputActivation, seed: h.seed }),
    );
  }

  static async open(redis: RedisClient, runId: string): Promise<RunCache | undefined> {
    const raw = await redis.get(runKeys(runId).meta);
    if (raw === null) return undefined;
    return new RunCache(runMetaSchema.parse(JSON.parse(raw)), redis);
  }

  /** The training set, fetched once per run. */
  async trainingSet(): Promise<{ pixels: Uint8Array; fetchedBytes: number }> {
    if (this.train) return { pixels: this.train, fetchedBytes: 0 };
    const bytes = await this.redis.getBuffer(this.keys.train);
    const expected = this.meta.trainCount * this.meta.sampleSize;
    if (!bytes || bytes.byteLength !== expected) {
      throw new Error(
        `run ${this.meta.runId}: training data in Redis has ${bytes?.byteLength ?? 0} bytes, expected ${expected}`,
      );
    }
    this.train = bytes;
    return { pixels: bytes, fetchedBytes: bytes.byteLength };
  }

  /** The epoch's sample order, fetched once per epoch. */
  async epochOrder(epoch: number): Promise<Uint32Array> {
    if (this.order?.epoch === epoch) return this.order.order;
    const bytes = await this.redis.getBuffer(this.keys.order(epoch));
    if (!bytes) throw new Error(`run ${this.meta.runId}: no sample order for epoch ${epoch} in Redis`);
    const order = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    this.order = { epoch, order };
    return order;
  }

  /**
   * Loads parameters `version` into the model unless they are already there.
   * Returns the bytes fetched (0 on a cache hit), or undefined when Redis no longer has that version (the step moved on).
   */
  async useParams(version: number): Promise<number | undefined> {
    if (this.version === version) return 0;
    const bytes = await this.redis.getBuffer(this.keys.params(version));
    if (!bytes) return undefined;
    setParams(
      this.bound,
      decodeVector(bytes, this.meta.hyperparams.gradEncoding, this.bound.layout.size, `parameters v${version}`),
    );
    this.version = version;
    return bytes.byteLength;
  }

  dispose(): void {
    this.bound.model.dispose();
  }
}
