import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { selectBackend } from '@gradq/backend';
import { TfjsEngine } from '@gradq/engine';
import { loadMnist, MNIST_PIXELS, type MnistSplit } from '@gradq/model';
import { mnistDir } from '@gradq/testing';
import { z } from 'zod';
import { HYPERPARAM_OPTIONS, type Hyperparams, hyperparamsSchema, hyperparamsShape } from '../config';
import { localGradientSource } from '../local-source';
import { createTrainee, type Trainee, train, trainingSet } from '../loop';
import { ConfigError, readOptions } from '../options';
import { innerBatches, shardSpans, stepShape, stepsPerEpoch } from '../plan';
import { paramsSha256 } from '../summary';
import { OuterNesterov } from './outer-nesterov';
import { localRoundSource } from './round-source';

/** 512 samples of a 784-64-32-64-784 network: small enough for a unit test, big enough to move. */
const SYNC: Hyperparams = hyperparamsSchema.parse({
  epochs: 2,
  batchSize: 32,
  shardsPerStep: 4,
  layerSizes: [784, 64, 32, 64, 784],
  seed: 3,
  limit: 512,
});
const LOCAL: Hyperparams = { ...SYNC, algorithm: 'local', replicas: 4, innerSteps: 2 };

let data: { train: MnistSplit; test: MnistSplit };

function engine(h: Hyperparams) {
  return new TfjsEngine({ layerSizes: h.layerSizes, outputActivation: h.outputActivation });
}

async function run(h: Hyperparams): Promise<{ trainee: Trainee; sha: string; params: Float32Array }> {
  const trainee = createTrainee(h);
  const trainSet = trainingSet(data.train, h.limit);
  const source =
    h.algorithm === 'local'
      ? localRoundSource(engine(h), trainee, trainSet, h)
      : localGradientSource(engine(h), trainee, trainSet);
  await train(h, { train: trainSet, test: data.test }, trainee, source);
  return { trainee, sha: paramsSha256(trainee.params), params: trainee.params.slice() };
}

before(async () => {
  await selectBackend({ request: 'wasm', log: () => {} });
  const mnist = await loadMnist(mnistDir(), { download: false });
  const test = mnist.test;
  data = {
    train: mnist.train,
    test: { count: 200, pixels: test.pixels.subarray(0, 200 * MNIST_PIXELS), labels: test.labels.subarray(0, 200) },
  };
});

describe('OuterNesterov', () => {
  test("PyTorch's SGD(nesterov=True) arithmetic, rounded to float32", () => {
    const outer = new OuterNesterov(2, 0.5, 0.9);
    const p = new Float32Array([1, -2]);
    // Round 1: b = 0.9*0 + g = g;  p -= 0.5 * (g + 0.9*g) = 0.95 g.
    outer.step(p, new Float32Array([0.2, -0.4]));
    assert.deepEqual([...p], [Math.fround(1 - Math.fround(0.5 * Math.fround(0.2 * 1.9))), Math.fround(-2 + 0.38)]);
    // Round 2 with g = 0: b = 0.9 b;  p -= 0.5 * (0 + 0.9 * 0.9 b) = 0.405 b.
    const before = p.slice();
    outer.step(p, new Float32Array([0, 0]));
    assert.ok(Math.abs((p[0] as number) - ((before[0] as number) - 0.405 * 0.2)) < 1e-6);
    assert.equal(outer.iterations, 2);
    // Its state round-trips: the momentum travels as the first moment.
    const copy = new OuterNesterov(2, 0.5, 0.9);
    copy.setState(outer.getState());
    const a = p.slice();
    const b = p.slice();
    outer.step(a, new Float32Array([0.1, 0.1]));
    copy.step(b, new Float32Array([0.1, 0.1]));
    assert.deepEqual(a, b);
  });

  test('lr 1, momentum 0 is p - g', () => {
    const outer = new OuterNesterov(3, 1, 0);
    const p = new Float32Array([0.5, 0.25, -1]);
    outer.step(p, new Float32Array([0.5, -0.25, 0.125]));
    assert.deepEqual([...p], [0, 0.5, -1.125]);
  });
});

describe('round plan', () => {
  test("a full round is R x H consecutive sync batches; replica r's inner step h is the round's batch r*H + h", () => {
    const shape = stepShape({ ...LOCAL, batchSize: 32, replicas: 4, innerSteps: 2 });
    assert.deepEqual(shape, { samples: 256, leaves: 4 });
    const n = 512;
    const round1 = shardSpans(n, shape.samples, shape.leaves, 1);
    const sync = Array.from({ length: stepsPerEpoch(n, 32) }, (_, s) => shardSpans(n, 32, 4, s));
    for (const [r, span] of round1.entries()) {
      const batches = innerBatches(span, 32, 4);
      assert.equal(batches.length, 2);
      for (const [h, leaves] of batches.entries()) assert.deepEqual(leaves, sync[8 + r * 2 + h]);
    }
  });

  test("an epoch's short last round splits into R nearly equal spans, walked in batches of B", () => {
    // 300 samples, rounds of 4 x 2 x 32 = 256: the second round has 44, i.e. spans of 11.
    const last = shardSpans(300, 256, 4, 1);
    assert.deepEqual(
      last.map((s) => s.end - s.start),
      [11, 11, 11, 11],
    );
    assert.deepEqual(innerBatches({ start: 256, end: 267 }, 32, 4), [
      [
        { shard: 0, start: 256, end: 258 },
        { shard: 1, start: 258, end: 261 },
        { shard: 2, start: 261, end: 264 },
        { shard: 3, start: 264, end: 267 },
      ],
    ]);
    // A span longer than one batch: full batches, then the rest.
    assert.deepEqual(
      innerBatches({ start: 0, end: 70 }, 32, 2).map((b) => b.map((l) => [l.start, l.end])),
      [
        [
          [0, 16],
          [16, 32],
        ],
        [
          [32, 48],
          [48, 64],
        ],
        [
          [64, 67],
          [67, 70],
        ],
      ],
    );
  });
});

