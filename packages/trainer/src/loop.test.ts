import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { TfjsEngine } from '@gradq/engine';
import { loadMnist, MNIST_PIXELS, type Mnist, type MnistSplit } from '@gradq/model';
import { mnistDir } from '@gradq/testing';
import { type Hyperparams, hyperparamsSchema } from './config';
import { localGradientSource as engineSource } from './local-source';
import { createTrainee, type EpochReport, type StepReport, type Trainee, train, trainingSet } from './loop';
import { ConfigError } from './options';
import { paramsSha256 } from './summary';

const MNIST_DIR = mnistDir();

/** Small enough for a unit test: 512 training samples, 500 test samples, a 784-64-32-64-784 network. */
const BASE: Hyperparams = hyperparamsSchema.parse({
  epochs: 2,
  batchSize: 64,
  shardsPerStep: 4,
  layerSizes: [784, 64, 32, 64, 784],
  seed: 5,
  limit: 512,
});

let data: { train: MnistSplit; test: MnistSplit };

function subset(split: MnistSplit, count: number): MnistSplit {
  return { count, pixels: split.pixels.subarray(0, count * MNIST_PIXELS), labels: split.labels.subarray(0, count) };
}

async function run(h: Hyperparams, hooks: Parameters<typeof train>[4] = {}) {
  const trainee = createTrainee(h);
  const trainSet = trainingSet(data.train, h.limit);
  const result = await train(
    h,
    { train: trainSet, test: data.test },
    trainee,
    localGradientSource(trainee, trainSet),
    hooks,
  );
  return { trainee, result, sha: paramsSha256(trainee.params), params: trainee.params.slice() };
}

/** The baseline's source on the reference (tfjs) engine. */
function localGradientSource(trainee: Trainee, trainSet: MnistSplit) {
  const engine = new TfjsEngine({ layerSizes: BASE.layerSizes, outputActivation: BASE.outputActivation });
  return engineSource(engine, trainee, trainSet);
}

function dispose(trainee: Trainee): void {
  trainee.optimizer.dispose();
  trainee.bound.model.dispose();
}

before(async () => {
  await selectBackend({ request: 'wasm', log: () => {} });
  const mnist: Mnist = await loadMnist(MNIST_DIR, { download: false });
  data = { train: mnist.train, test: subset(mnist.test, 500) };
});

describe('trainingSet', () => {
  test('takes the first `limit` samples, or all of them for 0; a limit past the end is an error naming --limit', () => {
    const small = trainingSet(data.train, 10);
    assert.equal(small.count, 10);
    assert.equal(small.pixels.length, 10 * MNIST_PIXELS);
    assert.deepEqual(small.labels, data.train.labels.subarray(0, 10));
    assert.equal(trainingSet(data.train, 0), data.train);
    assert.equal(trainingSet(data.train, data.train.count), data.train);
    assert.throws(
      () => trainingSet(data.train, data.train.count + 1),
      (err: Error) =>
        err instanceof ConfigError && /^--limit \(LIMIT\): \d+ exceeds the \d+ training samples/.test(err.message),
    );
  });
});

