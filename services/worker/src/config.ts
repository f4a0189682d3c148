import { hostname } from 'node:os';
import { ENGINE_REQUESTS } from '@gradq/engine';
import { REDIS_OPTIONS, redisOptionsShape } from '@gradq/protocol';
import { metricsOptions, metricsOptionsShape } from '@gradq/telemetry';
import type { OptionSpec } from '@gradq/trainer';
import { z } from 'zod';

export const WORKER_OPTIONS: readonly OptionSpec[] = [
  ...REDIS_OPTIONS,
  { key: 'workerId', flag: 'worker-id', env: 'WORKER_ID', doc: 'name in logs and results (default <hostname>-<pid>)' },
  {
    key: 'lockMs',
    flag: 'lock-ms',
    env: 'WORKER_LOCK_MS',
    doc: 'job lock; a worker silent this long is presumed dead and its job retried (default 30000)',
  },
  {
    key: 'engine',
    flag: 'engine',
    env: 'GRADQ_ENGINE',
    doc: 'compute engine: auto (cuda when it passes its self-test, else the CPU engine), cuda (or fail), cpu (default auto)',
  },
  ...metricsOptions('worker'),
  { key: 'help', flag: 'help', type: 'boolean', doc: 'print this help' },
];

export const workerConfigSchema = z.object({
  ...redisOptionsShape,
  /** Default `<hostname>-<pid>`. */
  workerId: z.string().min(1).max(100).default(`${hostname()}-${process.pid}`),
  /**
   * BullMQ lock duration in ms. A gradient job blocks the event loop for well under a second, so the lock (renewed
   * every half period) is never lost to compute; a killed worker's job comes back after about this long.
   * Default 30000.
   */
  lockMs: z.coerce.number().int().min(1000, 'must be at least 1000').default(30_000),
  /**
   * The compute engine. `auto`: the CUDA engine where it opens and passes an 8-sample self-test against the CPU
   * engine, else the CPU engine of the tfjs backend (native-cpu, or tfjs), with the reason CUDA was passed over in
   * the log. `cuda`: the CUDA engine or exit 1 naming what is missing. `cpu`: never CUDA. Default `auto`.
   */
  engine: z.enum(ENGINE_REQUESTS).default('auto'),
  ...metricsOptionsShape('worker'),
  help: z.boolean().optional(),
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
