import { selectBackend } from '@gradq/backend';
import { chooseWorkerEngine } from '@gradq/engine';
import { DEFAULT_REDIS_URL, redactUrl } from '@gradq/protocol';
import { startMetricsServer } from '@gradq/telemetry';
import { ConfigError, readOptions, runMain, usage } from '@gradq/trainer';
import { WORKER_OPTIONS, workerConfigSchema } from '../config';
import { workerTelemetry } from '../telemetry';
import { startWorker } from '../worker';

runMain(async (signal) => {
  const config = readOptions(WORKER_OPTIONS, workerConfigSchema, process.argv.slice(2), process.env);
  if (config.help) {
    process.stdout.write(
      `${usage('pnpm worker', WORKER_OPTIONS)}\n\nA stateless gradient worker: start as many as you like, anywhere that reaches Redis.\n`,
    );
    return;
  }
  const redisUrl = config.redisUrl ?? DEFAULT_REDIS_URL;
  const log = (line: string) => process.stderr.write(`worker ${config.workerId}: ${line}\n`);
  const backend = await selectBackend({ log });
  // Before Redis and the metrics port: GRADQ_ENGINE=cuda on a machine that cannot run it fails here, naming why.
  const engine = await chooseWorkerEngine({ request: config.engine, backend: backend.name });
  log(`engine ${engine.description}`);
  const testSlowMs = testSlowMsFrom(process.env);
  if (testSlowMs > 0) log(`GRADQ_TEST_SLOW_MS: sleeping ${testSlowMs} ms before each submit (fault tests only)`);
  const telemetry = workerTelemetry();
  // A port that cannot be bound is a configuration error (exit 2, never retried), naming the option.
  telemetry.metrics.engine.set({ engine: engine.name, device: engine.device }, 1);
  const metrics = await startMetricsServer(telemetry.registry, {
    port: config.metricsPort,
    host: config.metricsHost,
    health: () => [`engine ${engine.description}`],
    onError: (err: Error) => log(`metrics: ${err.message}`),
  }).catch((err: Error) => {
    throw new ConfigError(
      `--metrics-port / METRICS_PORT ${config.metricsPort}: ${err.message}; choose a free port, or 0 for any`,
    );
  });
  const worker = startWorker({
    redis: { url: redisUrl, cluster: config.redisCluster },
    workerId: config.workerId,
    backend: backend.name,
    engines: engine.factory,
    lockMs: config.lockMs,
    log,
    events: telemetry.events,
    testSlowMs,
  });
  log(`taking gradient jobs from ${redactUrl(redisUrl)} on ${engine.name}; metrics on port ${metrics.port}`);
  // Started by pnpm start (an IPC channel): tell it, so that its run's first step waits for this worker.
  process.send?.({ gradq: 'ready' });
  process.channel?.unref();
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  // Each step runs even if an earlier one failed: the worker (finishing its job), then the metrics server.
  await Promise.allSettled([worker.close()]);
  await Promise.allSettled([metrics.close()]);
  log('stopped');
  process.exit(0);
});

/**
 * GRADQ_TEST_SLOW_MS turns this worker into a straggler for the fault suite (packages/faults): an undocumented-in-help,
 * test-only knob, deliberately not an option, so that no deployment sets it by accident through a flag.
 */
function testSlowMsFrom(env: NodeJS.ProcessEnv): number {
  const raw = env.GRADQ_TEST_SLOW_MS;
  if (raw === undefined || raw === '') return 0;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0)
    throw new ConfigError(`GRADQ_TEST_SLOW_MS: must be a whole number of ms, got '${raw}'`);
  return ms;
}
