import { createHash, randomBytes } from 'node:crypto';
import { type AdamState, bytesPerValue, decodeInto, encodeVector, type WireEncoding } from '@gradq/model';
import { paramsHash } from '@gradq/native-kernels';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { type Fence, type FencedCommand, fencedWrite } from './fence';
import type { BlockResult, SubmitStatus } from './jobs';
import { type RunKeys, runKeys } from './keys';
import { type RunMeta, runMetaSchema } from './meta';
import { corked, type RedisClient, whenSent } from './redis';
import { sliceRanges } from './slices';
import { DATA_TTL_SECONDS, submitBlock } from './submit';

/**
 * Where a replica's inner Adam state is (`--algorithm local`, `--inner-state keep`): `fresh` (zero moments, no steps),
 * or the moments written under `token` for round `step`, after `iterations` inner steps.
 */
export const innerPointerSchema = z.union([
  z.strictObject({ fresh: z.literal(true) }),
  z.strictObject({
    step: z.number().int().nonnegative(),
    token: z.string().regex(/^[0-9a-f]{16}$/),
    iterations: z.number().int().nonnegative(),
  }),
]);
export type InnerPointer = z.infer<typeof innerPointerSchema>;

/** A replica's inner Adam moments (float32, the parameter layout each). */
export interface InnerMoments {
  readonly firstMoment: Float32Array;
  readonly secondMoment: Float32Array;
}

/** A block gradient written under `token` and not submitted yet (`RunData.stageGradient`). */
export interface StagedGradient {
  readonly step: number;
  readonly token: string;
  /** Settles when Redis holds every slice (or a write failed). */
  readonly written: Promise<unknown>;
  /** Inner moments (`--algorithm local`) were written with it. */
  readonly inner: boolean;
}

/** Where the run's step stands, as workers see it. */
export type StepState = { step: number; open: boolean; session: string } | undefined;

/**
 * What a step's opening says besides "open": its parameters' hash ({@link paramsHash}), and where the coordinator wrote its
 * Adam state at those parameters when a worker asked (`wantsState`). Both absent when the step was found open
 * without its announcement (the stream was trimmed) or published by a coordinator that gives none.
 */
export interface StepOpening {
  readonly hash?: string;
  readonly state?: { readonly token: string; readonly iterations: number };
  /** Its parameters are written only when a worker asks (a `wanted` record): the step's worker derives them. */
  readonly deferred?: true;
}

/**
 * Every read and write of a run's data plane, for both sides: the coordinator seeds the run, publishes epoch orders
 * and parameters, reads block gradients and cleans up; workers read the run, wait for a step, and submit gradients.
 * Bulk bytes travel in slices, all sent at once (ioredis writes them back to back on one connection, and on a
 * Cluster each goes to the node that owns its slice's tag), so a transfer costs about one round trip plus the bytes.
 */
export class RunData {
  readonly keys: RunKeys;
  private readonly ranges: { start: number; end: number }[];
  /** The owner's lease, once the coordinator holds it: step and done-set writes check it (`fence.ts`). */
  private fence: Fence | undefined;
  /** The Adam state written with the last parameters that carried one: dropped with that step. */
  private stateWritten: { version: number; token: string } | undefined;

  constructor(
    private readonly redis: RedisClient,
    readonly runId: string,
    /** float32 values in the parameter vector. */
    readonly paramCount: number,
    readonly slices: number,
  ) {
    this.keys = runKeys(runId, slices);
    this.ranges = sliceRanges(paramCount, slices);
  }

  // ---- coordinator ---------------------------------------------------------------------------------------------

  /** From now on the writes that steer the run are made only while `fence` (this coordinator's lease) owns it. */
  fenceWith(fence: Fence): void {
    this.fence = fence;
  }

