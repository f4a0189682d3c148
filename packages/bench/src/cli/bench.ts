/**
 * pnpm bench: measures `pnpm baseline` against PyTorch at steady state, each backend, cluster throughput, where a
 * step's time goes, the coordinator's ceiling, peak memory, a scaling model with its chart, and gradient encodings,
 * in one run; writes BENCHMARKS.md, the chart and bench-results.json. See packages/bench/README.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LAYER_SIZES } from '@gradq/model';
import { type OptionSpec, readOptions, runMain, usage } from '@gradq/trainer';
import { z } from 'zod';
import { renderCharts } from '../chart/line-chart';
import type { BenchContext } from '../context';
import { machineInfo } from '../machine';
import { startPrivateRedis } from '../processes';
import { renderMarkdown, targets } from '../report';
import type {
  BenchResults,
  CeilingResult,
  ClusterResult,
  MemoryResult,
  ScalingResult,
  StepBreakdown,
} from '../results';
import { project, scalingCharts, scalingInputs } from '../scaling-inputs';
import { powersOfTwo } from '../scaling-model';
import { measureCeiling, measureEncodings, runStart } from '../sections';
import { measureBackends, measureSingle } from '../single';
import { benchSizes } from '../sizes';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SECTIONS = ['single', 'backends', 'cluster', 'ceiling', 'encodings'] as const;

const OPTIONS: readonly OptionSpec[] = [
  { key: 'quick', flag: 'quick', type: 'boolean', doc: 'small sizes: a smoke run of a few minutes (default off)' },
  { key: 'dataDir', flag: 'data-dir', env: 'MNIST_DIR', doc: 'MNIST .gz files (default data/mnist)' },
  { key: 'out', flag: 'out', doc: 'the report (default BENCHMARKS.md)' },
  { key: 'json', flag: 'json', doc: 'the results as JSON (default bench-results.json)' },
  { key: 'chart', flag: 'chart', doc: 'the scaling chart (default docs/bench-scaling.png)' },
  { key: 'sections', flag: 'sections', doc: `comma-separated subset of ${SECTIONS.join(',')} (default all)` },
  {
    key: 'singleRounds',
    flag: 'rounds',
    doc: 'rounds of (PyTorch, pnpm baseline K = 4, K = 1) in section 1 (default 6, quick 1)',
  },
  { key: 'python', flag: 'python', doc: 'a python3 with torch, for section 1 (default /usr/bin/python3)' },
  {
    key: 'clusterLimit',
    flag: 'cluster-limit',
    doc: 'samples per epoch of the pnpm start runs (default 8192, quick 1024)',
  },
  { key: 'clusterEpochs', flag: 'cluster-epochs', doc: 'epochs of the pnpm start runs (default 2, quick 1)' },
  {
    key: 'encodingLimit',
    flag: 'encoding-limit',
    doc: 'samples per epoch of the encoding runs (default 8192, quick 1024)',
  },
  { key: 'encodingEpochs', flag: 'encoding-epochs', doc: 'epochs of the encoding runs (default 10, quick 1)' },
  {
    key: 'linkMBps',
    flag: 'link-mbps',
    doc: "the Redis host's link in the scaling model, MB/s (default 1250 = 10 GbE)",
  },
  { key: 'help', flag: 'help', type: 'boolean', doc: 'print this help' },
];
const optionalInt = z.coerce.number().int().min(1).optional();
const schema = z.object({
  quick: z.boolean().default(false),
  dataDir: z.string().min(1).default('data/mnist'),
  out: z.string().min(1).default('BENCHMARKS.md'),
  json: z.string().min(1).default('bench-results.json'),
  chart: z.string().min(1).default('docs/bench-scaling.png'),
  sections: z
    .string()
    .default(SECTIONS.join(','))
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(SECTIONS))),
  clusterLimit: optionalInt,
  clusterEpochs: optionalInt,
  encodingLimit: optionalInt,
  encodingEpochs: optionalInt,
  linkMBps: z.coerce.number().positive().optional(),
  singleRounds: optionalInt,
  python: z.string().min(1).default('/usr/bin/python3'),
  help: z.boolean().optional(),
});

runMain(async () => {
  const config = readOptions(OPTIONS, schema, process.argv.slice(2), process.env);
  if (config.help) {
    process.stdout.write(
      `${usage('pnpm bench', OPTIONS)}\n\nWrites BENCHMARKS.md, the scaling chart and bench-results.json.\n`,
    );
    return;
  }
  const started = new Date();
  const t0 = performance.now();
  const at = (p: string) => resolve(process.cwd(), p);
  const log = (line: string) =>
    process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
  const sizes = benchSizes(config.quick, config);
  const logPath = join(tmpdir(), `gradq-bench-${process.pid}.log`);
  const machine = machineInfo(ROOT);
  log(
    `pnpm bench${config.quick ? ' --quick' : ''}: ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverageAtStart.join(' ')}; children's logs in ${logPath}`,
  );
  const redis = await startPrivateRedis();
  log(`private redis-server at ${redis.url}`);
  const ctx: BenchContext = {
    root: ROOT,
    dataDir: at(config.dataDir),
    redisUrl: redis.url,
    sizes,
    logPath,
    paths: {
      startCli: join(ROOT, 'services/coordinator/src/cli/start.ts'),
      coordinatorCli: join(ROOT, 'services/coordinator/src/cli/coordinator.ts'),
      singleProcessCli: join(ROOT, 'packages/bench/src/cli/single-process.ts'),
      fakeWorkersCli: join(ROOT, 'packages/bench/src/cli/fake-workers.ts'),
      torchScript: join(ROOT, 'packages/bench/python/torch_bench.py'),
      python: config.python,
    },
    log,
  };
  const want = new Set(config.sections);
  let paramCount = 0;
  for (let i = 1; i < DEFAULT_LAYER_SIZES.length; i++) {
    paramCount +=
      (DEFAULT_LAYER_SIZES[i - 1] as number) * (DEFAULT_LAYER_SIZES[i] as number) + (DEFAULT_LAYER_SIZES[i] as number);
  }
  const paramBytes = paramCount * 4;

  try {
    const single: BenchResults['single'] = want.has('single')
      ? await measureSingle(ctx)
      : { error: 'not run (--sections)' };
    const backends = want.has('backends') ? await measureBackends(ctx) : [];
    const loaded = (b: string) => !want.has('backends') || backends.some((s) => s.backend === b && s.ok);

    const cluster: ClusterResult[] = [];
    const breakdown: StepBreakdown[] = [];
    const memory: MemoryResult[] = [];
    if (want.has('cluster')) {
      for (const backend of ['wasm', 'cpu-native'].filter(loaded)) {
        for (const workers of [1, 2]) {
          const r = await runStart(ctx, backend, workers, { limit: sizes.clusterLimit, epochs: sizes.clusterEpochs });
          cluster.push(r.result);
          memory.push(r.memory);
          if (workers === 2 && r.breakdown) breakdown.push(r.breakdown);
        }
      }
    }
    const best = loaded('cpu-native') ? 'cpu-native' : 'wasm';
    let ceiling: CeilingResult | { error: string } = { error: 'not run (--sections)' };
    if (want.has('ceiling')) {
      try {
        ceiling = await measureCeiling(ctx, best, paramBytes);
        memory.push({
          run: `coordinator ceiling (${best}, instant fake workers)`,
          ...(ceiling.coordinatorPeakRssBytes !== undefined
            ? { coordinatorPeakRssBytes: ceiling.coordinatorPeakRssBytes }
            : {}),
        });
      } catch (err) {
        ceiling = { error: (err as Error).message };
        log(`coordinator ceiling failed: ${ceiling.error}`);
      }
    }

    let scaling: ScalingResult | { error: string } = { error: 'needs the backends and ceiling sections' };
    if (!('error' in ceiling) && backends.some((s) => s.ok)) {
      const inputs = scalingInputs(backends, ceiling, paramBytes, sizes.linkMBps);
      const sizesW = powersOfTwo(256);
      const projections = project(inputs, sizesW);
      const chartPath = at(config.chart);
      await mkdir(dirname(chartPath), { recursive: true });
      await writeFile(chartPath, renderCharts(scalingCharts(projections)));
      log(`scaling chart: ${relative(process.cwd(), chartPath)}`);
      scaling = {
        inputs: Object.fromEntries(
          Object.entries(inputs).map(([b, i]) => [
            b,
            {
              'compute per shard (ms)': i.computeSeconds * 1000,
              'gradient bytes': i.gradientBytes,
              'Redis SET MB/s': i.redisSetMBps,
              'Redis GET MB/s': i.redisGetMBps,
              'link MB/s': i.linkMBps,
              'publish (ms)': i.publishSeconds * 1000,
              'optimizer (ms)': i.optimizerSeconds * 1000,
              'average per gradient (ms)': i.averagePerGradientSeconds * 1000,
              'dispatch per job (ms)': i.dispatchPerJobSeconds * 1000,
            },
          ]),
        ),
        sizes: sizesW,
        projections,
        chartPath: relative(ROOT, chartPath),
      };
    }

    const encodings: BenchResults['encodings'] = want.has('encodings')
      ? await measureEncodings(ctx, best)
      : { available: false, note: 'not run (--sections)' };
    if (!encodings.available) log(`encodings: ${encodings.note}`);

    const results: BenchResults = {
      version: 2,
      quick: config.quick,
      startedAt: started.toISOString(),
      durationSeconds: (performance.now() - t0) / 1000,
      machine,
      sizes,
      single,
      backends,
      cluster,
      breakdown,
      ceiling,
      memory,
      scaling,
      encodings,
    };
    const outPath = at(config.out);
    const chartLink = relative(dirname(outPath), at(config.chart));
    await writeFile(at(config.json), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(outPath, renderMarkdown(results, chartLink));
    for (const t of targets(results))
      log(`target: ${t.target}: ${t.measured} — ${t.met === undefined ? 'n/a' : t.met ? 'met' : 'NOT met'}`);
    log(
      `wrote ${relative(process.cwd(), outPath)} and ${config.json} in ${(results.durationSeconds / 60).toFixed(1)} min`,
    );
  } finally {
    await redis.stop();
  }
});
