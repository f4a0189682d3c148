import { availableParallelism } from 'node:os';
import { selectBackend } from '@gradq/backend';
import { assertConverged, ConfigError, givenOptions, Progress, readOptions, runMain, usage } from '@gradq/trainer';
import { z } from 'zod';
import { COORDINATOR_OPTIONS, checkCoordinator, coordinatorShape } from '../config';
import { runCoordinator } from '../coordinator';
import { resolveRedis } from '../embedded-redis';
import { LocalWorkers } from '../local-workers';

// pnpm start is the laptop default: its live run page and /metrics stay on this machine unless METRICS_HOST (or
// --metrics-host) says otherwise. pnpm coordinator keeps 0.0.0.0 (Prometheus scrapes it from another container).
const LOCAL_HOST = '127.0.0.1';

const OPTIONS = [
  ...COORDINATOR_OPTIONS.filter((o) => o.key !== 'help').map((o) =>
    o.key === 'metricsHost'
      ? { ...o, doc: `interface of the live run page, /metrics and the workers' /metrics (default ${LOCAL_HOST})` }
      : o,
  ),
  {
    key: 'workers',
    flag: 'workers',
    env: 'WORKERS',
    doc: `worker processes (default: number of cores, ${availableParallelism()} here)`,
  },
  {
    key: 'workerMetricsPort',
    flag: 'worker-metrics-port',
    env: 'WORKER_METRICS_PORT',
    doc: 'worker i serves /metrics on this port + i - 1, 0 = any (default 9401)',
  },
  { key: 'help', flag: 'help', type: 'boolean' as const, doc: 'print this help' },
];
const schema = z
  .object({
    ...coordinatorShape,
    /** Default: available cores. */
    workers: z.coerce.number().int().min(1, 'must be at least 1').default(availableParallelism()),
    /** Default 9401. */
    workerMetricsPort: z.coerce.number().int().min(0).max(65535).default(9401),
  })
  .superRefine(checkCoordinator);

runMain(async (signal) => {
  const config = readOptions(OPTIONS, schema, process.argv.slice(2), {
    ...process.env,
    METRICS_HOST: process.env.METRICS_HOST || LOCAL_HOST,
  });
  if (config.help) {
    process.stdout.write(
      `${usage('pnpm start', OPTIONS)}\n\nThe whole pipeline on one machine: a coordinator and --workers worker processes meeting in Redis.\n` +
        'Checkpoints go to CHECKPOINT_DIR (default ./checkpoints), or to S3 when S3_BUCKET is set.\n' +
        'Watch the run at http://127.0.0.1:<--metrics-port>/ (default 9400): a read-only live page, printed at start.\n',
    );
    return;
  }
  const progress = new Progress({ epochs: config.epochs, extra: () => `workers ${workersSeen}/${config.workers}` });
  let workersSeen = 0;
  const log = (line: string) => progress.log(line);
  const redis = await resolveRedis(config.redisUrl, log);
  let workers: LocalWorkers | undefined;
  // A worker's configuration error (a busy metrics port...) stops the run: restarted, it would fail again, and the
  // run would go on with fewer workers and exit 0.
  const workerFailed = new AbortController();
  try {
    const backend = await selectBackend({ log });
    workers = new LocalWorkers({
      count: config.workers,
      // Workers use the coordinator's backend: bit-identical results need the same one everywhere.
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        REDIS_CLUSTER: config.redisCluster ? '1' : '',
        TFJS_BACKEND: backend.name,
        // The CPU engine unless asked (GRADQ_ENGINE=cuda pnpm start): the coordinator and pnpm baseline compute on
        // it, and a GPU's products give other bits, so a GPU laptop's runs would no longer match the baseline's.
        GRADQ_ENGINE: process.env.GRADQ_ENGINE || 'cpu',
        METRICS_HOST: config.metricsHost,
      },
      metricsBasePort: config.workerMetricsPort,
      log,
      onConfigError: (i, lines) => {
        const why = (lines.at(-1) ?? 'exit code 2').replace(/^(worker \S+: )?(gradq: )?/, '').trim();
        const hint = why.includes('--metrics-port')
          ? '\npnpm start gives worker i the metrics port --worker-metrics-port / WORKER_METRICS_PORT + i - 1 (default 9401; 0 picks free ports)'
          : '';
        workerFailed.abort(new ConfigError(`worker ${i} stopped on a configuration error: ${why}${hint}`));
      },
    });
    const stopped = AbortSignal.any([signal, workerFailed.signal]);
    stopped.addEventListener('abort', () => workers?.stopRestarting(), { once: true });
    const summary = await runCoordinator({ ...config, redisUrl: redis.url }, backend, {
      log: (line) => log(`coordinator: ${line}`),
      signal: stopped,
      resumeCommand: 'pnpm start',
      given: givenOptions(OPTIONS, process.argv.slice(2), process.env),
      // The first step waits for every worker: one that fails on its configuration then stops the run before it
      // trains, instead of after a run finished with fewer workers.
      beforeTrain: () => workers?.ready(stopped, log) ?? Promise.resolve(),
      onStep: (r, source) => {
        workersSeen = source.recentWorkers();
        progress.step(r);
      },
      onEpoch: (r, previous) => progress.epoch(r, previous),
    });
    progress.clear();
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    assertConverged(summary, config.learningRate);
  } finally {
    await workers?.stop();
    await redis.stop();
  }
});
