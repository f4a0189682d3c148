import { selectBackend } from '@gradq/backend';
import { redactUrl } from '@gradq/protocol';
import { startMetricsServer } from '@gradq/telemetry';
import { readOptions, runMain, usage } from '@gradq/trainer';
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
  const log = (line: string) => process.stderr.write(`worker ${config.workerId}: ${line}\n`);
  const backend = await selectBackend({ log });
  const worker = startWorker({
    redis: { url: config.redisUrl, cluster: config.redisCluster },
    workerId: config.workerId,
    lockMs: config.lockMs,
    log,
  });
  log(`taking gradient jobs from ${redactUrl(config.redisUrl)} on ${backend.name}`);
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  await worker.close();
  log('stopped');
  process.exit(0);
});