  /** Writes the run description and, unless Redis already holds the same bytes, the training samples. */
  async seed(
    meta: Omit<RunMeta, 'trainSha256'>,
    train: Uint8Array,
    session: string,
  ): Promise<{ uploadedBytes: number }> {
    const trainSha256 = createHash('sha256').update(train).digest('hex');
    const existing = await this.redis.get(this.keys.meta);
    const same = existing !== null && (JSON.parse(existing) as RunMeta).trainSha256 === trainSha256;
    const sameLength = same && (await this.redis.strlen(this.keys.train)) === train.byteLength;
    let uploadedBytes = 0;
    if (!sameLength) {
      await this.redis.set(this.keys.train, toBuffer(train), 'EX', DATA_TTL_SECONDS * 7);
      uploadedBytes = train.byteLength;
    }
    await this.redis.set(this.keys.meta, JSON.stringify({ ...meta, trainSha256 }), 'EX', DATA_TTL_SECONDS * 7);
    await this.redis.set(this.keys.session, session, 'EX', DATA_TTL_SECONDS * 7);
    return { uploadedBytes };
  }

  /** Is the run still in Redis? False after a Redis restart that lost its data. */
  async present(): Promise<boolean> {
    return (await this.redis.exists(this.keys.meta, this.keys.train, this.keys.session)) === 3;
  }

  /** Writes an epoch's order; orders two epochs old are dropped (the previous one may still be in use). */
  async publishOrder(epoch: number, order: Uint32Array): Promise<number> {
    const bytes = Buffer.from(order.buffer, order.byteOffset, order.byteLength);
    await this.redis.set(this.keys.order(epoch), bytes, 'EX', DATA_TTL_SECONDS);
    if (epoch > 1) await this.redis.del(this.keys.order(epoch - 2));
    return bytes.byteLength;
  }

  /**
   * Publishes parameters `version` (always float32: only gradients are ever rounded), opens step `version` for
   * gradients and wakes the workers waiting for it. Returns the bytes written. The step opens first: its opening
   * names the parameters' hash ({@link StepOpening}), so a worker that derived them itself submits at once, while
   * they are written for the others. Every slice is then sent at once, each quarter announced on the versions stream
   * as soon as Redis holds it (the last: all of them), so a waiting worker fetches those while the rest are still
   * being written ({@link ParamsFetch}). `state` (the optimizer's, at these parameters) is written beside them when
   * given, before the last announcement: a worker that asked for it derives the next parameters itself.
   *
   * `deferred`: the step opens and nothing more is written (the worker that will compute it derives its parameters);
   * a worker that needs them asks with a `wanted` record, and the coordinator writes them then ({@link writeParams}).
   */
  async publishParams(
    version: number,
    params: Float32Array,
    session: string,
    state?: AdamState,
    deferred = false,
  ): Promise<number> {
    const opening: string[] = [...versionEntry(version, session)];
    opening.push('hash', paramsHash(params));
    const token = state && !deferred ? randomBytes(8).toString('hex') : undefined;
    if (state && token) {
      opening.push('state', token, 'iterations', String(state.iterations));
      this.stateWritten = { version, token };
    }
    if (deferred) opening.push('deferred', '1');
    // One round trip: open the step, and announce it to the workers waiting.
    const opened = this.write([
      ['SET', [this.keys.step], [String(version), 'EX', DATA_TTL_SECONDS * 7]],
      ['XADD', [this.keys.versions], opening],
      ['EXPIRE', [this.keys.versions], [DATA_TTL_SECONDS * 7]],
    ]);
    if (deferred) {
      await opened;
      return 0;
    }
    opened.catch(() => {}); // awaited below; handled meanwhile
    const written = this.writeParams(version, params, session, state && token ? { state, token } : undefined);
    written.catch(() => {}); // awaited below; handled meanwhile
    await opened;
    return written;
  }

