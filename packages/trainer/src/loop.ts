import {
  AdamStep,
  type BoundModel,
  bindModel,
  createAutoencoder,
  evaluateMse,
  MNIST_PIXELS,
  type MnistSplit,
  type ShardGradient,
  scalePixels,
  weightedAverage,
} from '@gradq/model';
import type { Hyperparams } from './config';
import { type ShardSpan, shardSpans, stepsPerEpoch } from './plan';
import { epochRng, shuffledOrder } from './rng';

/** Where a run stands: enough, with the parameters and Adam state, to continue it bit-identically. */
export interface TrainingPosition {
  /** Optimizer steps applied so far; also the version of the current parameters. */
  step: number;
  epoch: number;
  /** Next step within `epoch`. */
  stepInEpoch: number;
  /** Training samples consumed so far. */
  samples: number;
  /** Index 0: the initial parameters; index e: after epoch e. */
  testMse: number[];
}

/** One step's work: the shards of a batch, as spans of the epoch's order. */
export interface StepWork {
  readonly step: number;
  readonly epoch: number;
  readonly stepInEpoch: number;
  /** This epoch's sample order (indices into the training set). */
  readonly order: Uint32Array;
  readonly shards: readonly ShardSpan[];
}

/** Computes a step's shard gradients on the current parameters; the result is in shard order. */
export interface GradientSource {
  gradients(work: StepWork): Promise<ShardGradient[]>;
}

export interface StepReport {
  readonly step: number;
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number;
  /** Sample-weighted mean of the shard losses. */
  readonly loss: number;
  readonly samples: number;
  /** Whole step, wall time. */
  readonly seconds: number;
  /** Of which averaging the shard gradients, and the optimizer update. */
  readonly averageSeconds: number;
  readonly optimizerSeconds: number;
}

export interface EpochReport {
  readonly epoch: number;
  readonly testMse: number;
  readonly samplesPerSecond: number;
}

export interface TrainHooks {
  /** After each applied step (parameters already updated). */
  onStep?(report: StepReport): void | Promise<void>;
  /** After each epoch's evaluation. */
  onEpoch?(report: EpochReport): void | Promise<void>;
  /** Stops between steps. */
  signal?: AbortSignal;
}

/** The model, its optimizer and where training stands. */
export interface Trainee {
  readonly bound: BoundModel;
  readonly adam: AdamStep;
  readonly position: TrainingPosition;
}

export function createTrainee(h: Hyperparams): Trainee {
  const bound = bindModel(
    createAutoencoder({ layerSizes: h.layerSizes, outputActivation: h.outputActivation, seed: h.seed }),
  );
  const adam = new AdamStep(bound, { learningRate: h.learningRate });
  return { bound, adam, position: { step: 0, epoch: 0, stepInEpoch: 0, samples: 0, testMse: [] } };
}

/** The first `limit` training samples (all when 0). */
export function trainingSet(train: MnistSplit, limit: number): MnistSplit {
  if (limit === 0 || limit >= train.count) return train;
  return {
    count: limit,
    pixels: train.pixels.subarray(0, limit * MNIST_PIXELS),
    labels: train.labels.subarray(0, limit),
  };
}

export interface TrainResult {
  /** Seconds spent in steps, evaluation excluded. */
  readonly trainSeconds: number;
  readonly samplesTrained: number;
}

/**
 * Synchronous data-parallel SGD with Adam, the same for the baseline and the distributed trainer:
 * each epoch, a seeded shuffle; each step, K shard gradients (from `source`), their sample-weighted average in
 * shard order, and one Adam step; each epoch end, test MSE. Continues from `trainee.position`.
 */
export async function train(
  h: Hyperparams,
  data: { train: MnistSplit; test: MnistSplit },
  trainee: Trainee,
  source: GradientSource,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const { bound, adam, position } = trainee;
  const testInputs = scalePixels(data.test.pixels);
  const evaluate = () => evaluateMse(bound, testInputs, data.test.count);
  if (position.testMse.length === 0) position.testMse.push(evaluate());

  const n = data.train.count;
  const perEpoch = stepsPerEpoch(n, h.batchSize);
  let trainSeconds = 0;
  let samplesTrained = 0;
  while (position.epoch < h.epochs) {
    const order = shuffledOrder(n, epochRng(h.seed, position.epoch));
    let epochSeconds = 0;
    let epochSamples = 0;
    while (position.stepInEpoch < perEpoch) {
      hooks.signal?.throwIfAborted();
      const started = performance.now();
      const shards = shardSpans(n, h.batchSize, h.shardsPerStep, position.stepInEpoch);
      const grads = await source.gradients({
        step: position.step,
        epoch: position.epoch,
        stepInEpoch: position.stepInEpoch,
        order,
        shards,
      });
      const averageStart = performance.now();
      const averaged = weightedAverage(grads);
      const optimizerStart = performance.now();
      adam.apply(averaged);
      const optimizerEnd = performance.now();

      const samples = grads.reduce((sum, g) => sum + g.count, 0);
      const loss = grads.reduce((sum, g) => sum + g.loss * g.count, 0) / samples;
      const seconds = (optimizerEnd - started) / 1000;
      const report: StepReport = {
        step: position.step,
        epoch: position.epoch,
        stepInEpoch: position.stepInEpoch,
        stepsPerEpoch: perEpoch,
        loss,
        samples,
        seconds,
        averageSeconds: (optimizerStart - averageStart) / 1000,
        optimizerSeconds: (optimizerEnd - optimizerStart) / 1000,
      };
      position.step += 1;
      position.stepInEpoch += 1;
      position.samples += samples;
      epochSeconds += seconds;
      epochSamples += samples;
      await hooks.onStep?.(report);
    }
    trainSeconds += epochSeconds;
    samplesTrained += epochSamples;
    const testMse = evaluate();
    position.testMse.push(testMse);
    position.epoch += 1;
    position.stepInEpoch = 0;
    await hooks.onEpoch?.({
      epoch: position.epoch,
      testMse,
      samplesPerSecond: epochSamples / Math.max(epochSeconds, 1e-9),
    });
  }
  return { trainSeconds, samplesTrained };
}
