/** The services the cluster and encoding sections run: `pnpm start` with its /metrics scraped, and `pnpm baseline`. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePortRange } from '@gradq/testing';
import type { RunSummary } from '@gradq/trainer';
import { steadyThroughput, stepBreakdown } from './breakdown';
import type { BenchContext } from './context';
import { lastJsonLine, runCommand } from './processes';
import type { MemoryResult, StepBreakdown } from './results';
import { runService } from './service-run';
import { CHILD_ENV } from './single';

/** The tfjs backend of every run of these sections: the one the native engine runs on. */
export const RUN_BACKEND = 'cpu-native';

export interface RunSize {
  readonly batchSize: number;
  readonly limit: number;
  readonly epochs: number;
}

export type StartRun =
  | {
      readonly ok: true;
      /** Steady state: samples over step seconds after the warm-up scrape (the coordinator's own counters). */
      readonly samplesPerSecond: number;
      /** How many steps that covers, and how many came before it (excluded). */
      readonly stepsMeasured: number;
      readonly stepsExcluded: number;
      readonly summary: RunSummary;
      readonly wallSeconds: number;
      readonly breakdown?: StepBreakdown;
      readonly memory: MemoryResult;
    }
  | { readonly ok: false; readonly error: string; readonly wallSeconds: number; readonly memory: MemoryResult };

/**
 * One `pnpm start` (start.ts through node --import tsx) on the bench's Redis, metrics scraped until it exits. The
 * figures after the first scrape showing `warmupSteps` steps are the steady state: the summary's
 * `train_samples_per_s` counts the first steps too, which wait for the worker processes to start.
 */
export async function runStart(
  ctx: BenchContext,
  workers: number,
  size: RunSize,
  o: { label: string; warmupSteps: number; extraArgs?: readonly string[] },
): Promise<StartRun> {
  const metricsPort = await freePort();
  const workerBase = await freePortRange(workers);
  const checkpoints = await mkdtemp(join(tmpdir(), 'gradq-bench-ckpt-'));
  const K = ctx.sizes.shardsPerStep;
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...CHILD_ENV,
      TFJS_BACKEND: RUN_BACKEND,
      REDIS_URL: ctx.redisUrl,
      CHECKPOINT_DIR: checkpoints,
      METRICS_HOST: '127.0.0.1',
    };
    delete env.S3_BUCKET;
    const run = await runService<RunSummary>({
      script: ctx.paths.startCli,
      args: [
        '--workers',
        String(workers),
        ...trainingArgs(size, K),
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
      warmupSteps: o.warmupSteps,
    });
    const memory: MemoryResult = {
      run: o.label,
      ...(run.coordinatorPeakRss !== undefined ? { coordinatorPeakRssBytes: run.coordinatorPeakRss } : {}),
      ...(run.childPeakRss.length ? { workerPeakRssBytes: Math.max(...run.childPeakRss) } : {}),
    };
    if (run.code !== 0 || !run.summary) {
      const why = run.timedOut ? 'timed out' : `exit ${run.code}: ${run.stderrTail.trim().split('\n').at(-1) ?? ''}`;
      return { ok: false, error: why, wallSeconds: run.wallSeconds, memory };
    }
    const s = run.summary;
    const steady = run.coordinator ? steadyThroughput(run.coordinator) : undefined;
    // No scrape (a run shorter than one poll): the summary's figure is all there is, and the report says so.
    const measured = steady && steady.steps > 0 ? steady : { samplesPerSecond: s.train_samples_per_s, steps: s.steps };
    return {
      ok: true,
      samplesPerSecond: measured.samplesPerSecond,
      stepsMeasured: measured.steps,
      stepsExcluded: steady && steady.steps > 0 ? run.warmupStepsExcluded : 0,
      summary: s,
      wallSeconds: run.wallSeconds,
      memory,
      ...(run.coordinator
        ? { breakdown: stepBreakdown(o.label, workers, K, run.coordinator, run.workers, run.workerScrapeError) }
        : {}),
    };
  } finally {
    await rm(checkpoints, { recursive: true, force: true });
  }
}

/** The real `pnpm baseline` CLI (packages/trainer/src/cli/baseline.ts) on the native engine; its summary. */
export async function runBaselineCli(
  ctx: BenchContext,
  size: RunSize,
  extraArgs: readonly string[] = [],
): Promise<{ ok: true; summary: RunSummary; seconds: number } | { ok: false; error: string }> {
  const r = await runCommand(
    process.execPath,
    [
      '--import',
      'tsx',
      ctx.paths.baselineCli,
      ...trainingArgs(size, ctx.sizes.shardsPerStep),
      '--data-dir',
      ctx.dataDir,
      ...extraArgs,
    ],
    {
      cwd: ctx.root,
      env: { ...process.env, ...CHILD_ENV, TFJS_BACKEND: RUN_BACKEND },
      logPath: ctx.logPath,
      timeoutMs: 30 * 60_000,
    },
  );
  const summary = lastJsonLine<RunSummary>(r.stdout);
  if (r.code === 0 && summary?.params_sha256) return { ok: true, summary, seconds: r.seconds };
  return { ok: false, error: `exit ${r.code}: ${r.stderr.trim().split('\n').at(-1) ?? ''}` };
}

/** The training settings `pnpm start` and `pnpm baseline` share, so that both runs train the same thing. */
function trainingArgs(size: RunSize, shardsPerStep: number): string[] {
  return [
    '--epochs',
    String(size.epochs),
    '--limit',
    String(size.limit),
    '--batch-size',
    String(size.batchSize),
    '--shards-per-step',
    String(shardsPerStep),
  ];
}
