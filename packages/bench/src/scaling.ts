/**
 * Section `scaling` (issue "Step protocol v2"): the real coordinator and W emulated workers (the real worker code and
 * data plane, the engine replaced by a stand-in that waits the engine's measured time) on one Redis and on a 3-node
 * Redis Cluster, weak scaling at a fixed number of samples per worker. Beside each point: the bound that the Redis
 * bandwidth measured just before and just after allows (the faster of the two; scaling-math.ts), and where the CPU
 * went during the measured steps. Each point runs in a fresh process (cli/scaling-point.ts): one run's heap, JIT and
 * GC state never carries into the next.
 */
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadMnist, MNIST_FILES, type MnistSplit } from '@gradq/model';
import { startRedisCluster, startRedisServer } from '@gradq/testing';
import type { BenchContext } from './context';
import { lastJsonLine, runCommand } from './processes';
import type { EngineTiming, ScalingPoint, ScalingResults, ScalingSizes } from './results';
import { medianRaw, withEfficiency } from './scaling-math';
import type { RedisTarget } from './scaling-point';
import { CHILD_ENV } from './single';

/**
 * Test digits the scaling runs evaluate at each epoch end. Evaluation is outside the step times, but the full 10,000
 * run through the model on the coordinator's CPU between steps, and the 16 x 1,024 points run 12 epochs: that would
 * land in the CPU accounting and in the machine's load. The quality of these runs is not a figure.
 */
const SCALING_TEST_DIGITS = 256;

/**
 * A data directory with MNIST's training files (linked) and the first `count` test digits: what the scaling runs
 * evaluate at epoch ends (see SCALING_TEST_DIGITS).
 */
async function smallTestSet(dataDir: string, test: MnistSplit, count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gradq-bench-mnist-'));
  for (const f of [MNIST_FILES.trainImages.name, MNIST_FILES.trainLabels.name]) {
    await symlink(join(dataDir, f), join(dir, f));
  }
  const n = Math.min(count, test.count);
  const images = Buffer.alloc(16 + n * 784);
  images.writeUInt32BE(0x803, 0);
  images.writeUInt32BE(n, 4);
  images.writeUInt32BE(28, 8);
  images.writeUInt32BE(28, 12);
  images.set(test.pixels.subarray(0, n * 784), 16);
  const labels = Buffer.alloc(8 + n);
  labels.writeUInt32BE(0x801, 0);
  labels.writeUInt32BE(n, 4);
  labels.set(test.labels.subarray(0, n), 8);
  await writeFile(join(dir, MNIST_FILES.testImages.name), gzipSync(images));
  await writeFile(join(dir, MNIST_FILES.testLabels.name), gzipSync(labels));
  return dir;
}

/** A point's warm-up and measured steps at this batch: at least the sizes' step counts and samples. */
export function pointSteps(z: ScalingSizes, batch: number): { warmup: number; measured: number } {
  return {
    warmup: Math.max(z.warmupSteps, Math.ceil(z.warmupSamples / batch)),
    measured: Math.max(z.steps, Math.ceil(z.measuredSamples / batch)),
  };
}

const SERIES = ['one_redis', 'cluster', 'one_redis_1024', 'cluster_1024'] as const;
type SeriesName = (typeof SERIES)[number];
const seriesName = (target: RedisTarget, samplesPerWorker: number): SeriesName =>
  `${target.cluster ? 'cluster' : 'one_redis'}${samplesPerWorker === 128 ? '' : '_1024'}` as SeriesName;

/**
 * The whole section: the engine's time per block, the protocol check (instant workers, one Redis), then the weak
 * scaling series. Points of one Redis and of the Cluster alternate (same W, minutes apart at most), so that drifting
 * background load hits both curves alike.
 */