  /**
   * Writes parameters `version` of an open step slice by slice, each quarter announced as soon as Redis holds it
   * (the last, after any optimizer state: all of them). Returns the bytes written. `params` must not change until
   * it resolves (its bytes go out without a copy).
   */
  async writeParams(
    version: number,
    params: Float32Array,
    session: string,
    withState?: { state: AdamState; token: string },
  ): Promise<number> {
    const bytes = encodeVector(params, 'f32');
    const set = (i: number) => {
      const { start, end } = this.ranges[i] as { start: number; end: number };
      return this.redis.set(
        this.keys.params(session, version, i),
        bytes.subarray(start * 4, end * 4),
        'EX',
        DATA_TTL_SECONDS,
      );
    };
    const entry = versionEntry(version, session);
    const announce = (ready: number) => {
      const added = this.redis.xadd(this.keys.versions, ...entry, 'ready', String(ready));
      added.catch(() => {}); // awaited below; handled meanwhile
      return added;
    };
    const points = announcementPoints(this.slices);
    const sets: Promise<unknown>[] = [];
    const stateWrites = () =>
      withState ? this.momentWrites((i) => this.keys.moments(version, withState.token, i), withState.state) : [];
    const announced: Promise<unknown>[] = [];
    if (!('nodes' in this.redis)) {
      // One Redis runs a connection's commands in order: each announcement goes right behind its slices.
      for (const ready of points) {
        while (sets.length < ready) sets.push(set(sets.length));
        if (ready === this.slices) sets.push(...stateWrites());
        announced.push(announce(ready));
      }
    } else {
      // A Cluster's slices live on several nodes and answer in any order: all go at once, and each quarter is
      // announced (on the run's node) once all of its slices have answered.
      while (sets.length < this.slices) sets.push(set(sets.length));
      sets.push(...stateWrites());
      const all = Promise.all(sets);
      all.catch(() => {}); // awaited below; handled meanwhile
      for (const ready of points) {
        await (ready === this.slices ? all : Promise.all(sets.slice(0, ready)));
        announced.push(announce(ready));
      }
    }
    await Promise.all([...sets, ...announced]);
    return bytes.byteLength;
  }

  /** Closes `step`: from now on its late gradients are stale, and workers of the next step keep waiting. */
  async closeStep(step: number): Promise<void> {
    await this.write([['SET', [this.keys.step], [`${step}/closed`, 'EX', DATA_TTL_SECONDS * 7]]]);
  }

  /**
   * A submitted block gradient, decoded (into `into` when given) slice by slice as each arrives; `missing` when a
   * slice is gone (Redis lost it), or a length problem.
   */
  async readGradient(
    step: number,
    token: string,
    encoding: WireEncoding,
    into?: Float32Array,
  ): Promise<{ grad: Float32Array; bytes: number } | { missing: true } | { problem: string }> {
    const grad = into?.length === this.paramCount ? into : new Float32Array(this.paramCount);
    const width = bytesPerValue(encoding);
    const parts = await corked(this.redis, () =>
      Promise.all(
        this.ranges.map(async ({ start, end }, i) => {
          const part = await this.redis.getBuffer(this.keys.grad(step, token, i));
          if (!part) return { missing: true } as const;
          if (part.byteLength !== (end - start) * width)
            return { problem: `slice ${i} has ${part.byteLength} bytes, expected ${(end - start) * width}` };
          decodeInto(part, encoding, grad.subarray(start, end));
          return part.byteLength;
        }),
      ),
    );
    let bytes = 0;
    for (const part of parts) {
      if (typeof part !== 'number') return part;
      bytes += part;
    }
    return { grad, bytes };
  }

  /** Un-accepts leaves [first, end) whose gradient was rejected, so that a recomputation can be accepted. */
  async forgetBlock(step: number, first: number, end: number, token: string): Promise<void> {
    const leaves = Array.from({ length: end - first }, (_, i) => String(first + i));
    await this.write([['HDEL', [this.keys.done(step)], leaves]]);
    await this.deleteGradient(step, token);
    // A local round's inner state went with the rejected change (nothing when there was none).
    await this.dropInnerStates([{ step, token }]);
  }

