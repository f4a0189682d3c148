/**
 * Section `cluster`: real `pnpm start` with 1 and 2 worker processes at batch 128 (the default) and 1,024, and
 * `pnpm baseline`'s path at 1,024, in interleaved rounds, the order rotated each round. Same limit, epochs, seed and
 * K everywhere, so the final parameters must be bit-identical within a batch size.
 */
import { loadavg } from 'node:os';
import { CLUSTER_LABELS, clusterFigures } from './cluster-figures';
import type { BenchContext } from './context';
import { lastJsonLine, runCommand } from './processes';
import {
  CLUSTER_CONFIGS,
  type ClusterConfig,
  type ClusterResults,
  type ClusterRound,
  type ClusterRun,
  type GradqRun,
  type MemoryResult,
  type Outcome,
  type StepBreakdown,
} from './results';
import { RUN_BACKEND, type RunSize, runBaselineCli, runStart } from './sections';
import { CHILD_ENV } from './single';
import { rotation } from './stats';

const BATCH: Record<ClusterConfig, number> = {
  b128_w1: 128,
  b128_w2: 128,
  b1024_w1: 1024,
  b1024_w2: 1024,
  b1024_baseline: 1024,
};

export async function measureCluster(ctx: BenchContext): Promise<ClusterResults> {
  const z = ctx.sizes.cluster;
  const size = (config: ClusterConfig): RunSize => ({ batchSize: BATCH[config], limit: z.limit, epochs: z.epochs });
  ctx.log(`cluster: pnpm baseline CLI, batch 1024, ${z.epochs} epoch(s) of ${z.limit} samples (the reference hash)`);
  const cli = await runBaselineCli(ctx, size('b1024_baseline'));
  const baselineCli: ClusterResults['baselineCli'] = cli.ok
    ? {
        ok: true,
        paramsSha256: cli.summary.params_sha256,
        samplesPerSecond: cli.summary.train_samples_per_s,
        testMse: cli.summary.test_mse_by_epoch.at(-1) ?? Number.NaN,
      }
    : cli;
  ctx.log(cli.ok ? `  params ${cli.summary.params_sha256.slice(0, 12)}` : `  failed: ${cli.error}`);

  const rounds: ClusterRound[] = [];
  let breakdown: StepBreakdown[] = [];
  let memory: MemoryResult[] = [];
  for (let i = 0; i < z.rounds; i++) {
    const order = rotation(CLUSTER_CONFIGS, i);
    const loadAverage = loadavg().map((l) => Math.round(l * 100) / 100);
    ctx.log(`cluster, round ${i + 1}/${z.rounds}: load ${loadAverage.join(' ')}`);
    const runs: ClusterRun[] = [];
    // The breakdown and memory of the last round are kept (the earlier rounds' look the same).
    breakdown = [];
    memory = [];
    for (const config of order) {
      const started = performance.now();
      let run: ClusterRun;
      if (config === 'b1024_baseline') {
        const r = await runBaselinePath(ctx, size(config), z.warmupSteps);
        const wallSeconds = (performance.now() - started) / 1000;
        run = r.ok
          ? {
              config,
              wallSeconds,
              ok: true,
              samplesPerSecond: r.samplesPerSecond,
              // The baseline path times steps only; its whole-run figure is the same steps plus the warm-up.
              wholeRunSamplesPerSecond: Number.NaN,
              stepsMeasured: r.steps,
              stepsExcluded: r.warmupSteps,
              steps: r.steps + r.warmupSteps,
              paramsSha256: r.paramsSha256 ?? '',
              testMse: Number.NaN,
            }
          : { config, wallSeconds, ok: false, error: r.error };
      } else {
        const workers = config.endsWith('w2') ? 2 : 1;
        const r = await runStart(ctx, workers, size(config), {
          label: CLUSTER_LABELS[config],
          warmupSteps: z.warmupSteps,
        });
        memory.push(r.memory);
        if (r.ok && r.breakdown) breakdown.push(r.breakdown);
        run = r.ok
          ? {
              config,
              wallSeconds: r.wallSeconds,
              ok: true,
              samplesPerSecond: r.samplesPerSecond,
              wholeRunSamplesPerSecond: r.summary.train_samples_per_s,
              stepsMeasured: r.stepsMeasured,
              stepsExcluded: r.stepsExcluded,
              steps: r.summary.steps,
              paramsSha256: r.summary.params_sha256,
              testMse: r.summary.test_mse_by_epoch.at(-1) ?? Number.NaN,
            }
          : { config, wallSeconds: r.wallSeconds, ok: false, error: r.error };
      }
      runs.push(run);
      ctx.log(
        run.ok
          ? `  ${CLUSTER_LABELS[config]}: ${Math.round(run.samplesPerSecond)} samples/s over ${run.stepsMeasured} steps (${run.stepsExcluded} excluded), params ${run.paramsSha256.slice(0, 12)}`
          : `  ${CLUSTER_LABELS[config]}: failed: ${run.error}`,
      );
    }
    rounds.push({ order, loadAverage, runs });
  }
  return { sizes: z, rounds, ...clusterFigures(rounds), baselineCli, breakdown, memory };
}

/**
 * `pnpm baseline`'s own path (`prepareTrainee`, `prepareEngine`, `train` with `localGradientSource`) in a child
 * that times the steps after `warmup` (single-process.ts): the baseline CLI prints only a whole-run figure.
 */
async function runBaselinePath(ctx: BenchContext, size: RunSize, warmup: number): Promise<Outcome<GradqRun>> {
  const r = await runCommand(
    process.execPath,
    [
      '--import',
      'tsx',
      ctx.paths.singleProcessCli,
      '--backend',
      RUN_BACKEND,
      '--shards-per-step',
      String(ctx.sizes.shardsPerStep),
      '--batch-size',
      String(size.batchSize),
      '--limit',
      String(size.limit),
      '--epochs',
      String(size.epochs),
      '--warmup',
      String(warmup),
      '--data-dir',
      ctx.dataDir,
    ],
    { cwd: ctx.root, env: { ...process.env, ...CHILD_ENV }, logPath: ctx.logPath, timeoutMs: 15 * 60_000 },
  );
  const parsed = lastJsonLine<Outcome<GradqRun>>(r.stdout);
  if (parsed?.ok) return parsed;
  return { ok: false, error: parsed?.error ?? `exit ${r.code}: ${r.stderr.trim().split('\n').at(-1) ?? ''}` };
}