describe('local rounds in one process', () => {
  test('R = 1, outer lr 1, momentum 0, inner state kept: the same walk as sync, to float32 rounding', async () => {
    // Each round starts where the last one's inner steps ended (p - (p - after) = after, up to one rounding of the
    // difference), and the inner Adam carries on: sync's Adam steps on sync's batches.
    const h: Hyperparams = { ...LOCAL, replicas: 1, innerSteps: 3, outerLr: 1, outerMomentum: 0 };
    const [local, sync] = await Promise.all([run(h), run(SYNC)]);
    let worst = 0;
    for (let i = 0; i < sync.params.length; i++)
      worst = Math.max(worst, Math.abs((local.params[i] as number) - (sync.params[i] as number)));
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
    assert.equal(local.trainee.position.step, stepsPerEpoch(512, 96) * 2);
    assert.equal(local.trainee.position.samples, sync.trainee.position.samples);
  });

  test('deterministic; keep and reset differ; the loss falls', async () => {
    const a = await run(LOCAL);
    const b = await run(LOCAL);
    assert.equal(a.sha, b.sha);
    const reset = await run({ ...LOCAL, innerState: 'reset' });
    assert.notEqual(reset.sha, a.sha);
    const mse = a.trainee.position.testMse;
    assert.equal(mse.length, 3);
    assert.ok((mse[2] as number) < (mse[0] as number), `test MSE ${mse.join(' -> ')}`);
    assert.equal(a.trainee.position.step, 2 * 2); // 512 samples, rounds of 256, 2 epochs
  });

  test("the round's gradient is the replicas' mean change, negated", async () => {
    // One round, momentum 0, lr 1: the outer step moves the global parameters onto the replicas' mean.
    const h: Hyperparams = {
      ...LOCAL,
      epochs: 1,
      limit: 256,
      replicas: 2,
      innerSteps: 4,
      outerLr: 1,
      outerMomentum: 0,
    };
    const one = await run(h);
    const start = createTrainee(h).params;
    const afters: Float32Array[] = [];
    for (const r of [0, 1]) {
      const solo = createTrainee({ ...h, replicas: 1, limit: 128 });
      const source = localRoundSource(engine(h), solo, trainingSet(data.train, 256), h);
      const order = (await import('../rng')).shuffledOrder(256, (await import('../rng')).epochRng(h.seed, 0));
      const out = await source.gradients({
        step: 0,
        epoch: 0,
        stepInEpoch: 0,
        order,
        shards: [{ shard: 0, start: r * 128, end: (r + 1) * 128 }],
      });
      // A lone replica's leaf is its whole change: start - after.
      afters.push(start.map((p, i) => p - (out.grad[i] as number)));
    }
    let worst = 0;
    for (let i = 0; i < start.length; i++) {
      const mean = ((afters[0]?.[i] as number) + (afters[1]?.[i] as number)) / 2;
      worst = Math.max(worst, Math.abs((one.params[i] as number) - mean));
    }
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
  });
});

describe('local options', () => {
  const schema = z.strictObject(hyperparamsShape);
  const read = (argv: string[]) => readOptions(HYPERPARAM_OPTIONS, schema, argv, {});

  test('defaults: sync; DiLoCo outer 0.7 / 0.9; inner state kept', () => {
    const h = read([]);
    assert.equal(h.algorithm, 'sync');
    assert.deepEqual([h.replicas, h.innerSteps, h.outerLr, h.outerMomentum, h.innerState], [4, 8, 0.7, 0.9, 'keep']);
    const l = read(['--algorithm', 'local', '--replicas', '8', '--inner-steps', '32', '--inner-state', 'reset']);
    assert.deepEqual([l.algorithm, l.replicas, l.innerSteps, l.innerState], ['local', 8, 32, 'reset']);
  });

  for (const [argv, flag] of [
    [['--algorithm', 'diloco'], '--algorithm (ALGORITHM)'],
    [['--replicas', '0'], '--replicas (REPLICAS)'],
    [['--inner-steps', '1.5'], '--inner-steps (INNER_STEPS)'],
    [['--outer-lr=-1'], '--outer-lr (OUTER_LR)'],
    [['--outer-momentum', '1'], '--outer-momentum (OUTER_MOMENTUM)'],
    [['--inner-state', 'drop'], '--inner-state (INNER_STATE)'],
  ] as const) {
    test(`${argv.join(' ')} is refused, naming ${flag}`, () => {
      assert.throws(
        () => read([...argv]),
        (err: Error) => err instanceof ConfigError && err.message.startsWith(flag),
      );
    });
  }
});