  /** Drops everything step `step` used: its parameters (as `session` published them), done set and accepted gradients. */
  async dropStep(step: number, session: string, tokens: readonly string[]): Promise<void> {
    const state = this.stateWritten?.version === step ? this.stateWritten.token : undefined;
    if (state) this.stateWritten = undefined;
    // One DEL per slice: a slice's parameters and gradients share its hash tag, so one slot even on a Cluster.
    await corked(this.redis, () =>
      Promise.all([
        this.write([['DEL', [this.keys.done(step)], []]]),
        ...this.ranges.map((_, i) =>
          this.redis.del(
            this.keys.params(session, step, i),
            ...tokens.map((token) => this.keys.grad(step, token, i)),
            ...(state ? [this.keys.moments(step, state, i)] : []),
          ),
        ),
      ]),
    );
  }

  /**
   * Points each replica's next job at its inner state (`--algorithm local`), fenced like the step's other writes.
   * Called with the accepted results of a round before the next round opens, so a job reads only accepted states.
   */
  async setInnerPointers(pointers: ReadonlyMap<number, InnerPointer>): Promise<void> {
    if (pointers.size === 0) return;
    const fields = [...pointers].flatMap(([leaf, pointer]) => [String(leaf), JSON.stringify(pointer)]);
    await this.write([
      ['HSET', [this.keys.innerPointers], fields],
      ['EXPIRE', [this.keys.innerPointers], [DATA_TTL_SECONDS * 7]],
    ]);
  }

  /** Writes a replica's inner moments under a fresh token for round `step` (a resumed run); returns the token. */
  async writeInnerState(step: number, moments: InnerMoments): Promise<string> {
    const token = randomBytes(8).toString('hex');
    await Promise.all(this.momentWrites((i) => this.keys.inner(step, token, i), moments));
    return token;
  }

  /** Deletes inner states no pointer names any more (a round's replicas moved on). */
  async dropInnerStates(states: readonly { step: number; token: string }[]): Promise<void> {
    await Promise.all(
      states.flatMap(({ step, token }) => this.ranges.map((_, i) => this.redis.del(this.keys.inner(step, token, i)))),
    );
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
    await this.redis.del(k.step, k.results, k.versions, k.innerPointers);
    await this.deleteMatching(`gradq:{${this.runId}}:done:*`);
    await this.deleteMatching(`gradq:{${this.runId}}:order:*`);
    await this.deleteMatching(`gradq:{${this.runId}#*}:*`);
  }

  /**
   * Throws RunFencedError when another coordinator owns the run, or released it since this one last held it (a
   * coordinator thawed after its successor finished); takes back a lease Redis lost. Nothing without a fence.
   */
  async checkOwner(): Promise<void> {
    if (this.fence) await this.write([]);
  }

  /** Removes the whole run from Redis. */
  async remove(): Promise<void> {
    await this.deleteMatching(`gradq:{${this.runId}}:*`);
    await this.deleteMatching(`gradq:{${this.runId}#*}:*`);
  }

  // ---- workers -------------------------------------------------------------------------------------------------

  /** The run's description, or undefined when Redis does not hold the run (finished, expired, never started). */
  static async readMeta(redis: RedisClient, runId: string): Promise<RunMeta | undefined> {
    const raw = await redis.get(runKeys(runId).meta);
    return raw === null ? undefined : runMetaSchema.parse(JSON.parse(raw));
  }

  /** The session of the coordinator that owns the run now, or undefined when Redis does not hold the run. */
  static async readSession(redis: RedisClient, runId: string): Promise<string | undefined> {
    return (await redis.get(runKeys(runId).session)) ?? undefined;
  }

  /** The training set as stored; throws when its length is not what the run says. */
  async readTrain(expectedBytes: number): Promise<Buffer> {
    const bytes = await this.redis.getBuffer(this.keys.train);
    if (!bytes || bytes.byteLength !== expectedBytes)
      throw new Error(
        `run ${this.runId}: training data in Redis has ${bytes?.byteLength ?? 0} bytes, expected ${expectedBytes}`,
      );
    return bytes;
  }

