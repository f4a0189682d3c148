import { loadavg } from 'node:os';
import { bestCoreType } from '@gradq/native-kernels';
import type { BenchContext } from './context';
import { lastJsonLine, runCommand } from './processes';
import type { BackendRun, Contender, GradqRun, Outcome, SingleResults, SingleRound, Spread, TorchRun } from './results';
import { perRoundRatios, rotation, spread } from './stats';

/** Section 1's three measurements, in the first round's order (later rounds rotate it). */
export const CONTENDERS: readonly Contender[] = ['torch', 'k4', 'k1'];

/** The tfjs backend of `pnpm baseline` in section 1: the one the native engine runs on. */
export const SINGLE_BACKEND = 'cpu-native';

/**
 * The environment of every measured child, whatever the shell exported.
 *
 * One BLAS thread: the comparison is per core, gradq pins its own OpenBLAS to one thread (GRADQ_BLAS_THREADS), and
 * on a 2-core machine a second thread only fights the neighbouring processes.
 *
 * glibc's mmap threshold fixed at 32 MiB and trimming off: by default glibc serves each allocation over its
 * (dynamic) threshold with a fresh mmap and returns it at free, so PyTorch's per-step activations page-faulted in
 * afresh every step: 639k minor faults and 5,904 samples/s over the full epoch against 153k and 17,261 with these
 * two settings (same machine, back to back); how bad it gets depended on the data's size (30,000 samples: 11,489).
 * gradq's children are unaffected (14,286 vs 13,894 samples/s) and get the same settings, so that both sides are
 * measured on their compute, not on the allocator's history.
 *
 * OpenBLAS's core type: the best this CPU runs, for PyTorch and gradq alike, whatever the shell exported. This
 * machine's environment pins OPENBLAS_CORETYPE=Haswell (AVX2), under which PyTorch ran at 12,700-15,700 samples/s
 * against 23,300-25,400 with SkylakeX (AVX-512 on this AMD EPYC), same hour. gradq's engine does not use OpenBLAS.
 */
const CORE_TYPE = bestCoreType();
export const CHILD_ENV: NodeJS.ProcessEnv = {
  GRADQ_BLAS_THREADS: '1',
  OPENBLAS_NUM_THREADS: '1',
  OMP_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
  MALLOC_MMAP_THRESHOLD_: String(32 * 2 ** 20),
  MALLOC_TRIM_THRESHOLD_: String(2 ** 32 - 1),
  ...(CORE_TYPE === undefined ? {} : { OPENBLAS_CORETYPE: CORE_TYPE }),
};

/**
 * Section 1: PyTorch (1 thread), `pnpm baseline` at K = 4 (its default) and at K = 1, interleaved: `rounds` rounds
 * of the three in a rotating order, each measurement in a fresh process, the load average noted before each round.
 * The ratios are taken within each round, then summarised.
 */
export async function measureSingle(ctx: BenchContext): Promise<SingleResults> {
  const sizes = ctx.sizes.single;
  const torchVersion = await probeTorch(ctx);
  const rounds: SingleRound[] = [];
  for (let i = 0; i < sizes.rounds; i++) {
    const order = rotation(CONTENDERS, i);
    const loadAverage = loadavg().map((l) => Math.round(l * 100) / 100);
    ctx.log(`single process, round ${i + 1}/${sizes.rounds}: ${order.join(', ')}; load ${loadAverage.join(' ')}`);
    const got: { torch?: Outcome<TorchRun>; k4?: Outcome<GradqRun>; k1?: Outcome<GradqRun> } = {};
    for (const who of order) {
      if (who === 'torch') got.torch = torchVersion.ok ? await runTorch(ctx) : torchVersion;
      else got[who] = await runGradq(ctx, { shardsPerStep: who === 'k4' ? 4 : 1 });
      const r = got[who];
      ctx.log(
        r?.ok
          ? `  ${who}: ${Math.round(r.samplesPerSecond)} samples/s over ${r.steps} steps (halves ${r.halves.map(Math.round).join(' / ')})${'engine' in r ? `, ${r.engine}` : ''}`
          : `  ${who}: not measured: ${r?.error}`,
      );
    }
    rounds.push({
      order,
      loadAverage,
      torch: got.torch ?? { ok: false, error: 'not run' },
      k4: got.k4 ?? { ok: false, error: 'not run' },
      k1: got.k1 ?? { ok: false, error: 'not run' },
    });
  }
  const rates = (who: Contender) => rounds.map((r) => (r[who].ok ? r[who].samplesPerSecond : undefined));
  const defined = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);
  const figures: Partial<Record<Contender, Spread>> = {};
  for (const who of CONTENDERS) {
    const s = spread(defined(rates(who)));
    if (s) figures[who] = s;
  }
  const k4VsTorch = spread(perRoundRatios(rates('k4'), rates('torch')));
  const k4VsK1 = spread(perRoundRatios(rates('k4'), rates('k1')));
  return {
    sizes,
    backend: SINGLE_BACKEND,
    rounds,
    ...figures,
    ratios: { ...(k4VsTorch ? { k4VsTorch } : {}), ...(k4VsK1 ? { k4VsK1 } : {}) },
  };
}

