import { randomBytes } from 'node:crypto';
import { DEFAULT_LAYER_SIZES, MNIST_PIXELS, OUTPUT_ACTIVATIONS, WIRE_ENCODINGS } from '@gradq/model';
import { z } from 'zod';
import { OPTIMIZER_IMPLS } from './optimizer';
import type { OptionSpec } from './options';

/** `sync`: data-parallel Adam; `local`: DiLoCo-style rounds of local steps (see {@link hyperparamsShape}). */
export const ALGORITHMS = ['sync', 'local'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];
export const INNER_STATES = ['keep', 'reset'] as const;

const int = (min: number) => z.coerce.number().int(`must be an integer`).min(min, `must be at least ${min}`);

/**
 * Training hyperparameters: everything that decides the numbers a run produces. Unknown keys are rejected; the
 * whole object is saved in every checkpoint and a resumed run must use the same one.
 */
export const hyperparamsShape = {
  /** Passes over the training set. Default 10. */
  epochs: int(1).default(10),
  /** Samples per optimizer step (global batch). Default 128. */
  batchSize: int(1).default(128),
  /** Shards each batch is split into, one job each; independent of the number of workers. Default 4. */
  shardsPerStep: int(1).default(4),
  /** Output layer activation. Default relu (the seed network). */
  outputActivation: z.enum(OUTPUT_ACTIVATIONS).default('relu'),
  /** Units per layer, input first. Default 784,392,196,392,784. */
  layerSizes: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',').map((s) => Number(s.trim())) : v),
      z.array(z.number().int('sizes must be integers').min(1, 'sizes must be positive')).min(2),
    )
    .default([...DEFAULT_LAYER_SIZES]),
  /** Adam learning rate. Default 1e-3. */
  learningRate: z.coerce.number().positive('must be positive').finite().default(1e-3),
  /** Seeds initial weights and every epoch's shuffle. Default 1. */
  seed: int(0).default(1),
  /** Train on the first N samples only (0 = all 60,000). Default 0. */
  limit: int(0).default(0),
  /**
   * How gradients and parameters travel between coordinator and workers: f32 (exact), f16 or bf16 (half the bytes,
   * rounded). It changes the numbers, so it is a hyperparameter; the baseline applies the same rounding. Default f32.
   */
  gradEncoding: z.enum(WIRE_ENCODINGS).default('f32'),
  /**
   * `sync`: one Adam step per batch on the mean gradient of all workers (data parallel). `local`: DiLoCo rounds
   * (`local.ts`): R replicas each take H inner Adam steps from the round's parameters, and an outer Nesterov step
   * applies their averaged change; the model crosses the wire once per round instead of once per step. Default sync.
   */
  algorithm: z.enum(ALGORITHMS).default('sync'),
  /** `local` only: replicas per round (R), a run setting like the leaves, never the number of workers. Default 4. */
  replicas: int(1).max(4096, 'must be at most 4096').default(4),
  /** `local` only: inner Adam steps (H) each replica takes per round, one batch each. Default 8. */
  innerSteps: int(1).max(1_000_000, 'must be at most 1000000').default(8),
  /** `local` only: the outer Nesterov SGD's learning rate (DiLoCo's 0.7). Default 0.7. */
  outerLr: z.coerce.number().positive('must be positive').finite().default(0.7),
  /** `local` only: the outer Nesterov momentum (DiLoCo's 0.9), in [0, 1). Default 0.9. */
  outerMomentum: z.coerce.number().min(0, 'must be at least 0').lt(1, 'must be below 1').default(0.9),
  /**
   * `local` only: `keep` carries each replica's inner Adam moments from round to round (in Redis between jobs);
   * `reset` starts every round's inner steps from fresh moments. Default keep.
   */
  innerState: z.enum(INNER_STATES).default('keep'),
};

/** Rules across hyperparameters; add to any schema that spreads {@link hyperparamsShape}. */
export function checkHyperparams(
  h: { shardsPerStep: number; batchSize: number; layerSizes: number[] },
  ctx: z.RefinementCtx,
): void {
  if (h.shardsPerStep > h.batchSize) {
    ctx.addIssue({
      code: 'custom',
      path: ['shardsPerStep'],
      message: `must not exceed the batch size (${h.batchSize})`,
    });
  }
  if (h.layerSizes[0] !== MNIST_PIXELS || h.layerSizes[h.layerSizes.length - 1] !== MNIST_PIXELS) {
    ctx.addIssue({
      code: 'custom',
      path: ['layerSizes'],
      message: `must start and end with ${MNIST_PIXELS} (MNIST pixels)`,
    });
  }
}

export const hyperparamsSchema = z.strictObject(hyperparamsShape).superRefine(checkHyperparams);
export type Hyperparams = z.infer<typeof hyperparamsSchema>;