export async function measureScaling(ctx: BenchContext, paramBytes: number): Promise<ScalingResults> {
  const z = ctx.sizes.scaling;
  const loadStart = loadavg().map((l) => Math.round(l * 100) / 100);
  const engine = await child<EngineTiming>(ctx, [
    '--engine',
    '--blocks',
    z.samplesPerWorker.join(','),
    '--calls',
    String(z.engineCalls),
    '--data-dir',
    ctx.dataDir,
  ]);
  for (const b of engine.blocks) {
    ctx.log(
      `engine ${engine.engine}: ${b.samples}-sample block ${b.ms_median.toFixed(2)} ms median of ${b.calls} (${(b.ms_per_sample * 1000).toFixed(1)} us/sample)`,
    );
  }
  const msPerSample = (samples: number) => {
    const block = engine.blocks.find((b) => b.samples === samples);
    if (!block) throw new Error(`no engine timing for ${samples}-sample blocks`);
    return block.ms_per_sample;
  };
  const mnist = await loadMnist(ctx.dataDir, { log: () => {} });
  const dataDir = await smallTestSet(ctx.dataDir, mnist.test, SCALING_TEST_DIGITS);
  const errors: Record<string, string> = {};
  const series: Record<SeriesName | 'protocol', ScalingPoint[]> = {
    protocol: [],
    one_redis: [],
    cluster: [],
    one_redis_1024: [],
    cluster_1024: [],
  };
  const common = [
    '--data-dir',
    dataDir,
    '--train-count',
    String(mnist.train.count),
    '--param-bytes',
    String(paramBytes),
    '--root',
    ctx.root,
    '--log',
    ctx.logPath,
  ];
  const one = await startRedisServer();
  let cluster: Awaited<ReturnType<typeof startRedisCluster>> | undefined;
  try {
    const oneTarget: RedisTarget = { name: 'one Redis', url: one.url, cluster: false, ports: [one.port] };
    const targets: RedisTarget[] = [oneTarget];
    try {
      cluster = await startRedisCluster();
      targets.push({ name: 'cluster', url: cluster.url, cluster: true, ports: cluster.ports });
    } catch (err) {
      errors.cluster = `no Redis Cluster: ${(err as Error).message}`;
      ctx.log(`scaling: ${errors.cluster}`);
    }
    /** A point that fails is run once more (a worker pool killed from outside, a port taken); both are noted. */
    const run = async (
      into: ScalingPoint[],
      key: string,
      target: RedisTarget,
      o: { workers: number; samplesPerWorker: number; msPerSample: number },
    ) => {
      const steps = pointSteps(z, o.workers * o.samplesPerWorker);
      const args = [
        ...common,
        '--warmup',
        String(steps.warmup),
        '--steps',
        String(steps.measured),
        '--redis',
        target.url,
        ...(target.cluster ? ['--cluster'] : []),
        '--ports',
        target.ports.join(','),
        '--workers',
        String(o.workers),
        '--samples-per-worker',
        String(o.samplesPerWorker),
        '--ms-per-sample',
        String(o.msPerSample),
      ];
      const name = `${key} W=${o.workers}`;
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          const p = await child<ScalingPoint>(ctx, args);
          into.push(p);
          ctx.log(describe(target, p));
          if (attempt > 1) errors[name] = `${errors[name]} (measured on the second try)`;
          return;
        } catch (err) {
          const why = (err as Error).message.split('\n')[0] ?? String(err);
          errors[name] = attempt === 1 ? why : `${errors[name]}; second try: ${why}`;
          ctx.log(`scaling ${name} failed (try ${attempt} of 2): ${why}`);
        }
      }
    };
    for (const workers of z.protocolWorkers) {
      await run(series.protocol, 'protocol', oneTarget, { workers, samplesPerWorker: 128, msPerSample: 0 });
    }
    for (const samplesPerWorker of z.samplesPerWorker) {
      for (const workers of z.workers) {
        for (const target of targets) {
          const name = seriesName(target, samplesPerWorker);
          await run(series[name], name, target, {
            workers,
            samplesPerWorker,
            msPerSample: msPerSample(samplesPerWorker),
          });
        }
      }
    }
  } finally {
    await Promise.allSettled([one.stop(), cluster?.stop()]);
    await rm(dataDir, { recursive: true, force: true });
  }
  const done = Object.fromEntries(Object.entries(series).map(([k, points]) => [k, withEfficiency(points)])) as Record<
    SeriesName | 'protocol',
    ScalingPoint[]
  >;
  return {
    sizes: z,
    engine,
    param_bytes: paramBytes,
    cluster_nodes: cluster?.ports.length ?? 0,
    protocol: done.protocol,
    one_redis: done.one_redis,
    cluster: done.cluster,
    one_redis_1024: done.one_redis_1024,
    cluster_1024: done.cluster_1024,
    raw: {
      one_redis: medianRaw([...done.protocol, ...done.one_redis, ...done.one_redis_1024]),
      cluster: medianRaw([...done.cluster, ...done.cluster_1024]),
    },
    errors,
    loadAverage: { start: loadStart, end: loadavg().map((l) => Math.round(l * 100) / 100) },
  };
}

/** One cli/scaling-point.ts child, BLAS pinned as for every measured child; its JSON line, or its error thrown. */
async function child<T>(ctx: BenchContext, args: readonly string[]): Promise<T> {
  const r = await runCommand(process.execPath, ['--import', 'tsx', ctx.paths.scalingPointCli, ...args], {
    cwd: ctx.root,
    env: { ...process.env, ...CHILD_ENV },
    logPath: ctx.logPath,
    timeoutMs: 10 * 60_000,
  });
  const out = lastJsonLine<T | { error: string }>(r.stdout);
  if (!out) throw new Error(`scaling-point exited ${r.code}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
  if (typeof out === 'object' && out !== null && 'error' in out) throw new Error(out.error);
  return out as T;
}

function describe(target: RedisTarget, p: ScalingPoint): string {
  const cpu = p.cpu_ms_per_step
    ? `; CPU/step: Redis ${p.cpu_ms_per_step.redis.toFixed(1)}, coordinator ${p.cpu_ms_per_step.coordinator.toFixed(1)}, workers ${p.cpu_ms_per_step.workers.toFixed(1)} ms`
    : '';
  return (
    `scaling ${target.name} ${p.samples_per_worker}/worker W=${p.workers}: ${Math.round(p.samples_per_s)} samples/s ` +
    `(bound ${Math.round(p.bound_samples_per_s)}, ${(p.bound_share * 100).toFixed(0)}%), step ${p.step_ms_median.toFixed(1)} ms, ` +
    `Redis ${p.redis_mb_per_s.toFixed(0)} of ${p.raw_mb_per_s.toFixed(0)} MB/s raw, serial ${p.serial_ms_median.toFixed(2)} ms${cpu}`
  );
}