describe('train with the local gradient source', () => {
  let reference: Awaited<ReturnType<typeof run>>;
  const steps: StepReport[] = [];
  const epochs: EpochReport[] = [];

  before(async () => {
    reference = await run(BASE, { onStep: (r) => void steps.push(r), onEpoch: (r) => void epochs.push(r) });
  });

  test('reports every step and epoch and ends at the right position', () => {
    // 512 samples / batch 64 = 8 steps per epoch, 2 epochs.
    assert.deepEqual(
      steps.map((s) => [s.step, s.epoch, s.stepInEpoch, s.samples]),
      Array.from({ length: 16 }, (_, i) => [i, Math.floor(i / 8), i % 8, 64]),
    );
    assert.ok(
      steps.every((s) => s.stepsPerEpoch === 8 && Number.isFinite(s.loss) && s.loss > 0),
      'step reports',
    );
    assert.deepEqual(
      epochs.map((e) => e.epoch),
      [1, 2],
    );
    const { position } = reference.trainee;
    assert.deepEqual([position.step, position.epoch, position.stepInEpoch, position.samples], [16, 2, 0, 1024]);
    assert.equal(position.testMse.length, 3);
    assert.deepEqual(
      position.testMse.slice(1),
      epochs.map((e) => e.testMse),
    );
    assert.equal(reference.result.samplesTrained, 1024);
    assert.equal(reference.trainee.optimizer.iterations, 16);
  });

  test('test MSE falls after each epoch', () => {
    const [initial, first, second] = reference.trainee.position.testMse as [number, number, number];
    assert.ok(first < initial, `epoch 1: ${first} vs initial ${initial}`);
    assert.ok(second < first, `epoch 2: ${second} vs ${first}`);
  });

  test('the same seed gives bit-identical parameters', async () => {
    const again = await run(BASE);
    assert.equal(again.sha, reference.sha);
    assert.deepEqual(again.trainee.position.testMse, reference.trainee.position.testMse);
    dispose(again.trainee);
  });

  test('another seed gives other parameters', async () => {
    const other = await run({ ...BASE, seed: 6, epochs: 1 });
    const same = await run({ ...BASE, epochs: 1 });
    assert.notEqual(other.sha, same.sha);
    dispose(other.trainee);
    dispose(same.trainee);
  });

  test('1 shard per step vs 4 differs only by float rounding', async () => {
    const one = await run({ ...BASE, shardsPerStep: 1 });
    const three = await run({ ...BASE, shardsPerStep: 3 });
    for (const [k, other] of [
      [1, one],
      [3, three],
    ] as const) {
      // Different float32 summation orders, amplified a little by 16 Adam steps: measured up to 1e-7 on wasm. A wrong
      // weighting or sample assignment moves parameters by up to the learning rate (1e-3) per step instead.
      let maxDiff = 0;
      for (let i = 0; i < other.params.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs((other.params[i] as number) - (reference.params[i] as number)));
      }
      assert.ok(maxDiff < 1e-5, `K=${k}: parameters differ by up to ${maxDiff}`);
      for (const [e, mse] of other.trainee.position.testMse.entries()) {
        const ref = reference.trainee.position.testMse[e] as number;
        assert.ok(Math.abs(mse - ref) < 1e-5 * ref, `K=${k}, epoch ${e}: test MSE ${mse} vs ${ref}`);
      }
      dispose(other.trainee);
    }
  });

  test('stopping mid-epoch and continuing with the same trainee ends at the same bits', async () => {
    const controller = new AbortController();
    const trainee = createTrainee(BASE);
    const trainSet = trainingSet(data.train, BASE.limit);
    const source = localGradientSource(trainee, trainSet);
    const sets = { train: trainSet, test: data.test };
    const stopAfter = 11;
    await assert.rejects(
      train(BASE, sets, trainee, source, {
        signal: controller.signal,
        onStep: (r) => {
          if (r.step + 1 === stopAfter) controller.abort(new Error('stop'));
        },
      }),
      { message: 'stop' },
    );
    assert.deepEqual([trainee.position.step, trainee.position.epoch, trainee.position.stepInEpoch], [11, 1, 3]);
    await train(BASE, sets, trainee, source);
    assert.equal(paramsSha256(trainee.params), reference.sha);
    assert.deepEqual(trainee.position.testMse, reference.trainee.position.testMse);
    dispose(trainee);
  });

  test('resuming into a fresh trainee from params, Adam state and position ends at the same bits', async () => {
    const controller = new AbortController();
    const first = createTrainee(BASE);
    const trainSet = trainingSet(data.train, BASE.limit);
    const sets = { train: trainSet, test: data.test };
    await assert.rejects(
      train(BASE, sets, first, localGradientSource(first, trainSet), {
        signal: controller.signal,
        onStep: (r) => {
          if (r.step + 1 === 5) controller.abort(new Error('stop'));
        },
      }),
      { message: 'stop' },
    );
    // What a checkpoint holds, restored into a new process's objects.
    const params = first.params.slice();
    const adamState = await first.optimizer.getState();
    const position = structuredClone(first.position);
    dispose(first);

    const resumed = createTrainee({ ...BASE, seed: BASE.seed + 1 });
    resumed.params.set(params);
    await resumed.optimizer.setState(adamState);
    Object.assign(resumed.position, position);
    await train(BASE, sets, resumed, localGradientSource(resumed, trainSet));
    assert.equal(paramsSha256(resumed.params), reference.sha);
    dispose(resumed);
  });
});
