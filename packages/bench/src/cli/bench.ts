/**
 * pnpm bench: measures `pnpm baseline` against PyTorch at steady state, each backend, the step protocol and its
 * weak-scaling curve on one Redis and a Redis Cluster (emulated workers, beside the bound Redis allows), real
 * `pnpm start` runs against the baseline, and gradient encodings, in one run; writes BENCHMARKS.md, the chart and
 * bench-results.json. See packages/bench/README.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LAYER_SIZES } from '@gradq/model';
import { startRedisServer } from '@gradq/testing';
import { type OptionSpec, readOptions, runMain, usage } from '@gradq/trainer';
import { z } from 'zod';
import { renderCharts } from '../chart';
import { measureCluster } from '../cluster';
import type { BenchContext } from '../context';
import { measureEncodings } from '../encodings';
import { machineInfo } from '../machine';
import { renderMarkdown, targets } from '../report';
import { scalingCharts } from '../report-scaling';
import type { BenchResults } from '../results';
import { measureScaling } from '../scaling';
import { measureBackends, measureSingle } from '../single';
import { benchSizes } from '../sizes';

/** Everything after this line of BENCHMARKS.md comes from other commands and survives a `pnpm bench`. */
const KEPT_MARKER = '<!-- sections below are not written by pnpm bench: kept as they are -->';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SECTIONS = ['single', 'backends', 'scaling', 'cluster', 'encodings'] as const;

const OPTIONS: readonly OptionSpec[] = [
  { key: 'quick', flag: 'quick', type: 'boolean', doc: 'small sizes: a smoke run of a few minutes (default off)' },
  { key: 'dataDir', flag: 'data-dir', env: 'MNIST_DIR', doc: 'MNIST .gz files (default data/mnist)' },
  { key: 'out', flag: 'out', doc: 'the report (default BENCHMARKS.md)' },
  { key: 'json', flag: 'json', doc: 'the results as JSON (default bench-results.json)' },
  { key: 'chart', flag: 'chart', doc: 'the scaling chart, SVG (default docs/bench-scaling.svg)' },
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
    doc: 'samples per epoch of the cluster section (default 60000, quick 8192)',
  },
  { key: 'clusterEpochs', flag: 'cluster-epochs', doc: 'epochs of the cluster section (default 2, quick 1)' },
  { key: 'clusterRounds', flag: 'cluster-rounds', doc: 'rounds of the cluster section (default 3, quick 2)' },
  {
    key: 'encodingLimit',
    flag: 'encoding-limit',
    doc: 'samples per epoch of the encoding runs, 0 = all (default 0, quick 8192)',
  },
  { key: 'encodingEpochs', flag: 'encoding-epochs', doc: 'epochs of the encoding runs (default 10, quick 1)' },
  { key: 'help', flag: 'help', type: 'boolean', doc: 'print this help' },
];
const optionalInt = z.coerce.number().int().min(1).optional();
const schema = z.object({
  quick: z.boolean().default(false),
  dataDir: z.string().min(1).default('data/mnist'),
  out: z.string().min(1).default('BENCHMARKS.md'),
  json: z.string().min(1).default('bench-results.json'),
  chart: z.string().min(1).default('docs/bench-scaling.svg'),
  sections: z
    .string()
    .default(SECTIONS.join(','))
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(SECTIONS))),
  clusterLimit: optionalInt,
  clusterEpochs: optionalInt,
  clusterRounds: optionalInt,
  encodingLimit: z.coerce.number().int().min(0).optional(),
  encodingEpochs: optionalInt,
  singleRounds: optionalInt,
  python: z.string().min(1).default('/usr/bin/python3'),
  help: z.boolean().optional(),
});

/** A section that threw is reported as its error; the others still run and the report is still written. */
async function guarded<T>(
  log: (line: string) => void,
  name: string,
  run: () => Promise<T>,
): Promise<T | { error: string }> {
  try {
    return await run();
  } catch (err) {
    const error = (err as Error).message.split('\n')[0] ?? String(err);
    log(`${name} failed: ${error}`);
    return { error };
  }
}

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
  // A Redis of the bench's own: other engineers' tests share the default one, and their traffic (and BullMQ queue of
  // the same name) must not mix with the measurements.
  const redis = await startRedisServer();
  log(`private redis-server at ${redis.url}`);
  const ctx: BenchContext = {
    root: ROOT,
    dataDir: at(config.dataDir),
    redisUrl: redis.url,
    sizes,
    logPath,
    paths: {
      startCli: join(ROOT, 'services/coordinator/src/cli/start.ts'),
      baselineCli: join(ROOT, 'packages/trainer/src/cli/baseline.ts'),
      singleProcessCli: join(ROOT, 'packages/bench/src/cli/single-process.ts'),
      scalingPointCli: join(ROOT, 'packages/bench/src/cli/scaling-point.ts'),
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
  const notRun = { error: 'not run (--sections)' };

  try {
    const single: BenchResults['single'] = want.has('single') ? await measureSingle(ctx) : notRun;
    const backends = want.has('backends') ? await measureBackends(ctx) : [];

    let scaling: BenchResults['scaling'] = notRun;
    if (want.has('scaling')) {
      scaling = await guarded(log, 'scaling', async () => {
        const s = await measureScaling(ctx, paramCount * 4);
        const chartPath = at(config.chart);
        await mkdir(dirname(chartPath), { recursive: true });
        await writeFile(chartPath, await renderCharts(scalingCharts(s)));
        log(`scaling chart: ${relative(process.cwd(), chartPath)}`);
        return { ...s, chartPath: relative(ROOT, chartPath) };
      });
    }
    const cluster: BenchResults['cluster'] = want.has('cluster')
      ? await guarded(log, 'cluster', () => measureCluster(ctx))
      : notRun;
    const encodings: BenchResults['encodings'] = want.has('encodings')
      ? await guarded(log, 'encodings', () => measureEncodings(ctx, paramCount))
      : notRun;

    const results: BenchResults = {
      version: 3,
      quick: config.quick,
      startedAt: started.toISOString(),
      durationSeconds: (performance.now() - t0) / 1000,
      machine,
      sizes,
      single,
      backends,
      scaling,
      cluster,
      encodings,
    };
    const outPath = at(config.out);
    const chartLink = relative(dirname(outPath), at(config.chart));
    await writeFile(at(config.json), `${JSON.stringify(results, null, 2)}\n`);
    // Sections written by other commands (`pnpm bench:local`) follow a marker and are kept as they are.
    const previous = await readFile(outPath, 'utf8').catch(() => '');
    const kept = previous.indexOf(KEPT_MARKER);
    await writeFile(outPath, renderMarkdown(results, chartLink) + (kept >= 0 ? `\n${previous.slice(kept)}` : ''));
    for (const t of targets(results))
      log(`target: ${t.target}: ${t.measured} — ${t.met === undefined ? 'n/a' : t.met ? 'met' : 'NOT met'}`);
    log(
      `wrote ${relative(process.cwd(), outPath)} and ${config.json} in ${(results.durationSeconds / 60).toFixed(1)} min`,
    );
  } finally {
    await redis.stop();
  }
});