/** The hyperparameters out of a larger config object. */
export function pickHyperparams(config: Hyperparams): Hyperparams {
  const { epochs, batchSize, shardsPerStep, outputActivation, layerSizes, learningRate, seed, limit, gradEncoding } =
    config;
  const { algorithm, replicas, innerSteps, outerLr, outerMomentum, innerState } = config;
  return {
    epochs,
    batchSize,
    shardsPerStep,
    outputActivation,
    layerSizes,
    learningRate,
    seed,
    limit,
    gradEncoding,
    algorithm,
    replicas,
    innerSteps,
    outerLr,
    outerMomentum,
    innerState,
  };
}

export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const runIdSchema = z
  .string()
  .regex(
    RUN_ID_PATTERN,
    'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `run-${stamp}-${randomBytes(2).toString('hex')}`;
}

export const HYPERPARAM_OPTIONS: readonly OptionSpec[] = [
  { key: 'epochs', flag: 'epochs', env: 'EPOCHS', doc: 'passes over the training set (default 10)' },
  { key: 'batchSize', flag: 'batch-size', env: 'BATCH_SIZE', doc: 'samples per optimizer step (default 128)' },
  {
    key: 'shardsPerStep',
    flag: 'shards-per-step',
    env: 'SHARDS_PER_STEP',
    doc: 'leaves per step: the batch is split into this many, whatever the workers (default 4)',
  },
  {
    key: 'outputActivation',
    flag: 'output-activation',
    env: 'OUTPUT_ACTIVATION',
    doc: 'relu | sigmoid | linear (default relu)',
  },
  { key: 'layerSizes', flag: 'layers', env: 'LAYERS', doc: 'units per layer (default 784,392,196,392,784)' },
  { key: 'learningRate', flag: 'learning-rate', env: 'LEARNING_RATE', doc: 'Adam learning rate (default 0.001)' },
  { key: 'seed', flag: 'seed', env: 'SEED', doc: 'initial weights and shuffles (default 1)' },
  { key: 'limit', flag: 'limit', env: 'LIMIT', doc: 'train on the first N samples, 0 = all (default 0)' },
  {
    key: 'gradEncoding',
    flag: 'grad-encoding',
    env: 'GRAD_ENCODING',
    doc: 'gradients and parameters on the wire: f32 | f16 | bf16 (default f32)',
  },
  {
    key: 'algorithm',
    flag: 'algorithm',
    env: 'ALGORITHM',
    doc: 'sync (Adam on every batch) | local (DiLoCo: inner steps per replica, outer Nesterov per round) (default sync)',
  },
  { key: 'replicas', flag: 'replicas', env: 'REPLICAS', doc: 'local: replicas per round, R (default 4)' },
  {
    key: 'innerSteps',
    flag: 'inner-steps',
    env: 'INNER_STEPS',
    doc: 'local: inner Adam steps per replica per round, H (default 8)',
  },
  { key: 'outerLr', flag: 'outer-lr', env: 'OUTER_LR', doc: 'local: outer Nesterov learning rate (default 0.7)' },
  {
    key: 'outerMomentum',
    flag: 'outer-momentum',
    env: 'OUTER_MOMENTUM',
    doc: 'local: outer Nesterov momentum, in [0, 1) (default 0.9)',
  },
  {
    key: 'innerState',
    flag: 'inner-state',
    env: 'INNER_STATE',
    doc: "local: keep | reset each replica's inner Adam moments between rounds (default keep)",
  },
];

export const DATA_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'MNIST_DIR',
    doc: 'MNIST .gz files; downloaded there when absent (default data/mnist)',
  },
  { key: 'summaryPath', flag: 'summary', env: 'SUMMARY_PATH', doc: 'also write the summary JSON to this file' },
  { key: 'runId', flag: 'run-id', env: 'RUN_ID', doc: 'names the run (default run-<time>-<random>)' },
];

/** How the numbers are computed, not which numbers: results are bit-identical either way. */
export const ENGINE_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'optimizer',
    flag: 'optimizer',
    env: 'OPTIMIZER',
    doc: "fused (fast; tf.train.adam's parameters, moments under 1e-38 zeroed) | tfjs (tf.train.adam itself) (default fused)",
  },
];

export const engineOptionsShape = {
  /** Default `fused`: tf.train.adam's arithmetic on flat arrays, tested bit-identical to `tfjs`. */
  optimizer: z.enum(OPTIMIZER_IMPLS).default('fused'),
};

export const dataOptionsShape = {
  dataDir: z.string().min(1).default('data/mnist'),
  summaryPath: z.string().min(1).optional(),
  runId: runIdSchema.optional(),
};
