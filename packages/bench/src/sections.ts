import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { coordinatorParts, stepBreakdown } from './breakdown';
import type { BenchContext } from './context';
import { freePort, freePortRange, runCommand, stopChild } from './processes';
import { histogram, meanOf, sumOf } from './prom-text';
import type { CeilingResult, ClusterResult, EncodingResults, MemoryResult, RedisProbe, StepBreakdown } from './results';
import { runService } from './service-run';

export interface StartRun {
  readonly result: ClusterResult;
  readonly breakdown?: StepBreakdown;
  readonly memory: MemoryResult;
  readonly bytesPerGradient?: number;
  readonly stepMs?: number;
}

interface StartSummary {
  readonly steps: number;
  readonly train_samples_per_s: number;
  readonly test_mse_by_epoch: readonly number[];
}

/** One `pnpm start` (start.ts through node --import tsx) on the bench's Redis, metrics scraped until it exits. */
export async function runStart(
  ctx: BenchContext,
  backend: string,
  workers: number,
  o: { limit: number; epochs: number; extraArgs?: readonly string[]; label?: string },
): Promise<StartRun> {
  const metricsPort = await freePort();
  const workerBase = await freePortRange(workers);
  const checkpoints = await mkdtemp(join(tmpdir(), 'gradq-bench-ckpt-'));
  const K = ctx.sizes.shardsPerStep;
  const label = o.label ?? `${backend}, ${workers} worker(s)`;
  ctx.log(`pnpm start: ${label}, ${o.epochs} epoch(s) of ${o.limit} samples`);
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TFJS_BACKEND: backend,
      REDIS_URL: ctx.redisUrl,
      CHECKPOINT_DIR: checkpoints,
      METRICS_HOST: '127.0.0.1',
    };
    delete env.S3_BUCKET;
    const run = await runService<StartSummary>({
      script: ctx.paths.startCli,
      args: [
        '--workers',
        String(workers),
        '--epochs',
        String(o.epochs),
        '--limit',
        String(o.limit),
        '--batch-size',
        String(ctx.sizes.batchSize),
        '--shards-per-step',
        String(K),
        '--metrics-port',
        String(metricsPort),
        '--metrics-host',
        '127.0.0.1',
        '--worker-metrics-port',
        String(workerBase),
        '--checkpoint-every',
        '0',
        '--data-dir',
        ctx.dataDir,
        ...(o.extraArgs ?? []),
      ],
      env,
      cwd: ctx.root,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      workerMetricsUrls: Array.from({ length: workers }, (_, i) => `http://127.0.0.1:${workerBase + i}/metrics`),
      logPath: ctx.logPath,
      timeoutMs: 15 * 60_000,
      warmupSteps: 2,
    });
    const memory: MemoryResult = {
      run: label,
      ...(run.coordinatorPeakRss !== undefined ? { coordinatorPeakRssBytes: run.coordinatorPeakRss } : {}),
      ...(run.childPeakRss.length ? { workerPeakRssBytes: Math.max(...run.childPeakRss) } : {}),
    };
    if (run.code !== 0 || !run.summary) {
      const why = run.timedOut ? 'timed out' : `exit ${run.code}: ${run.stderrTail.trim().split('\n').at(-1) ?? ''}`;
      ctx.log(`  failed: ${why}`);
      return { result: { backend, workers, ok: false, error: why }, memory };
    }
    const s = run.summary;
    ctx.log(`  ${Math.round(s.train_samples_per_s)} samples/s`);
    const result: ClusterResult = {
      backend,
      workers,
      ok: true,
      samplesPerSecond: s.train_samples_per_s,
      steps: s.steps,
      wallSeconds: run.wallSeconds,
      testMse: s.test_mse_by_epoch.at(-1) ?? Number.NaN,
    };
    if (!run.coordinator) return { result, memory };
    const breakdown = stepBreakdown(backend, workers, K, run.coordinator, run.workers, run.workerScrapeError);
    const gradBytes = sumOf(run.coordinator, 'gradq_transfer_bytes_total', { kind: 'gradients' });
    const gradients = histogram(run.coordinator, 'gradq_step_duration_seconds').count * K;
    return {
      result,
      breakdown,
      memory,
      ...(gradients > 0 ? { bytesPerGradient: gradBytes / gradients } : {}),
      stepMs: breakdown.coordinator.step * 1000,
    };
  } finally {
    await rm(checkpoints, { recursive: true, force: true });
  }
}

/** Raw Redis: SET then GET (getBuffer) of one large value, the data plane's ceiling on this machine. */
export async function probeRedis(url: string, valueBytes: number, iterations: number): Promise<RedisProbe> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const value = Buffer.alloc(valueBytes);
    for (let i = 0; i < valueBytes; i += 4) value.writeUInt32LE((i * 2654435761) >>> 0, i);
    const key = 'gradq-bench:probe';
    for (let i = 0; i < 5; i++) {
      await redis.set(key, value);
      await redis.getBuffer(key);
    }
    let set = 0;
    let get = 0;
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await redis.set(key, value);
      const t1 = performance.now();
      const back = await redis.getBuffer(key);
      const t2 = performance.now();
      if (back?.byteLength !== valueBytes) throw new Error('Redis returned a different value');
      set += t1 - t0;
      get += t2 - t1;
    }
    await redis.del(key);
    const setMs = set / iterations;
    const getMs = get / iterations;
    const mbps = (ms: number) => valueBytes / 1e6 / (ms / 1000);
    return {
      valueBytes,
      iterations,
      setMs,
      getMs,
      setMBps: mbps(setMs),
      getMBps: mbps(getMs),
      roundTripMBps: mbps(setMs + getMs),
    };
  } finally {
    redis.disconnect();
  }
}

