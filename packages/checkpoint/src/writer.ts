import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, DEFAULT_RETRY } from './backoff';
import type { RetentionConfig, RetryConfig } from './config';
import { type CheckpointContent, snapshotContent } from './content';
import { type EncodedCheckpoint, encodeCheckpoint } from './files/index';
import { CHECKPOINT_FILES, checkpointFileKey, checkpointPrefix, latestKey } from './keys';
import { encodeLatest } from './latest';
import { listCheckpoints, readManifest } from './reader';
import { type RetentionCandidate, selectForDeletion } from './retention';
import type { ObjectStore } from './store/index';

export const DEFAULT_RETENTION: RetentionConfig = { keep: 3, keepEpochs: false };

export interface SavedEvent {
  readonly runId: string;
  readonly step: number;
  /** All files, manifest included. */
  readonly bytes: number;
  /** From encoding to `latest` moved, retries and backoff included. */
  readonly seconds: number;
  readonly attempts: number;
  readonly at: Date;
}

export interface FailureEvent {
  readonly runId: string;
  readonly step: number;
  readonly attempt: number;
  readonly error: Error;
  /** False when this checkpoint is given up (attempts exhausted, a newer one pending, or it could not be encoded). */
  readonly willRetry: boolean;
}

/** Callbacks for metrics; all optional, called synchronously, exceptions ignored. */
export interface CheckpointWriterHooks {
  onSaved?(event: SavedEvent): void;
  /** One call per failed attempt (and per failed encoding, with willRetry false). */
  onFailure?(event: FailureEvent): void;
  /** A pending checkpoint was replaced by a newer one before its upload started. */
  onSuperseded?(event: { runId: string; step: number; by: number }): void;
  /** A checkpoint's preview.png was rendered (before its upload: the live run page shows it even while S3 is down). */
  onPreview?(event: { runId: string; step: number; png: Uint8Array }): void;
  /** Retention deleted these steps. */
  onDeleted?(event: { runId: string; steps: readonly number[] }): void;
}

export interface CheckpointWriterOptions {
  readonly store: ObjectStore;
  /** Default: keep the last 3, epoch ends not kept specially. */
  readonly retention?: RetentionConfig;
  /** Default: 8 attempts, 500 ms doubling to at most 30 s. */
  readonly retry?: RetryConfig;
  /** Up to 16 MNIST test images (784 bytes each) rendered into preview.png. Default: no preview. */
  readonly previewDigits?: Uint8Array;
  /** One line per failure or notable event (never credentials). Default: stderr. */
  readonly log?: (line: string) => void;
  readonly hooks?: CheckpointWriterHooks;
}

export interface WriterStats {
  readonly saved: number;
  /** Failed attempts, retried ones included. */
  readonly failures: number;
  readonly superseded: number;
  readonly lastSavedStep?: number;
  readonly lastSuccessAt?: Date;
  readonly lastError?: Error;
}

export interface FlushResult {
  /** Newest step whose save completed, over the writer's lifetime. */
  readonly lastSavedStep?: number;
  /** Set when the newest checkpoint offered was given up. */
  readonly error?: Error;
}

/**
 * Saves checkpoints in the background so that training never waits for storage: `save` copies the content and
 * returns; one upload runs at a time; while it runs, only the newest offered checkpoint waits (older pending ones
 * are dropped, they would be stale on arrival). A failed upload is retried with exponential backoff, resuming
 * with the files not yet stored; the manifest goes up after every other file and `latest` after the manifest, so
 * `latest` never names a partial checkpoint. After each success, retention deletes old checkpoints.
 */
export class CheckpointWriter {
  private readonly store: ObjectStore;
  private readonly retention: RetentionConfig;
  private readonly retry: RetryConfig;
  private readonly log: (line: string) => void;
  private readonly hooks: CheckpointWriterHooks;
  private pending: CheckpointContent | undefined;
  private running: Promise<void> | undefined;
  private lastOffered: number | undefined;
  private lastOfferedError: Error | undefined;
  /** epochEnd of manifests already read, so retention reads each at most once. */
  private readonly epochEnds = new Map<string, boolean>();
  private s: { -readonly [K in keyof WriterStats]: WriterStats[K] } = { saved: 0, failures: 0, superseded: 0 };

  constructor(private readonly options: CheckpointWriterOptions) {
    this.store = options.store;
    this.retention = options.retention ?? DEFAULT_RETENTION;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.hooks = options.hooks ?? {};
  }

