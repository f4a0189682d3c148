import { firstNonFinite } from '@gradq/engine';
import {
  type BoundModel,
  bindModel,
  createAutoencoder,
  evaluateMseYielding,
  getParams,
  MNIST_PIXELS,
  type MnistSplit,
  scalePixels,
  setParams,
} from '@gradq/model';
import type { Hyperparams } from './config';
import { OuterNesterov } from './local/outer-nesterov';
import { createOptimizer, type NativeMath, type Optimizer, type OptimizerImpl } from './optimizer';
import { ConfigError } from './options';
import { type ShardSpan, shardSpans, stepShape, stepsPerEpoch } from './plan';
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
  /** Steps whose loss or averaged gradient was not finite: counted, but not applied. */
  skippedSteps: number;
}

/** One step's work: the K leaves of a batch (`--shards-per-step`), as spans of the epoch's order. */
export interface StepWork {
  readonly step: number;
  readonly epoch: number;
  readonly stepInEpoch: number;
  /** This epoch's sample order (indices into the training set). */
  readonly order: Uint32Array;
  readonly shards: readonly ShardSpan[];
  /** The step after this one, when there is one: a distributed source queues its jobs early. */
  readonly next?: StepWork;
}

/** A step's gradient: the root of its leaf tree, and each leaf's loss and sample count in leaf order. */
export interface StepGradient {
  /** The mean-loss gradient over the step's samples (@gradq/engine's tree over the leaves). */
  readonly grad: Float32Array;
  readonly losses: readonly number[];
  readonly counts: readonly number[];
}

/** Computes a step's gradient on the current parameters. */
export interface GradientSource {
  gradients(work: StepWork): Promise<StepGradient>;
}

export interface StepReport {
  readonly step: number;
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number;
  /** Sample-weighted mean of the leaf losses. */
  readonly loss: number;
  readonly samples: number;
  /** Whole step, wall time. */
  readonly seconds: number;
  /** Of which the optimizer update. */
  readonly optimizerSeconds: number;
  /** The loss or the averaged gradient was not finite: the optimizer did not apply the step (onSkip ran first). */
  readonly skipped: boolean;
}

export interface EpochReport {
  readonly epoch: number;
  readonly testMse: number;
  readonly samplesPerSecond: number;
}

export interface TrainHooks {
  /** After each step (parameters already updated, unless `skipped`). */
  onStep?(report: StepReport): void | Promise<void>;
  /** After each epoch's evaluation. */
  onEpoch?(report: EpochReport): void | Promise<void>;
  /** A step whose loss or averaged gradient was NaN/Inf: the optimizer did not apply it. */
  onSkip?(report: StepReport): void | Promise<void>;
  /** Stops between steps. */
  signal?: AbortSignal;
}

/**
 * What training changes: the flat parameter vector (the truth; what workers receive), its optimizer, and where
 * training stands. `bound` is a model to compute with; `syncModel` copies the parameters into it.
 */
export interface Trainee {
  readonly bound: BoundModel;
  readonly params: Float32Array;
  readonly optimizer: Optimizer;
  readonly position: TrainingPosition;
  /** Makes `bound`'s variables equal `params` (before evaluating or computing locally). */
  syncModel(): void;
}

export interface TraineeOptions {
  /** Default `fused`. */
  readonly optimizer?: OptimizerImpl;
  /** Native step math from `loadNativeMath()`; default none (JS, same bits). */
  readonly native?: NativeMath;
}

export function createTrainee(h: Hyperparams, options: TraineeOptions = {}): Trainee {
  const bound = bindModel(
    createAutoencoder({ layerSizes: h.layerSizes, outputActivation: h.outputActivation, seed: h.seed }),
  );
  const params = getParams(bound);
  let synced = -1;
  const position: TrainingPosition = { step: 0, epoch: 0, stepInEpoch: 0, samples: 0, testMse: [], skippedSteps: 0 };
  // A local run's loop applies rounds: its optimizer is the outer one (the inner Adam runs in each replica).
  const optimizer =
    h.algorithm === 'local'
      ? new OuterNesterov(params.length, h.outerLr, h.outerMomentum)
      : createOptimizer(options.optimizer ?? 'fused', bound, h.learningRate, options.native);
  return {
    bound,
    params,
    optimizer,
    position,
    syncModel() {
      // The optimizer's iteration count changes with every applied step: a cheap version of the parameters.
      if (synced === optimizer.iterations) return;
      setParams(bound, params);
      synced = optimizer.iterations;
    },
  };
}

