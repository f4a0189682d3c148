import type { Readable } from 'node:stream';

/** One stored object as a listing reports it. */
export interface StoredObject {
  /** Relative to the store's root (never including `S3_PREFIX` or `CHECKPOINT_DIR`). */
  readonly key: string;
  readonly size: number;
}

/**
 * The few object operations checkpoints need, over S3 or a local directory. Keys are `/`-separated, relative to
 * the store's root, and checked by {@link assertSafeKey}. A `put` is atomic per object: a reader sees the old
 * object, or none, or the whole new one — never a prefix of it.
 */
export interface ObjectStore {
  /** Human-readable location for messages, e.g. `s3://bucket/prefix/` or `/abs/checkpoints` (no credentials). */
  readonly description: string;
  put(key: string, body: Uint8Array): Promise<void>;
  /** The whole object; throws {@link CheckpointNotFoundError} when it does not exist. */
  get(key: string): Promise<Uint8Array>;
  /** The object as a stream, for large downloads; throws {@link CheckpointNotFoundError} when it does not exist. */
  getStream(key: string): Promise<Readable>;
  /** Every object whose key starts with `prefix`, in key order (all pages). */
  list(prefix: string): Promise<StoredObject[]>;
  /** Deletes objects; keys that do not exist are ignored. */
  delete(keys: readonly string[]): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}
