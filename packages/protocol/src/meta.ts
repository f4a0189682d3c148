import { hyperparamsSchema } from '@gradq/trainer';
import { z } from 'zod';

/** Written by the coordinator before the first job of a run; workers build their model from it. */
export const runMetaSchema = z.strictObject({
  protocol: z.number().int(),
  runId: z.string(),
  hyperparams: hyperparamsSchema,
  fingerprint: z.string(),
  /** float32 values in the parameter vector. */
  paramCount: z.number().int().positive(),
  /** Training samples stored under the `train` key. */
  trainCount: z.number().int().positive(),
  sampleSize: z.number().int().positive(),
  /** Parameters and gradients travel in this many slices (see slices.ts). */
  slices: z.number().int().min(1).max(1024),
  /** sha256 of the training bytes, so a restarted coordinator can tell whether Redis still holds them. */
  trainSha256: z.string(),
});
export type RunMeta = z.infer<typeof runMetaSchema>;