/** The first `limit` training samples (all when 0). */
export function trainingSet(train: MnistSplit, limit: number): MnistSplit {
  if (limit > train.count)
    throw new ConfigError(
      `--limit (LIMIT): ${limit} exceeds the ${train.count} training samples; 0 trains on all of them`,
    );
  if (limit === 0 || limit === train.count) return train;
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
 * each epoch, a seeded shuffle; each step, the gradient of its K leaves reduced over the fixed leaf tree (from
 * `source`), and one Adam step; each epoch end, test MSE. Continues from `trainee.position`.
 */
export async function train(
  h: Hyperparams,
  data: { train: MnistSplit; test: MnistSplit },
  trainee: Trainee,
  source: GradientSource,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const { bound, optimizer, position } = trainee;
  const testInputs = scalePixels(data.test.pixels);
  const evaluate = () => {
    trainee.syncModel();
    return evaluateMseYielding(bound, testInputs, data.test.count);
  };
  if (position.testMse.length === 0) position.testMse.push(await evaluate());

  const n = data.train.count;
  // sync: a step is a batch in K leaves; local: a round, one leaf per replica.
  const shape = stepShape(h);
  const perEpoch = stepsPerEpoch(n, shape.samples);
  let trainSeconds = 0;
  let samplesTrained = 0;
  const orders = new Map<number, Uint32Array>();
  const orderOf = (epoch: number) => {
    let order = orders.get(epoch);
    if (!order) {
      order = shuffledOrder(n, epochRng(h.seed, epoch));
      orders.set(epoch, order);
      orders.delete(epoch - 2);
    }
    return order;
  };
  /** Step `stepInEpoch` of `epoch`, and the one after it when `withNext` and the run has one. */
  const workOf = (step: number, epoch: number, stepInEpoch: number, withNext: boolean): StepWork => {
    const work = {
      step,
      epoch,
      stepInEpoch,
      order: orderOf(epoch),
      shards: shardSpans(n, shape.samples, shape.leaves, stepInEpoch),
    };
    if (!withNext) return work;
    const last = stepInEpoch + 1 === perEpoch;
    if (last && epoch + 1 >= h.epochs) return work;
    return { ...work, next: workOf(step + 1, last ? epoch + 1 : epoch, last ? 0 : stepInEpoch + 1, false) };
  };
  while (position.epoch < h.epochs) {
    let epochSeconds = 0;
    let epochSamples = 0;
    while (position.stepInEpoch < perEpoch) {
      hooks.signal?.throwIfAborted();
      const started = performance.now();
      const { grad, losses, counts } = await source.gradients(
        workOf(position.step, position.epoch, position.stepInEpoch, true),
      );
      const { samples, loss } = meanLoss(losses, counts);
      // One NaN would poison every parameter through Adam's moments: such a step is counted and not applied.
      const finite = Number.isFinite(loss) && firstNonFinite(grad) < 0;
      const optimizerStart = performance.now();
      if (finite) optimizer.step(trainee.params, grad);
      const optimizerEnd = performance.now();
      const seconds = (optimizerEnd - started) / 1000;
      const report: StepReport = {
        step: position.step,
        epoch: position.epoch,
        stepInEpoch: position.stepInEpoch,
        stepsPerEpoch: perEpoch,
        loss,
        samples,
        seconds,
        optimizerSeconds: (optimizerEnd - optimizerStart) / 1000,
        skipped: !finite,
      };
      position.step += 1;
      position.stepInEpoch += 1;
      position.samples += samples;
      epochSeconds += seconds;
      epochSamples += samples;
      if (!finite) {
        position.skippedSteps += 1;
        await hooks.onSkip?.(report);
      }
      await hooks.onStep?.(report);
    }
    trainSeconds += epochSeconds;
    samplesTrained += epochSamples;
    const testMse = await evaluate();
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

/** The step's loss: the sample-weighted mean of its leaves' losses, in leaf order. */
export function meanLoss(losses: readonly number[], counts: readonly number[]): { samples: number; loss: number } {
  let samples = 0;
  let sum = 0;
  for (const [i, count] of counts.entries()) {
    samples += count;
    sum += (losses[i] as number) * count;
  }
  return { samples, loss: sum / samples };
}