  async readOrder(epoch: number): Promise<Uint32Array> {
    const bytes = await this.redis.getBuffer(this.keys.order(epoch));
    if (!bytes) throw new Error(`run ${this.runId}: no sample order for epoch ${epoch} in Redis`);
    return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  /**
   * Parameters `version` as coordinator `session` published them, or undefined when Redis no longer has them (the
   * step moved on). Written into `into` when given (its old values are gone either way).
   */
  async readParams(
    version: number,
    session: string,
    into?: Float32Array,
  ): Promise<{ params: Float32Array; bytes: number } | undefined> {
    return this.fetchParams(version, session, into).done();
  }

  /** Starts no transfer yet: {@link ParamsFetch.ready} asks for announced slices, `done` for the rest. */
  fetchParams(version: number, session: string, into?: Float32Array): ParamsFetch {
    const params = into?.length === this.paramCount ? into : new Float32Array(this.paramCount);
    return new ParamsFetch(
      (i) => this.readParamSlice(version, session, i, params),
      this.slices,
      params,
      (issue) => corked(this.redis, issue),
    );
  }

  /** One slice of parameters `version` into its place in `params`; false when Redis does not hold it. */
  private async readParamSlice(version: number, session: string, i: number, params: Float32Array): Promise<boolean> {
    const { start, end } = this.ranges[i] as { start: number; end: number };
    const part = await this.redis.getBuffer(this.keys.params(session, version, i));
    if (!part) return false;
    if (part.byteLength !== (end - start) * 4)
      throw new Error(`parameters v${version} slice ${i}: ${part.byteLength} bytes, expected ${(end - start) * 4}`);
    decodeInto(part, 'f32', params.subarray(start, end));
    return true;
  }

  /** Replica `leaf`'s inner-state pointer (`--algorithm local`), or undefined when Redis has none. */
  async readInnerPointer(leaf: number): Promise<InnerPointer | undefined> {
    const raw = await this.redis.hget(this.keys.innerPointers, String(leaf));
    return raw === null ? undefined : innerPointerSchema.parse(JSON.parse(raw));
  }

  /** Reads inner moments written under `token` for round `step` into `into`; false when a slice is missing. */
  async readInnerState(step: number, token: string, into: InnerMoments): Promise<boolean> {
    return this.readMoments((i) => this.keys.inner(step, token, i), `inner state ${step}/${token}`, into);
  }

  /**
   * Reads the coordinator's Adam moments at parameters `version`, written under `token` ({@link StepOpening}), into
   * `into`; false when a slice is missing (the step moved on).
   */
  async readState(version: number, token: string, into: InnerMoments): Promise<boolean> {
    return this.readMoments((i) => this.keys.moments(version, token, i), `Adam state ${version}/${token}`, into);
  }

  private async readMoments(key: (slice: number) => string, what: string, into: InnerMoments): Promise<boolean> {
    const parts = await corked(this.redis, () =>
      Promise.all(
        this.ranges.map(async ({ start, end }, i) => {
          const part = await this.redis.getBuffer(key(i));
          if (!part) return false;
          const n = end - start;
          if (part.byteLength !== 8 * n)
            throw new Error(`${what} slice ${i}: ${part.byteLength} bytes, expected ${8 * n}`);
          decodeInto(part.subarray(0, 4 * n), 'f32', into.firstMoment.subarray(start, end));
          decodeInto(part.subarray(4 * n), 'f32', into.secondMoment.subarray(start, end));
          return true;
        }),
      ),
    );
    return parts.every(Boolean);
  }

  /** The step key and session, in one round trip (both in the run's slot). */
  async stepState(): Promise<StepState> {
    const [raw, session] = await this.redis.mget(this.keys.step, this.keys.session);
    if (raw == null || session == null) return undefined;
    const [step, closed] = raw.split('/');
    return { step: Number(step), open: closed === undefined, session };
  }

  /**
   * Waits until step `step` of `session` opens and, with `needParams` (the default), until all its parameters are in
   * Redis (a step opens before its parameters are written). What its opening says when it has; 'stale' when the run
   * has moved past it or belongs to another session; 'timeout' after `timeoutMs`. Blocks on the versions stream
   * (XREAD), on `blocking`, a connection of its own: a worker that took step v+1's job early wakes when v+1 is
   * published, and hears of its slices while they are written (`onReady(n)`: slices [0, n) are in Redis).
   */
  async waitForStep(
    blocking: RedisClient,
    step: number,
    session: string,
    timeoutMs: number,
    onReady?: (slices: number) => void,
    needParams = true,
  ): Promise<StepOpening | 'stale' | 'timeout'> {
    const deadline = Date.now() + timeoutMs;
    const ours = (fields: string[]) =>
      announced(fields, 'step') === String(step) && announced(fields, 'session') === session;
    // A step's entries (its opening, then a quarter of its slices at a time) are among the newest few.
    let entries = (await this.redis.xrevrange(this.keys.versions, '+', '-', 'COUNT', 8)).reverse();
    let last = entries.at(-1);
    let opening: StepOpening | undefined;
    let all = false;
    /** The step key says open, but none of its entries was seen (trimmed, or added since the read above). */
    let openByKey = false;
    let asked = false;
    for (;;) {
      for (const [, fields] of entries) {
        if (!ours(fields)) continue;
        const ready = announced(fields, 'ready');
        if (ready === undefined) opening = openingOf(fields);
        else {
          onReady?.(Number(ready));
          if (Number(ready) >= this.slices) all = true;
        }
      }
      if (opening && (all || !needParams)) return opening;
      if (opening?.deferred && !asked) {
        // Opened for a worker that derives its parameters: ask the coordinator to write them.
        asked = true;
        await this.pushRecord(JSON.stringify({ kind: 'wanted', step } satisfies BlockResult));
      }
      if (!opening) {
        const state = await this.stepState();
        if (!state || state.session !== session) return 'stale';
        if (state.step > step || (state.step === step && !state.open)) return 'stale';
        openByKey = state.step === step;
      }
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      // `last` was read before the step: an entry added since has a later id, so XREAD returns at once.
      const lastId = last?.[0] ?? '0-0';
      const reply = (await blocking.xread('BLOCK', Math.min(left, 1000), 'STREAMS', this.keys.versions, lastId)) as
        | [string, [string, string[]][]][]
        | null;
      entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) {
        // Open by its key with no entry of it in the stream: its announcements are gone; its parameters are in.
        if (openByKey) return opening ?? {};
        // Nothing within the block: the stream may have been reset (a restarted coordinator); look at its newest.
        const [newest] = await this.redis.xrevrange(this.keys.versions, '+', '-', 'COUNT', 1);
        if (newest && newest[0] !== last?.[0]) entries = [newest];
      }
      last = entries.at(-1) ?? last;
    }
  }