/** The backend survey: each tfjs backend in its own process, a short run at K = 4 and one shard's compute time. */
export async function measureBackends(ctx: BenchContext): Promise<BackendRun[]> {
  const out: BackendRun[] = [];
  for (const backend of ['tensorflow', 'cpu-native', 'wasm', 'cpu']) {
    const { warmup, steps } = ctx.sizes.backendSteps[backend] ?? { warmup: 2, steps: 10 };
    ctx.log(`backend ${backend}: ${warmup} warm-up + ${steps} steps, then ${ctx.sizes.shardSamples}-sample blocks`);
    const r = (await runGradq(ctx, {
      backend,
      shardsPerStep: ctx.sizes.shardsPerStep,
      warmup,
      limit: (warmup + steps) * ctx.sizes.batchSize,
      shardSamples: ctx.sizes.shardSamples,
    })) as BackendRun;
    out.push(r);
    ctx.log(
      r.ok
        ? `  ${Math.round(r.samplesPerSecond)} samples/s (${r.engine}), ${r.shardComputeMs.toFixed(1)} ms per shard`
        : `  not measured: ${r.error}`,
    );
  }
  return out;
}

interface GradqOptions {
  readonly shardsPerStep: number;
  readonly backend?: string;
  readonly warmup?: number;
  readonly limit?: number;
  readonly shardSamples?: number;
}

/** One `single-process.ts` child; section 1's sizes unless given. */
async function runGradq(ctx: BenchContext, o: GradqOptions): Promise<Outcome<GradqRun>> {
  const backend = o.backend ?? SINGLE_BACKEND;
  const args = [
    '--import',
    'tsx',
    ctx.paths.singleProcessCli,
    '--backend',
    backend,
    '--shards-per-step',
    String(o.shardsPerStep),
    '--batch-size',
    String(ctx.sizes.batchSize),
    '--limit',
    String(o.limit ?? ctx.sizes.single.limit),
    '--warmup',
    String(o.warmup ?? ctx.sizes.single.warmupSteps),
    '--shard-samples',
    String(o.shardSamples ?? 0),
    '--data-dir',
    ctx.dataDir,
  ];
  const r = await runCommand(process.execPath, args, {
    cwd: ctx.root,
    env: { ...process.env, ...CHILD_ENV },
    logPath: ctx.logPath,
    timeoutMs: 15 * 60_000,
  });
  const parsed = lastJsonLine<Outcome<GradqRun>>(r.stdout);
  if (parsed?.ok) return parsed;
  // The backend names the failure in the survey's table (a child that crashed says nothing about it).
  const error = parsed?.error ?? `exit ${r.code}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`;
  return { ok: false, error, backend } as Outcome<GradqRun>;
}

/** PyTorch's version, or why it cannot run. */
async function probeTorch(ctx: BenchContext): Promise<{ ok: true; version: string } | { ok: false; error: string }> {
  const probe = await runCommand(ctx.paths.python, ['-c', 'import torch; print(torch.__version__)'], {
    cwd: ctx.root,
  });
  if (probe.code === 0) return { ok: true, version: probe.stdout.trim() };
  return {
    ok: false,
    error: `no PyTorch for ${ctx.paths.python} (apt-get install -y python3-torch libopenblas0-pthread, or --python)`,
  };
}

/** One torch_bench.py child at 1 thread, section 1's epoch and warm-up. */
async function runTorch(ctx: BenchContext): Promise<Outcome<TorchRun>> {
  const r = await runCommand(
    ctx.paths.python,
    [
      ctx.paths.torchScript,
      '--threads',
      '1',
      '--limit',
      String(ctx.sizes.single.limit),
      '--warmup',
      String(ctx.sizes.single.warmupSteps),
      '--batch-size',
      String(ctx.sizes.batchSize),
      '--data-dir',
      ctx.dataDir,
    ],
    { cwd: ctx.root, env: { ...process.env, ...CHILD_ENV }, logPath: ctx.logPath, timeoutMs: 10 * 60_000 },
  );
  const j = lastJsonLine<TorchRun>(r.stdout);
  if (!j) return { ok: false, error: `torch_bench.py exited ${r.code}: ${r.stderr.trim().split('\n').at(-1) ?? ''}` };
  return { ok: true, ...j };
}
