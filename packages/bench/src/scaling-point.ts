/**
 * One point of the scaling section, measured in a process of its own (cli/scaling-point.ts): the raw Redis
 * bandwidth just before and just after (the faster of the two is the point's), then the real coordinator (`runCoordinator`) with W emulated workers (cli/emulated-workers.ts)
 * for whole batches of W x samples-per-worker, and the CPU every party used over the measured steps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SelectedBackend } from '@gradq/backend';
import { loadCheckpointConfig } from '@gradq/checkpoint';
import { coordinatorConfigSchema, runCoordinator } from '@gradq/coordinator';
import { closeRedis, createRedis, DEFAULT_SLICES, type RedisClient, sliceRanges, sliceTags } from '@gradq/protocol';
import { Redis } from 'ioredis';
import { processCpuSeconds } from './processes';
import type { RawBandwidth, ScalingPoint } from './results';
import { runShape, scalingPoint } from './scaling-math';
import { spread } from './stats';

const median = (values: readonly number[]) => spread(values)?.median ?? Number.NaN;

/** A Redis to measure on: its URL for the clients, and every node's port for INFO cpu. */
export interface RedisTarget {
  readonly name: 'one Redis' | 'cluster';
  readonly url: string;
  readonly cluster: boolean;
  readonly ports: readonly number[];
}

/** Raw Redis bandwidth for vectors of `bytes`, cut as the protocol cuts them, on one Redis or a Cluster. */
export async function rawBandwidth(redis: RedisClient, bytes: number, rounds = 30): Promise<RawBandwidth> {
  const ranges = sliceRanges(bytes, DEFAULT_SLICES);
  const tags = sliceTags('bench-raw', DEFAULT_SLICES);
  const value = Buffer.alloc(bytes, 7);
  const times: number[] = [];
  for (let r = 0; r < rounds + 3; r++) {
    const started = performance.now();
    await Promise.all(
      ranges.map(({ start, end }, i) => redis.set(`{${tags[i]}}:raw:${i}`, value.subarray(start, end))),
    );
    await Promise.all(ranges.map((_, i) => redis.getBuffer(`{${tags[i]}}:raw:${i}`)));
    if (r >= 3) times.push((performance.now() - started) / 1000);
  }
  await Promise.all(ranges.map((_, i) => redis.del(`{${tags[i]}}:raw:${i}`)));
  const seconds = median(times) / 2; // one SET and one GET of the vector
  return { mb_per_s: bytes / seconds / 1e6, seconds_per_vector: seconds, bytes };
}

/** Connects, measures the raw bandwidth, disconnects. */
export async function measureRawBandwidth(url: string, cluster: boolean, bytes: number): Promise<RawBandwidth> {
  const redis = createRedis({ url, cluster });
  try {
    return await rawBandwidth(redis, bytes);
  } finally {
    await closeRedis(redis);
  }
}

export interface PointOptions {
  readonly workers: number;
  readonly samplesPerWorker: number;
  /** The engine's measured ms per sample at this block size (0 = instant workers). */
  readonly msPerSample: number;
  readonly warmup: number;
  readonly steps: number;
  /** A data directory with the full training set and a small test set (`smallTestSet`). */
  readonly dataDir: string;
  readonly trainCount: number;
  readonly paramBytes: number;
  readonly backend: SelectedBackend;
  /** The repository root: children run there (tsx resolves from it). */
  readonly root: string;
  readonly logPath: string;
}

/**
 * One point: raw bandwidth, then a run of whole batches (runShape) with W emulated workers and W jobs per step,
 * batch = samples per worker x W, K = W leaves, so each job is one leaf of `samplesPerWorker` samples.
 */