/**
 * Section 4: the real coordinator (its own CLI) against a pool that answers every job instantly with a precomputed
 * gradient, next to raw Redis measured just before on the same server.
 */
export async function measureCeiling(ctx: BenchContext, backend: string, paramBytes: number): Promise<CeilingResult> {
  const redis = await probeRedis(ctx.redisUrl, paramBytes, ctx.sizes.redisProbeIterations);
  ctx.log(
    `raw Redis, ${(paramBytes / 1e6).toFixed(2)} MB value: SET ${redis.setMBps.toFixed(0)} MB/s, GET ${redis.getMBps.toFixed(0)} MB/s`,
  );
  const K = ctx.sizes.shardsPerStep;
  const metricsPort = await freePort();
  const checkpoints = await mkdtemp(join(tmpdir(), 'gradq-bench-ckpt-'));
  const fake = spawn(
    process.execPath,
    ['--import', 'tsx', ctx.paths.fakeWorkersCli, String(ctx.sizes.fakeWorkerConcurrency)],
    {
      cwd: ctx.root,
      env: { ...process.env, REDIS_URL: ctx.redisUrl },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  fake.stderr.on('data', () => {});
  ctx.log(
    `coordinator ceiling: ${backend}, K = ${K}, ${ctx.sizes.ceilingEpochs} epoch(s) of ${ctx.sizes.ceilingLimit} samples, instant fake workers`,
  );
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TFJS_BACKEND: backend,
      REDIS_URL: ctx.redisUrl,
      CHECKPOINT_DIR: checkpoints,
    };
    delete env.S3_BUCKET;
    const run = await runService<{ steps: number }>({
      script: ctx.paths.coordinatorCli,
      args: [
        '--epochs',
        String(ctx.sizes.ceilingEpochs),
        '--limit',
        String(ctx.sizes.ceilingLimit),
        '--batch-size',
        String(ctx.sizes.batchSize),
        '--shards-per-step',
        String(K),
        '--metrics-port',
        String(metricsPort),
        '--metrics-host',
        '127.0.0.1',
        '--checkpoint-every',
        '0',
        '--data-dir',
        ctx.dataDir,
      ],
      env,
      cwd: ctx.root,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      logPath: ctx.logPath,
      timeoutMs: 10 * 60_000,
      warmupSteps: 3,
    });
    if (run.code !== 0 || !run.coordinator) {
      throw new Error(`coordinator exited ${run.code}: ${run.stderrTail.trim().split('\n').at(-1) ?? ''}`);
    }
    const c = coordinatorParts(run.coordinator);
    const step = histogram(run.coordinator, 'gradq_step_duration_seconds');
    const gradBytes = sumOf(run.coordinator, 'gradq_transfer_bytes_total', { kind: 'gradients' });
    const gradients = step.count * K;
    const result: CeilingResult = {
      backend,
      shardsPerStep: K,
      steps: step.count,
      gradientBytes: gradBytes / gradients,
      gradientsPerSecond: gradients / step.sum,
      ingestMBps: gradBytes / 1e6 / step.sum,
      stepMs: meanOf(step) * 1000,
      serialMs: (meanOf(step) - c.waitGradients) * 1000,
      parts: {
        publish: c.publish * 1000,
        waitGradients: c.waitGradients * 1000,
        average: c.average * 1000,
        optimizer: c.optimizer * 1000,
        readAndCleanup: c.readAndCleanup * 1000,
      },
      redis,
      ...(run.coordinatorPeakRss !== undefined ? { coordinatorPeakRssBytes: run.coordinatorPeakRss } : {}),
    };
    ctx.log(
      `  ${result.gradientsPerSecond.toFixed(0)} gradients/s, ${result.ingestMBps.toFixed(0)} MB/s, serial ${result.serialMs.toFixed(1)} ms/step`,
    );
    return result;
  } finally {
    await stopChild(fake, 5000);
    await rm(checkpoints, { recursive: true, force: true });
  }
}

/** Section 7: runs only when `pnpm start --help` lists --grad-encoding (the lead is adding it). */
export async function measureEncodings(ctx: BenchContext, backend: string): Promise<EncodingResults> {
  const help = await runCommand(process.execPath, ['--import', 'tsx', ctx.paths.startCli, '--help'], { cwd: ctx.root });
  if (!help.stdout.includes('--grad-encoding')) {
    return { available: false, note: 'not available yet: `pnpm start --help` does not list --grad-encoding' };
  }
  const runs: Extract<EncodingResults, { available: true }>['runs'][number][] = [];
  for (const encoding of ['f32', 'f16', 'bf16']) {
    const r = await runStart(ctx, backend, ctx.sizes.encodingWorkers, {
      limit: ctx.sizes.encodingLimit,
      epochs: ctx.sizes.encodingEpochs,
      extraArgs: ['--grad-encoding', encoding],
      label: `${backend}, ${ctx.sizes.encodingWorkers} workers, --grad-encoding ${encoding}`,
    });
    if (!r.result.ok) runs.push({ encoding, ok: false, error: r.result.error });
    else
      runs.push({
        encoding,
        ok: true,
        bytesPerGradient: r.bytesPerGradient ?? Number.NaN,
        stepMs: r.stepMs ?? Number.NaN,
        testMse: r.result.testMse,
        samplesPerSecond: r.result.samplesPerSecond,
      });
  }
  return { available: true, backend, runs };
}
