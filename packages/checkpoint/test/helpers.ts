import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '@gradq/backend';
import { evaluateMse, type Mnist, scalePixels, shardGradient } from '@gradq/model';
import { startS3rver } from '@gradq/testing';
import { createTrainee, epochRng, type Hyperparams, hyperparamsSchema, type Trainee } from '@gradq/trainer';
import type { CheckpointContent } from '../src/content';
import { LocalStore, type ObjectStore, S3Store } from '../src/index';

/** Small enough that a save takes milliseconds; the model's size does not matter to these tests. */
export const SMALL: Hyperparams = hyperparamsSchema.parse({
  layerSizes: [784, 32, 784],
  batchSize: 8,
  shardsPerStep: 2,
});

export async function tfReady(): Promise<void> {
  await selectBackend({ request: 'wasm', log: () => {} });
}

export const STORE_KINDS = ['local', 's3'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface StoreFixture {
  readonly store: ObjectStore;
  /** Environment that makes `pnpm ckpt` use the same store. */
  readonly env: Record<string, string>;
  /** Present for S3: the server, to kill and restart. */
  readonly s3?: Awaited<ReturnType<typeof startS3rver>>;
  close(): Promise<void>;
}

export async function openStore(kind: StoreKind, options: { pageSize?: number } = {}): Promise<StoreFixture> {
  if (kind === 'local') {
    const dir = await mkdtemp(join(tmpdir(), 'gradq-ckpt-'));
    return {
      store: new LocalStore(dir),
      env: { CHECKPOINT_DIR: dir },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const s3 = await startS3rver();
  const store = new S3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3.credentials,
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
  });
  return {
    store,
    env: s3.env,
    s3,
    close: async () => {
      await store.close();
      await s3.stop();
    },
  };
}

/** Deterministic pseudo-images in [0, 1]. */
export function syntheticInputs(count: number, seed = 1): Float32Array {
  const out = new Float32Array(count * 784);
  let x = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x >>> 8) / 0x1000000;
  }
  return out;
}

/** A trainee advanced by `steps` Adam steps on synthetic data, so the Adam moments are non-trivial. */
export function trainedTrainee(steps: number, h: Hyperparams = SMALL, inputs = syntheticInputs(8)): Trainee {
  const trainee = createTrainee(h);
  advance(trainee, steps, inputs);
  return trainee;
}

export function advance(trainee: Trainee, steps: number, inputs = syntheticInputs(8)): void {
  for (let i = 0; i < steps; i++) {
    trainee.syncModel();
    const g = shardGradient(trainee.bound, inputs, inputs.length / 784);
    trainee.optimizer.step(trainee.params, g.grad);
    trainee.position.step += 1;
    trainee.position.stepInEpoch += 1;
    trainee.position.samples += g.count;
  }
}

export async function contentOf(
  runId: string,
  trainee: Trainee,
  h: Hyperparams = SMALL,
  extra: Partial<CheckpointContent> = {},
): Promise<CheckpointContent> {
  return {
    runId,
    step: trainee.position.step,
    epochEnd: false,
    hyperparams: h,
    params: trainee.params.slice(),
    layoutFingerprint: trainee.bound.layout.fingerprint,
    adam: await trainee.optimizer.getState(),
    position: trainee.position,
    rngState: epochRng(h.seed, trainee.position.epoch).state,
    backend: 'wasm',
    metrics: { loss: 0.25 },
    ...extra,
  };
}

let counter = 0;
export function uniqueRunId(label: string): string {
  counter += 1;
  return `${label}-${process.pid}-${counter}`;
}

/**
 * A trainee after `steps` real Adam steps on the first 64 training digits, and its test MSE over all the test digits:
 * a checkpoint with weights worth comparing.
 */
export function trainedFew(h: Hyperparams, mnist: Mnist, steps = 5): { trainee: Trainee; testMse: number } {
  const trainee = createTrainee(h);
  const inputs = scalePixels(mnist.train.pixels.subarray(0, 64 * 784));
  for (let i = 0; i < steps; i++) {
    trainee.syncModel();
    trainee.optimizer.step(trainee.params, shardGradient(trainee.bound, inputs, 64).grad);
    trainee.position.step += 1;
  }
  trainee.syncModel();
  return { trainee, testMse: evaluateMse(trainee.bound, scalePixels(mnist.test.pixels), mnist.test.count) };
}