  /**
   * The result record the submit script stored when it accepted the block starting at leaf `first` of `step` (the
   * same JSON it pushed to the results list), or undefined when none is accepted.
   */
  async acceptedRecord(step: number, first: number): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.done(step), String(first))) ?? undefined;
  }

  /** Has any of leaves [first, end) of `step` an accepted gradient already? */
  async anyLeafDone(step: number, first: number, end: number): Promise<boolean> {
    const leaves = Array.from({ length: end - first }, (_, i) => String(first + i));
    const done = await this.redis.hmget(this.keys.done(step), ...leaves);
    return done.some((v) => v !== null);
  }

  /**
   * Writes a block's gradient bytes in slices under a fresh token, then asks the submit script to accept them. A
   * submission that is not accepted deletes its bytes again. Returns the status and the token.
   */
  async submitGradient(
    block: { step: number; session: string; first: number; end: number },
    bytes: Buffer,
    encoding: WireEncoding,
    result: (token: string) => string,
    inner?: InnerMoments,
  ): Promise<{ status: SubmitStatus; token: string }> {
    return this.sendGradient(block, this.stageGradient(block.step, bytes, encoding, inner), result).done;
  }

  /**
   * Starts writing a block gradient's slices (and with `--algorithm local` the replica's inner moments) under a fresh
   * token, before it is submitted: a worker that derived its parameters computes before its step opens, and its bytes
   * travel while the coordinator still applies the step before. They count for nothing until {@link sendGradient}
   * submits them; {@link discardGradient} deletes them when they will not be (their TTL would, later). `bytes` must
   * stay unchanged until the submission's `done`.
   */
  stageGradient(step: number, bytes: Buffer, encoding: WireEncoding, inner?: InnerMoments): StagedGradient {
    const token = randomBytes(8).toString('hex');
    const width = bytesPerValue(encoding);
    if (bytes.byteLength !== this.paramCount * width)
      throw new RangeError(`gradient has ${bytes.byteLength} bytes, expected ${this.paramCount * width}`);
    const written = Promise.all([
      ...this.ranges.map(({ start, end }, i) =>
        this.redis.set(
          this.keys.grad(step, token, i),
          bytes.subarray(start * width, end * width),
          'EX',
          DATA_TTL_SECONDS,
        ),
      ),
      ...(inner ? this.momentWrites((i) => this.keys.inner(step, token, i), inner) : []),
    ]);
    written.catch(() => {}); // awaited by the submission or the discard; handled meanwhile
    return { step, token, written, inner: inner !== undefined };
  }

  /** Deletes a staged gradient that will not be submitted (its step went stale, or it was computed on other parameters). */
  async discardGradient(staged: StagedGradient): Promise<void> {
    await staged.written.catch(() => {});
    await this.deleteGradient(staged.step, staged.token);
    if (staged.inner) await this.dropInnerStates([{ step: staged.step, token: staged.token }]);
  }

  /**
   * Submits a staged block gradient: the submit script accepts the block's leaves once (or finds them done:
   * `duplicate`; or the step gone: `stale`) and pushes `result(token)` for the coordinator. `done` resolves with the
   * script's word (bytes not accepted are deleted); `sent` once every byte has left this process, undefined where
   * that cannot be told (a Cluster's slices go to several nodes).
   */
  sendGradient(
    block: { step: number; session: string; first: number; end: number },
    staged: StagedGradient,
    result: (token: string) => string,
  ): { sent: Promise<void> | undefined; done: Promise<{ status: SubmitStatus; token: string }> } {
    const { token, written } = staged;
    if (staged.step !== block.step) throw new RangeError(`gradient staged for step ${staged.step}, not ${block.step}`);
    const cluster = 'nodes' in this.redis;
    const done = (async () => {
      // One Redis runs a connection's commands in order: the submit script follows the slices without waiting for
      // their replies (a round trip less on every job). A Cluster's slices answer from other nodes: wait for them.
      if (cluster) await written;
      const status = await submitBlock(this.redis, this.keys, block, result(token));
      await written;
      if (status !== 'accepted') await this.discardGradient(staged);
      return { status, token };
    })();
    return { sent: cluster ? undefined : whenSent(this.redis as Redis), done };
  }

  /** Counts a copy that found its leaves already accepted before computing (the submit script counts the others). */
  async countDuplicate(): Promise<void> {
    await this.redis.hincrby(this.keys.stats, 'duplicates', 1);
  }

  /** Counts a job dropped as stale before computing (its step or session gone); the submit script counts the others. */
  async countStale(): Promise<void> {
    await this.redis.hincrby(this.keys.stats, 'stale', 1);
  }

  /** Tells the coordinator that this worker cannot compute a block (a `rejected` record). */
  async pushRecord(json: string): Promise<void> {
    await this.redis.rpush(this.keys.results, json);
    await this.redis.expire(this.keys.results, DATA_TTL_SECONDS);
  }

  // ---- shared --------------------------------------------------------------------------------------------------

  /** Commands on the run's control keys, atomically; fenced by the owner's lease once there is one. */
  private async write(commands: readonly FencedCommand[]): Promise<void> {
    if (this.fence) return fencedWrite(this.redis, this.runId, this.fence, commands);
    const multi = this.redis.multi();
    for (const [name, keys, args] of commands) multi.call(name, ...keys, ...args);
    await multi.exec();
  }

  /** One SET per slice (named by `key`): the slice's first-moment values, then its second-moment values. */
  private momentWrites(key: (slice: number) => string, moments: InnerMoments): Promise<unknown>[] {
    return this.ranges.map(({ start, end }, i) => {
      const bytes = Buffer.allocUnsafe(8 * (end - start));
      bytes.set(encodeVector(moments.firstMoment.subarray(start, end), 'f32'), 0);
      bytes.set(encodeVector(moments.secondMoment.subarray(start, end), 'f32'), 4 * (end - start));
      return this.redis.set(key(i), bytes, 'EX', DATA_TTL_SECONDS);
    });
  }

  private async deleteGradient(step: number, token: string): Promise<void> {
    await corked(this.redis, () =>
      Promise.all(this.ranges.map((_, i) => this.redis.del(this.keys.grad(step, token, i)))),
    );
  }

  /** Deletes by pattern on every master (a run's slices live on several nodes of a Cluster). */
  private async deleteMatching(pattern: string): Promise<void> {
    const nodes = 'nodes' in this.redis ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        // One key per DEL: on a Cluster node the keys found may sit in different slots.
        if (found.length) await Promise.all(found.map((key) => node.del(key)));
      } while (cursor !== '0');
    }
  }
}

