import { createHash, randomBytes } from 'node:crypto';
import { encodeVector, type WireEncoding } from '@gradq/model';
import { DATA_TTL_SECONDS, type RedisClient, type RunKeys, type RunMeta, runKeys } from '@gradq/protocol';

/**
 * The coordinator's side of a run's data plane: what it writes (meta, training bytes, epoch orders, parameters,
 * the accepting step) and deletes (everything a step no longer needs), so that a long run does not grow Redis.
 */
export class RedisRun {
  readonly keys: RunKeys;
  /** This coordinator's session: written with the run, carried by every job, checked by the submit script. */
  readonly session = randomBytes(6).toString('hex');

  constructor(
    private readonly redis: RedisClient,
    readonly runId: string,
  ) {
    this.keys = runKeys(runId);
  }

  /** Writes the run description and, unless Redis already holds the same bytes, the training samples. */
  async seed(meta: Omit<RunMeta, 'trainSha256'>, train: Uint8Array): Promise<{ uploadedBytes: number }> {
    const trainSha256 = createHash('sha256').update(train).digest('hex');
    const existing = await this.redis.get(this.keys.meta);
    const same = existing !== null && (JSON.parse(existing) as RunMeta).trainSha256 === trainSha256;
    const sameLength = same && (await this.redis.strlen(this.keys.train)) === train.byteLength;
    let uploadedBytes = 0;
    if (!sameLength) {
      await this.redis.set(
        this.keys.train,
        Buffer.from(train.buffer, train.byteOffset, train.byteLength),
        'EX',
        DATA_TTL_SECONDS * 7,
      );
      uploadedBytes = train.byteLength;
    }
    await this.redis.set(this.keys.meta, JSON.stringify({ ...meta, trainSha256 }), 'EX', DATA_TTL_SECONDS * 7);
    await this.redis.set(this.keys.session, this.session, 'EX', DATA_TTL_SECONDS * 7);
    return { uploadedBytes };
  }

  /** Is the run still in Redis? False after a Redis restart that lost its data. */
  async present(): Promise<boolean> {
    return (await this.redis.exists(this.keys.meta, this.keys.train, this.keys.session)) === 3;
  }

  async publishOrder(epoch: number, order: Uint32Array): Promise<number> {
    const bytes = Buffer.from(order.buffer, order.byteOffset, order.byteLength);
    await this.redis.set(this.keys.order(epoch), bytes, 'EX', DATA_TTL_SECONDS);
    if (epoch > 0) await this.redis.del(this.keys.order(epoch - 1));
    return bytes.byteLength;
  }

  /** Makes parameters `version` available (in the run's wire encoding) and opens step `version` for gradients. */
  async publishParams(version: number, params: Float32Array, encoding: WireEncoding): Promise<number> {
    const bytes = encodeVector(params, encoding);
    await this.redis.set(this.keys.params(version), bytes, 'EX', DATA_TTL_SECONDS);
    await this.redis.set(this.keys.step, String(version), 'EX', DATA_TTL_SECONDS * 7);
    return bytes.byteLength;
  }

  /** Closes `step`: from now on its late gradients are stale. */
  async closeStep(step: number): Promise<void> {
    await this.redis.set(this.keys.step, String(step + 1), 'EX', DATA_TTL_SECONDS * 7);
  }

  /** The accepted gradients of `step`, in the order of `shards`; null where Redis no longer has one. */
  async readGradients(step: number, shards: readonly number[]): Promise<(Buffer | null)[]> {
    const pipeline = this.redis.pipeline();
    for (const shard of shards) pipeline.getBuffer(this.keys.grad(step, shard));
    const replies = (await pipeline.exec()) ?? [];
    return shards.map((_, i) => {
      const [err, value] = replies[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      return value instanceof Buffer ? value : null;
    });
  }

  /** Un-accepts a shard whose gradient was rejected, so that a recomputation can be accepted. */
  async forgetShard(step: number, shard: number): Promise<void> {
    await this.redis.hdel(this.keys.done(step), String(shard));
    await this.redis.del(this.keys.grad(step, shard));
  }

  /** Drops everything step `step` used. */
  async dropStep(step: number, shards: readonly number[]): Promise<void> {
    await this.redis.del(this.keys.params(step), this.keys.done(step), ...shards.map((s) => this.keys.grad(step, s)));
  }

  async stats(): Promise<{ duplicates: number; stale: number }> {
    const raw = await this.redis.hgetall(this.keys.stats);
    return { duplicates: Number(raw.duplicates ?? 0), stale: Number(raw.stale ?? 0) };
  }

  /**
   * Forgets every step in flight: parameters, gradients, done sets, results, the open step. A restarted coordinator
   * calls this first, because a dead coordinator's half-collected steps would otherwise look like fresh results.
   * (One coordinator per run: two at once is not supported.)
   */
  async resetSteps(): Promise<void> {
    const k = this.keys;
    await this.redis.del(k.step, k.results);
    for (const part of ['params', 'grad', 'done', 'order'])
      await this.deleteMatching(`gradq:{${this.runId}}:${part}:*`);
  }

  /** Removes the whole run from Redis. */
  async remove(): Promise<void> {
    await this.deleteMatching(`gradq:{${this.runId}}:*`);
  }

  /** A run's keys share one hash tag, so under Cluster they all live on the node that owns its slot. */
  private async deleteMatching(pattern: string): Promise<void> {
    const nodes = 'nodes' in this.redis ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (found.length) await node.del(...found);
      } while (cursor !== '0');
    }
  }
}