  /**
   * Queues a checkpoint and returns at once. Throws (synchronously) only when the content breaks its invariants.
   * The arrays are copied, so the caller may mutate its buffers right away.
   */
  save(content: CheckpointContent): void {
    const snapshot = snapshotContent(content);
    if (this.pending) {
      this.s.superseded++;
      this.call('onSuperseded', { runId: this.pending.runId, step: this.pending.step, by: snapshot.step });
    }
    this.pending = snapshot;
    this.lastOffered = snapshot.step;
    this.lastOfferedError = undefined;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Waits until nothing is pending or uploading (call at the end of training). Never rejects. */
  async flush(): Promise<FlushResult> {
    while (this.running) await this.running;
    return {
      ...(this.s.lastSavedStep !== undefined ? { lastSavedStep: this.s.lastSavedStep } : {}),
      ...(this.lastOfferedError ? { error: this.lastOfferedError } : {}),
    };
  }

  get stats(): WriterStats {
    return { ...this.s };
  }

  /** True while a checkpoint is uploading or waiting. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  private async drain(): Promise<void> {
    for (let c = this.pending; c; c = this.pending) {
      this.pending = undefined;
      await this.upload(c);
    }
  }

  private async upload(c: CheckpointContent): Promise<void> {
    const started = performance.now();
    const where = `checkpoint: run ${c.runId} step ${c.step}`;
    let encoded: EncodedCheckpoint;
    try {
      encoded = await encodeCheckpoint(
        c,
        this.options.previewDigits ? { previewDigits: this.options.previewDigits } : {},
      );
    } catch (err) {
      // Deterministic (bad content): retrying cannot help.
      this.fail(c, 1, err, false, `${where}: could not be encoded: ${describe(err)}`);
      return;
    }
    const preview = encoded.files.find((f) => f.name === CHECKPOINT_FILES.preview);
    if (preview) this.call('onPreview', { runId: c.runId, step: c.step, png: preview.bytes });
    const stored = new Set<string>();
    const putOnce = async (name: string, key: string, bytes: Uint8Array) => {
      if (stored.has(name)) return;
      await this.store.put(key, bytes);
      stored.add(name);
    };
    let attempt = 1;
    for (; ; attempt++) {
      try {
        for (const f of encoded.files) await putOnce(f.name, checkpointFileKey(c.runId, c.step, f.name), f.bytes);
        await putOnce(
          CHECKPOINT_FILES.manifest,
          checkpointFileKey(c.runId, c.step, CHECKPOINT_FILES.manifest),
          encoded.manifestBytes,
        );
        this.epochEnds.set(`${c.runId}/${c.step}`, c.epochEnd);
        await putOnce('latest', latestKey(c.runId), encodeLatest(c.step));
        break;
      } catch (err) {
        const newer = this.pending?.step;
        const exhausted = attempt >= this.retry.attempts;
        const delay = backoffDelay(this.retry, attempt);
        const next =
          newer !== undefined
            ? `giving up, newer step ${newer} is pending`
            : exhausted
              ? `giving up after ${attempt} attempts`
              : `retrying in ${delay} ms`;
        const willRetry = newer === undefined && !exhausted;
        this.fail(c, attempt, err, willRetry, `${where}: upload attempt ${attempt} failed: ${describe(err)}; ${next}`);
        if (!willRetry) return;
        await sleep(delay);
        if (this.pending) {
          this.log(`${where}: abandoned for newer step ${this.pending.step}`);
          return;
        }
      }
    }
    const at = new Date();
    this.s.saved++;
    this.s.lastSavedStep = c.step;
    this.s.lastSuccessAt = at;
    const seconds = (performance.now() - started) / 1000;
    this.call('onSaved', { runId: c.runId, step: c.step, bytes: encoded.bytes, seconds, attempts: attempt, at });
    await this.applyRetention(c.runId, c.step).catch((err) => {
      // Not retried here: the next successful save runs retention again over everything.
      this.log(`checkpoint: run ${c.runId}: retention after step ${c.step} failed: ${describe(err)}`);
    });
  }

  private fail(c: CheckpointContent, attempt: number, err: unknown, willRetry: boolean, line: string): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.s.failures++;
    this.s.lastError = error;
    if (!willRetry && c.step === this.lastOffered) this.lastOfferedError = error;
    this.log(line);
    this.call('onFailure', { runId: c.runId, step: c.step, attempt, error, willRetry });
  }

  private async applyRetention(runId: string, savedStep: number): Promise<void> {
    const candidates: RetentionCandidate[] = [];
    for (const { step, complete } of await listCheckpoints(this.store, runId)) {
      const epochEnd = complete ? await this.epochEndOf(runId, step) : false;
      // An unreadable manifest makes the checkpoint untrustworthy: treat it like an unfinished save.
      candidates.push({ step, epochEnd: epochEnd ?? false, complete: complete && epochEnd !== undefined });
    }
    const doomed = selectForDeletion(candidates, {
      keep: this.retention.keep,
      keepEpochs: this.retention.keepEpochs,
      protect: savedStep,
      inProgressFrom: savedStep,
    });
    for (const step of doomed) {
      const keys = (await this.store.list(checkpointPrefix(runId, step))).map((o) => o.key);
      const manifest = checkpointFileKey(runId, step, CHECKPOINT_FILES.manifest);
      // The manifest goes first, so that an interrupted deletion leaves an incomplete (untrusted) checkpoint,
      // never a "complete" one with files missing.
      await this.store.delete(keys.filter((k) => k === manifest));
      await this.store.delete(keys.filter((k) => k !== manifest));
      this.epochEnds.delete(`${runId}/${step}`);
    }
    if (doomed.length) this.call('onDeleted', { runId, steps: doomed });
  }

  private async epochEndOf(runId: string, step: number): Promise<boolean | undefined> {
    const cached = this.epochEnds.get(`${runId}/${step}`);
    if (cached !== undefined) return cached;
    try {
      const { epochEnd } = await readManifest(this.store, runId, step);
      this.epochEnds.set(`${runId}/${step}`, epochEnd);
      return epochEnd;
    } catch {
      return undefined;
    }
  }

  private call<K extends keyof CheckpointWriterHooks>(
    name: K,
    event: Parameters<NonNullable<CheckpointWriterHooks[K]>>[0],
  ): void {
    try {
      (this.hooks[name] as ((e: typeof event) => void) | undefined)?.(event);
    } catch {
      // A metrics callback must not break checkpointing.
    }
  }
}

/** The error's name and first line; SDK errors carry no credentials, and stack traces would flood the log. */
function describe(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  const first = (e.message || String(e)).split('\n')[0];
  const code = (e as NodeJS.ErrnoException).code;
  return `${e.name}${code && !first?.includes(code) ? ` ${code}` : ''}: ${first}`;
}
