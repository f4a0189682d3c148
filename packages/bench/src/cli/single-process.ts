/**
 * Child process of `pnpm bench`: one measurement of `pnpm baseline`'s training speed in a process of its own (tfjs
 * picks one backend per process, and one measurement's allocator and JIT state must not flatter the next). Runs the
 * baseline's own path — `prepareTrainee`, `prepareEngine`, `train` with `localGradientSource` — over one epoch of
 * `--limit` samples (`--epochs` of them); the first `--warmup` steps are not timed, the rest are, by the loop's own
 * step times (evaluation and data loading excluded). The final parameters' sha256 is that of `pnpm baseline`'s
 * summary for the same settings. With `--shard-samples`, then times one block of that many samples on the
 * same engine (a worker's job). Prints one JSON line: a GradqRun, or `{ ok: false, error }`.
 *
 *   node --import tsx packages/bench/src/cli/single-process.ts --backend cpu-native --shards-per-step 4 \
 *     --warmup 50 --limit 0 --data-dir ../shared/mnist
 *
 * The parent pins BLAS to one thread (GRADQ_BLAS_THREADS, OPENBLAS_NUM_THREADS, OMP_NUM_THREADS).
 */
import { selectBackend } from '@gradq/backend';
import { loadMnist } from '@gradq/model';
import {
  ConfigError,
  epochRng,
  hyperparamsSchema,
  localGradientSource,
  type OptionSpec,
  paramsSha256,
  prepareEngine,
  prepareTrainee,
  readOptions,
  relaxHeapGrowth,
  shuffledOrder,
  stepsPerEpoch,
  train,
  trainingSet,
} from '@gradq/trainer';
import { z } from 'zod';
import type { BackendRun, GradqRun, Outcome } from '../results';
import { timedRun } from '../stats';

const OPTIONS: readonly OptionSpec[] = [
  { key: 'backend', flag: 'backend', doc: 'tfjs backend (required)' },
  { key: 'shardsPerStep', flag: 'shards-per-step', doc: 'leaves per step, K (default 4, as pnpm baseline)' },
  { key: 'batchSize', flag: 'batch-size', doc: 'samples per step (default 128)' },
  { key: 'limit', flag: 'limit', doc: 'samples per epoch, 0 = all 60,000 (default 0)' },
  { key: 'epochs', flag: 'epochs', doc: 'epochs (default 1)' },
  { key: 'warmup', flag: 'warmup', doc: 'steps not timed (default 50)' },
  { key: 'shardSamples', flag: 'shard-samples', doc: 'then time one block of this many samples, 0 = no (default 0)' },
  { key: 'shardReps', flag: 'shard-reps', doc: 'blocks timed (default 20)' },
  { key: 'dataDir', flag: 'data-dir', doc: 'MNIST .gz files (default data/mnist)' },
];
const count = (min: number) => z.coerce.number().int().min(min);
const schema = z.object({
  backend: z.string().min(1),
  shardsPerStep: count(1).default(4),
  batchSize: count(1).default(128),
  limit: count(0).default(0),
  epochs: count(1).default(1),
  warmup: count(0).default(50),
  shardSamples: count(0).default(0),
  shardReps: count(1).default(20),
  dataDir: z.string().min(1).default('data/mnist'),
});

async function main(): Promise<Outcome<GradqRun> | BackendRun> {
  const config = readOptions(OPTIONS, schema, process.argv.slice(2), process.env);
  const log = (line: string) => process.stderr.write(`single-process ${config.backend}: ${line}\n`);
  let backend: string;
  try {
    backend = (await selectBackend({ request: config.backend, log })).name;
  } catch (err) {
    return { backend: config.backend, ok: false, error: (err as Error).message.split('\n')[0] ?? String(err) };
  }
  const h = hyperparamsSchema.parse({
    epochs: config.epochs,
    batchSize: config.batchSize,
    shardsPerStep: config.shardsPerStep,
    limit: config.limit,
  });
  const data = await loadMnist(config.dataDir, { log });
  const trainSet = trainingSet(data.train, h.limit);
  const totalSteps = stepsPerEpoch(trainSet.count, h.batchSize) * h.epochs;
  if (config.warmup + 2 > totalSteps) {
    throw new ConfigError(`--warmup ${config.warmup} leaves fewer than 2 timed steps of ${totalSteps}`);
  }
  const trainee = await prepareTrainee(h, 'fused', log);
  // prepareEngine (what pnpm baseline calls) names the engine and why the native one was passed over in one line.
  let engineLine = '';
  const engine = await prepareEngine(h, backend, (line) => {
    engineLine = line;
    log(line);
  });
  const engineSkipped = /\(skipped (.*)\)$/.exec(engineLine)?.[1];
  // The loop evaluates test MSE before and after the epoch, untimed; a few hundred test samples keep that short.
  const test = trainingSet(data.test, 256);
  const seconds: number[] = [];
  const counts: number[] = [];
  // The timed span starts where the last warm-up step ends (before training when there is no warm-up).
  let spanStart = { cpu: process.cpuUsage(), wall: performance.now() };
  let spanEnd = spanStart;
  await train(h, { train: trainSet, test }, trainee, localGradientSource(engine, trainee, trainSet, h.gradEncoding), {
    onStep: (r) => {
      if (r.step < config.warmup) {
        if (r.step === config.warmup - 1) spanStart = { cpu: process.cpuUsage(), wall: performance.now() };
        return;
      }
      seconds.push(r.seconds);
      counts.push(r.samples);
      spanEnd = { cpu: process.cpuUsage(), wall: performance.now() };
    },
  });
  // cpuUsage is in microseconds, performance.now() in milliseconds.
  const cpuUs = (c: NodeJS.CpuUsage) => c.user + c.system;
  const cpuShare = (cpuUs(spanEnd.cpu) - cpuUs(spanStart.cpu)) / 1000 / (spanEnd.wall - spanStart.wall);
  const run: GradqRun = {
    ...timedRun(config.warmup, seconds, counts, cpuShare),
    backend,
    engine: engine.name,
    ...(engineSkipped ? { engineSkipped } : {}),
    shardsPerStep: h.shardsPerStep,
    batchSize: h.batchSize,
    paramsSha256: paramsSha256(trainee.params),
  };
  if (config.shardSamples === 0) {
    engine.dispose();
    return { ok: true, ...run };
  }

  // A worker's job at K = 4: one leaf of a 128-sample step. The version stays fixed, so an engine that copies
  // parameters only on a new version times the compute alone, like the old per-model shard timing.
  const task = {
    version: Number.MAX_SAFE_INTEGER,
    params: trainee.params,
    order: shuffledOrder(trainSet.count, epochRng(h.seed, 0)),
    leaves: [{ start: 0, end: config.shardSamples }],
    stepSamples: h.batchSize,
    rounding: 'f32',
  } as const;
  engine.computeBlock(task);
  const t0 = performance.now();
  for (let i = 0; i < config.shardReps; i++) engine.computeBlock(task);
  const shardComputeMs = (performance.now() - t0) / config.shardReps;
  engine.dispose();
  return { ok: true, ...run, shardComputeMs, shardSamples: config.shardSamples };
}

// As every command does (runMain): the measured process is the real one.
relaxHeapGrowth();
main().then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String((err as Error)?.message ?? err) })}\n`);
    process.exit(1);
  },
);
