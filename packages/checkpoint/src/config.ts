import { parseBooleanWord } from '@gradq/trainer';
import { z } from 'zod';
import { CheckpointConfigError } from './errors/index';

// The same yes/no words as the services' boolean options.
const flag = z.string().transform((v, ctx) => {
  const yesNo = parseBooleanWord(v);
  if (yesNo === undefined) ctx.addIssue({ code: 'custom', message: 'must be true or false' });
  return yesNo ?? false;
});
const int = (min: number, max: number) =>
  z.coerce.number().int('must be an integer').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
const blankAsUnset = (v: unknown) => (v === '' ? undefined : v);

/**
 * The checkpoint variables, as the coordinator and `pnpm ckpt` read them. Credentials are deliberately absent: the
 * AWS SDK's default chain reads `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (or a profile, or an instance role)
 * itself, so they never pass through gradq's config objects or logs.
 */
const envSchema = z.object({
  /** Bucket for checkpoints; when unset, checkpoints go to `CHECKPOINT_DIR`. */
  S3_BUCKET: z.preprocess(blankAsUnset, z.string().min(3).max(63).optional()),
  /** Endpoint URL for S3-compatible servers (MinIO, s3rver). Default: AWS's endpoint for the region. */
  S3_ENDPOINT: z.preprocess(blankAsUnset, z.url({ message: 'must be a URL such as http://127.0.0.1:9000' }).optional()),
  /** Default us-east-1 (MinIO ignores it but the SDK needs one). */
  S3_REGION: z.preprocess(blankAsUnset, z.string().min(1).default('us-east-1')),
  /** Key prefix inside the bucket, e.g. `team-a/gradq`. Default: the bucket's root. */
  S3_PREFIX: z.preprocess(
    blankAsUnset,
    z
      .string()
      .transform((p) => p.replace(/^\/+|\/+$/g, ''))
      .refine((p) => p === '' || p.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\\')), {
        message: 'must be /-separated names without empty, "." or ".." parts',
      })
      .default(''),
  ),
  /** Address buckets as `endpoint/bucket` rather than `bucket.endpoint`. Default: true when S3_ENDPOINT is set (MinIO needs it). */
  S3_FORCE_PATH_STYLE: z.preprocess(blankAsUnset, flag.optional()),
  /** Local checkpoint directory when no bucket is configured. Default `checkpoints`. */
  CHECKPOINT_DIR: z.preprocess(blankAsUnset, z.string().min(1).default('checkpoints')),
  /** Most recent checkpoints kept per run. Default 3. */
  CHECKPOINT_KEEP: z.preprocess(blankAsUnset, int(1, 1_000_000).default(3)),
  /** Also keep every epoch-end checkpoint. Default false. */
  CHECKPOINT_KEEP_EPOCHS: z.preprocess(blankAsUnset, flag.default(false)),
  /** Upload attempts per checkpoint before it is given up (a newer one is tried next). Default 8. */
  CHECKPOINT_RETRY_ATTEMPTS: z.preprocess(blankAsUnset, int(1, 1000).default(8)),
  /** First retry delay; doubles each attempt. Default 500 ms. */
  CHECKPOINT_RETRY_BASE_MS: z.preprocess(blankAsUnset, int(0, 3_600_000).default(500)),
  /** Longest retry delay. Default 30000 ms. */
  CHECKPOINT_RETRY_MAX_MS: z.preprocess(blankAsUnset, int(0, 3_600_000).default(30_000)),
});

export type StoreConfig =
  | {
      readonly kind: 's3';
      readonly bucket: string;
      /** Undefined: AWS's endpoint for the region. */
      readonly endpoint?: string;
      readonly region: string;
      /** Without leading or trailing `/`; empty for the bucket's root. */
      readonly prefix: string;
      readonly forcePathStyle: boolean;
    }
  | { readonly kind: 'local'; readonly dir: string };

export interface RetentionConfig {
  /** Most recent complete checkpoints kept. */
  readonly keep: number;
  /** Also keep every epoch-end checkpoint. */
  readonly keepEpochs: boolean;
}

export interface RetryConfig {
  /** Attempts per checkpoint, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface CheckpointConfig {
  readonly store: StoreConfig;
  readonly retention: RetentionConfig;
  readonly retry: RetryConfig;
}

/** Parses the checkpoint variables once at start-up; throws {@link CheckpointConfigError} naming each bad variable. */
export function loadCheckpointConfig(env: Record<string, string | undefined> = process.env): CheckpointConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new CheckpointConfigError(lines.join('\n'));
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.CHECKPOINT_RETRY_MAX_MS < e.CHECKPOINT_RETRY_BASE_MS) {
    problems.push(
      `CHECKPOINT_RETRY_MAX_MS: must not be below CHECKPOINT_RETRY_BASE_MS (${e.CHECKPOINT_RETRY_BASE_MS})`,
    );
  }
  if (!e.S3_BUCKET && (e.S3_ENDPOINT || e.S3_PREFIX)) {
    const set = e.S3_ENDPOINT ? 'S3_ENDPOINT' : 'S3_PREFIX';
    problems.push(`S3_BUCKET: must be set when ${set} is (otherwise checkpoints would silently stay local)`);
  }
  if (problems.length) throw new CheckpointConfigError(problems.join('\n'));
  const store: StoreConfig = e.S3_BUCKET
    ? {
        kind: 's3',
        bucket: e.S3_BUCKET,
        ...(e.S3_ENDPOINT ? { endpoint: e.S3_ENDPOINT } : {}),
        region: e.S3_REGION,
        prefix: e.S3_PREFIX,
        forcePathStyle: e.S3_FORCE_PATH_STYLE ?? Boolean(e.S3_ENDPOINT),
      }
    : { kind: 'local', dir: e.CHECKPOINT_DIR };
  return {
    store,
    retention: { keep: e.CHECKPOINT_KEEP, keepEpochs: e.CHECKPOINT_KEEP_EPOCHS },
    retry: {
      attempts: e.CHECKPOINT_RETRY_ATTEMPTS,
      baseDelayMs: e.CHECKPOINT_RETRY_BASE_MS,
      maxDelayMs: e.CHECKPOINT_RETRY_MAX_MS,
    },
  };
}