export async function measurePoint(target: RedisTarget, o: PointOptions): Promise<ScalingPoint> {
  const before = await measureRawBandwidth(target.url, target.cluster, o.paramBytes);
  const batch = o.samplesPerWorker * o.workers;
  const shape = runShape(o.trainCount, batch, o.warmup, o.steps);
  const pool = startPool(target, o.workers, o.msPerSample, o.root, o.logPath);
  const monitors = target.ports.map((port) => new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 }));
  const checkpointDir = await mkdtemp(join(tmpdir(), 'gradq-bench-scaling-'));
  const stepSeconds: number[] = [];
  let serial: readonly number[] = [];
  // CPU at the end of the warm-up and of the last step; Redis answers INFO asynchronously, so these are promises.
  const marks: Promise<CpuMark>[] = [];
  const mark = () => {
    const coordinator = process.cpuUsage();
    const workers = pool.pid === undefined ? Number.NaN : processCpuSeconds(pool.pid);
    marks.push(
      redisCpuSeconds(monitors).then((redis) => ({
        redis,
        coordinator: (coordinator.user + coordinator.system) / 1e6,
        workers,
      })),
    );
  };
  let cpu: PromiseSettledResult<CpuMark>[] = [];
  try {
    await pool.ready;
    const config = coordinatorConfigSchema.parse({
      epochs: shape.epochs,
      batchSize: batch,
      shardsPerStep: o.workers,
      limit: shape.limit,
      dataDir: o.dataDir,
      redisUrl: target.url,
      redisCluster: target.cluster,
      jobsPerStep: o.workers,
      checkpointEvery: 0,
      metricsPort: 0,
      runId: `bench-scaling-${o.workers}x${o.samplesPerWorker}-${process.pid}-${Date.now() % 100_000}`,
    });
    const log = createWriteStream(o.logPath, { flags: 'a' });
    // Without its workers the coordinator would wait for them for ever (workers may come and go): stop it instead.
    const abort = new AbortController();
    void pool.died.then((why) => abort.abort(new Error(`emulated workers ${why} during the run`)));
    try {
      await runCoordinator(config, o.backend, {
        signal: abort.signal,
        log: (line) => log.write(`scaling coordinator: ${line}\n`),
        checkpoints: loadCheckpointConfig({ CHECKPOINT_DIR: checkpointDir }),
        onStep: (r, source) => {
          stepSeconds.push(r.seconds);
          serial = source.serialMs;
          if (stepSeconds.length === o.warmup || stepSeconds.length === shape.totalSteps) mark();
        },
      });
    } finally {
      log.end();
    }
  } finally {
    cpu = await Promise.allSettled(marks);
    await pool.stop();
    for (const m of monitors) m.disconnect();
    await rm(checkpointDir, { recursive: true, force: true });
  }
  // On a shared machine the raw bandwidth moved 2x between points minutes apart, and one slow measurement put a
  // point at 125% of its bound: the faster of the two, so that a point is compared with what Redis could do then.
  const after = await measureRawBandwidth(target.url, target.cluster, o.paramBytes);
  const raw = after.mb_per_s > before.mb_per_s ? after : before;
  const [start, end] = cpu.map((c) => (c.status === 'fulfilled' ? c.value : undefined));
  const cpuSeconds =
    start && end && Number.isFinite(end.workers - start.workers + end.redis - start.redis)
      ? {
          redis: end.redis - start.redis,
          coordinator: end.coordinator - start.coordinator,
          workers: end.workers - start.workers,
        }
      : undefined;
  return scalingPoint({
    workers: o.workers,
    samplesPerWorker: o.samplesPerWorker,
    msPerSample: o.msPerSample,
    paramBytes: o.paramBytes,
    raw,
    stepSeconds,
    serialMs: serial,
    warmup: o.warmup,
    shape,
    ...(cpuSeconds ? { cpuSeconds } : {}),
  });
}

interface CpuMark {
  readonly redis: number;
  readonly coordinator: number;
  readonly workers: number;
}

/** CPU seconds (user + sys) of every node, from INFO cpu. */
async function redisCpuSeconds(nodes: readonly Redis[]): Promise<number> {
  const infos = await Promise.all(nodes.map((n) => n.info('cpu')));
  let total = 0;
  for (const text of infos) {
    const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    total += field('used_cpu_sys') + field('used_cpu_user');
  }
  return total;
}

interface Pool {
  readonly pid: number | undefined;
  /** Resolves once the workers announced themselves; rejects if the pool exits first. */
  readonly ready: Promise<void>;
  /** Resolves with how the pool exited, if it exits before `stop` (never settles otherwise). */
  readonly died: Promise<string>;
  stop(): Promise<void>;
}

function startPool(target: RedisTarget, workers: number, msPerSample: number, root: string, logPath: string): Pool {
  const args = [
    '--import',
    'tsx',
    fileURLToPath(new URL('./cli/emulated-workers.ts', import.meta.url)),
    '--redis',
    target.url,
    '--workers',
    String(workers),
    '--ms-per-sample',
    String(msPerSample),
    ...(target.cluster ? ['--cluster'] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const log = createWriteStream(logPath, { flags: 'a' });
  let stderr = '';
  let stopping = false;
  const exit = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`exited (${signal ?? `code ${code}`}): ${stderr.slice(-1000)}`));
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderr = (stderr + chunk.toString()).slice(-4000);
      if (stderr.includes('emulated-workers:')) resolve();
    });
    void exit.then((why) => reject(new Error(`emulated workers ${why} before they were ready`)));
  });
  // A pool that dies after starting is reported through `died`; no unhandled rejection here.
  ready.catch(() => {});
  return {
    pid: child.pid,
    ready,
    died: exit.then((why) => (stopping ? new Promise<string>(() => {}) : why)),
    stop: async () => {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(timer);
      }
      log.end();
    },
  };
}
