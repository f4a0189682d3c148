/**
 * Child process of `pnpm bench` for one backend (tfjs chooses its backend once per process): trains the seed model
 * in this process, batch 128 in one shard per step, exactly as the baseline's loop does, for a fixed number of
 * steps after warm-up; then times single shard gradients (a worker's job). Prints one JSON line.
 *
 *   node --import tsx packages/bench/src/cli/single-process.ts <backend> <warmup> <steps> <shardSamples> <dataDir>
 */
import { selectBackend } from '@gradq/backend';
import { loadMnist, MNIST_PIXELS, scalePixels, shardGradient } from '@gradq/model';
import {
  epochRng,
  gatherSamples,
  hyperparamsSchema,
  localGradientSource,
  prepareTrainee,
  shuffledOrder,
  train,
  trainingSet,
} from '@gradq/trainer';
import type { SingleProcessResult } from '../results';

const [backendName = 'auto', warmupArg = '3', stepsArg = '20', shardArg = '32', dataDir = 'data/mnist'] =
  process.argv.slice(2);
const warmup = Number(warmupArg);
const steps = Number(stepsArg);
const shardSamples = Number(shardArg);

async function main(): Promise<SingleProcessResult> {
  try {
    await selectBackend({ request: backendName, log: () => {} });
  } catch (err) {
    return { backend: backendName, ok: false, error: (err as Error).message.split('\n')[0] ?? String(err) };
  }
  const data = await loadMnist(dataDir, { log: () => {} });
  // One epoch of exactly warm-up + measured steps, through the baseline's own loop and step math (pnpm baseline).
  const h = hyperparamsSchema.parse({ epochs: 1, batchSize: 128, shardsPerStep: 1, limit: (warmup + steps) * 128 });
  const trainee = await prepareTrainee(h, 'fused', () => {});
  const trainSet = trainingSet(data.train, h.limit);
  // The loop evaluates test MSE before and after; a few hundred test samples keep that out of the way on slow backends.
  const test = trainingSet(data.test, 256);
  let seconds = 0;
  let samples = 0;
  await train(h, { train: trainSet, test }, trainee, localGradientSource(trainee, trainSet), {
    onStep: (r) => {
      if (r.step < warmup) return;
      seconds += r.seconds;
      samples += r.samples;
    },
  });

  const order = shuffledOrder(trainSet.count, epochRng(h.seed, 0));
  trainee.syncModel();
  const reps = Math.max(3, steps);
  const inputs = scalePixels(gatherSamples(trainSet.pixels, MNIST_PIXELS, order, 0, shardSamples));
  shardGradient(trainee.bound, inputs, shardSamples);
  const s0 = performance.now();
  for (let i = 0; i < reps; i++) shardGradient(trainee.bound, inputs, shardSamples);
  const shardComputeMs = (performance.now() - s0) / reps;

  return {
    backend: backendName,
    ok: true,
    warmupSteps: warmup,
    steps,
    seconds,
    samplesPerSecond: samples / seconds,
    shardComputeMs,
    shardSamples,
  };
}

main().then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stdout.write(
      `${JSON.stringify({ backend: backendName, ok: false, error: String((err as Error)?.message ?? err) })}\n`,
    );
    process.exit(1);
  },
);