/**
 * Parameters of one version, fetched slice by slice: `ready(n)` asks for announced slices [0, n) not asked for yet
 * (several GETs in flight at once), `done()` for the rest and waits for all. Each slice is decoded into place as it
 * arrives.
 */
export class ParamsFetch {
  private asked = 0;
  private readonly parts: Promise<boolean>[] = [];

  constructor(
    /** Fetches slice i into its place in `params`; false when Redis does not hold it. */
    private readonly readSlice: (i: number) => Promise<boolean>,
    private readonly slices: number,
    readonly params: Float32Array,
    /** Issues the reads of several slices at once (`corked`: one write). */
    private readonly batch: (issue: () => void) => void = (issue) => issue(),
  ) {}

  readonly ready = (count: number): void => {
    if (this.asked >= Math.min(count, this.slices)) return;
    this.batch(() => {
      for (; this.asked < Math.min(count, this.slices); this.asked++) {
        const part = this.readSlice(this.asked);
        part.catch(() => {}); // awaited by done(); a fetch given up on must not fail unhandled
        this.parts.push(part);
      }
    });
  };

  /** The parameters, or undefined when a slice is gone (the step moved on). */
  async done(): Promise<{ params: Float32Array; bytes: number } | undefined> {
    this.ready(this.slices);
    const present = await Promise.all(this.parts);
    return present.every(Boolean) ? { params: this.params, bytes: this.params.byteLength } : undefined;
  }
}

