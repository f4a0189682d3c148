import { type Hyperparams, hyperparamsSchema, type TrainingPosition } from '@gradq/trainer';
import { z } from 'zod';
import type { CheckpointMetrics } from '../content';
import { CheckpointVerificationError } from '../errors/index';
import { CHECKPOINT_FILES } from '../keys';

export const TRAINER_FORMAT = 'gradq-trainer/1';

// JSON has no NaN: a diverged loss is written as null and read back as NaN, not dropped.
const metric = z
  .number()
  .nullable()
  .optional()
  .transform((v) => (v === null ? Number.NaN : v));

const trainerJsonSchema = z.strictObject({
  format: z.literal(TRAINER_FORMAT),
  runId: z.string(),
  step: z.number().int().nonnegative(),
  epochEnd: z.boolean(),
  position: z.strictObject({
    step: z.number().int().nonnegative(),
    epoch: z.number().int().nonnegative(),
    stepInEpoch: z.number().int().nonnegative(),
    samples: z.number().int().nonnegative(),
    testMse: z.array(
      z
        .number()
        .nullable()
        .transform((v) => (v === null ? Number.NaN : v)),
    ),
    skippedSteps: z.number().int().nonnegative().default(0),
  }),
  rngState: z.array(z.number().int().min(0).max(0xffffffff)).length(4),
  hyperparams: z.unknown(),
  layoutFingerprint: z.string(),
  paramCount: z.number().int().nonnegative(),
  backend: z.string(),
  metrics: z.strictObject({ loss: metric, testMse: metric }),
  createdAt: z.string(),
});

/** trainer.json: where training stands and how it was configured. */
export interface TrainerJson {
  readonly format: typeof TRAINER_FORMAT;
  readonly runId: string;
  readonly step: number;
  readonly epochEnd: boolean;
  readonly position: TrainingPosition;
  readonly rngState: readonly number[];
  readonly hyperparams: Hyperparams;
  readonly layoutFingerprint: string;
  readonly paramCount: number;
  readonly backend: string;
  readonly metrics: CheckpointMetrics;
  readonly createdAt: string;
}

export function encodeTrainerJson(t: TrainerJson): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(t, null, 2)}\n`);
}

export function decodeTrainerJson(bytes: Uint8Array): TrainerJson {
  const fail = (why: string) => new CheckpointVerificationError(`trainer.json: ${why}`, CHECKPOINT_FILES.trainer);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw fail((err as Error).message);
  }
  const parsed = trainerJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw fail(`${issue?.path.join('.')}: ${issue?.message}`);
  }
  const hyperparams = hyperparamsSchema.safeParse(parsed.data.hyperparams);
  if (!hyperparams.success) {
    const issue = hyperparams.error.issues[0];
    throw fail(`hyperparams.${issue?.path.join('.')}: ${issue?.message}`);
  }
  const { metrics, ...rest } = parsed.data;
  return {
    ...rest,
    format: TRAINER_FORMAT,
    hyperparams: hyperparams.data,
    metrics: {
      ...(metrics.loss !== undefined ? { loss: metrics.loss } : {}),
      ...(metrics.testMse !== undefined ? { testMse: metrics.testMse } : {}),
    },
  };
}