/** After how many slices a publish announces progress: each quarter, the last being all of them. */
export function announcementPoints(slices: number): number[] {
  const points = new Set<number>();
  for (let q = 1; q <= 4; q++) points.add(Math.ceil((q * slices) / 4));
  return [...points];
}

/** What an opening entry says ({@link StepOpening}); fields that do not parse are left out. */
function openingOf(fields: string[]): StepOpening {
  const hash = announced(fields, 'hash');
  const token = announced(fields, 'state');
  const iterations = Number(announced(fields, 'iterations') ?? Number.NaN);
  return {
    ...(hash !== undefined && /^[0-9a-f]{16}$/.test(hash) ? { hash } : {}),
    ...(token !== undefined && Number.isInteger(iterations) ? { state: { token, iterations } } : {}),
    ...(announced(fields, 'deferred') === '1' ? { deferred: true as const } : {}),
  };
}

/** The head of a step's entry on the versions stream (XADD arguments, the stream capped near 64 entries). */
function versionEntry(version: number, session: string) {
  return ['MAXLEN', '~', '64', '*', 'step', String(version), 'session', session] as const;
}

/** A field of a stream entry's flat [name, value, ...] list. */
function announced(fields: string[], name: string): string | undefined {
  const i = fields.indexOf(name);
  return i >= 0 && i % 2 === 0 ? fields[i + 1] : undefined;
}

/** A fresh coordinator session id. */
export function newSession(): string {
  return randomBytes(6).toString('hex');
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
