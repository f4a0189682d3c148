/**
 * Child process of `pnpm bench` for the coordinator's ceiling: a worker pool that serves every gradient job at once
 * with a precomputed gradient, through the real protocol (BullMQ on the real queue, `submitGradient`'s exactly-once
 * script), so the coordinator's step loop is the only thing left to limit the rate.
 *
 *   REDIS_URL=... node --import tsx packages/bench/src/cli/fake-workers.ts <concurrency>
 */
import {
  createRedis,
  GRADIENT_QUEUE,
  type GradientJobResult,
  gradientJobSchema,
  QUEUE_PREFIX,
  runKeys,
  type ShardResult,
  submitGradient,
} from '@gradq/protocol';
import { UnrecoverableError, Worker } from 'bullmq';

const concurrency = Number(process.argv[2] ?? '4');
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = createRedis({ url, cluster: false }, (err) =>
  process.stderr.write(`fake-workers: redis: ${err.message}\n`),
);
const gradients = new Map<string, Buffer>();
let served = 0;

/** One gradient per run, of the run's parameter count, made once: small values, so Adam stays finite. */
async function gradientFor(runId: string): Promise<Buffer> {
  const cached = gradients.get(runId);
  if (cached) return cached;
  const meta = await redis.get(runKeys(runId).meta);
  if (!meta) throw new UnrecoverableError(`run ${runId} has no meta in Redis`);
  const { paramCount } = JSON.parse(meta) as { paramCount: number };
  const values = new Float32Array(paramCount);
  for (let i = 0; i < values.length; i++) values[i] = ((i % 97) - 48) * 1e-5;
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  gradients.set(runId, bytes);
  return bytes;
}

const worker = new Worker<unknown, GradientJobResult>(
  GRADIENT_QUEUE,
  async (job) => {
    const parsed = gradientJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid job ${job.id}`);
    const j = parsed.data;
    const count = j.end - j.start;
    const result: ShardResult = {
      kind: 'accepted',
      step: j.step,
      shard: j.shard,
      loss: 0.05,
      count,
      worker: 'bench-fake',
    };
    const status = await submitGradient(redis, runKeys(j.runId), j, JSON.stringify(result), await gradientFor(j.runId));
    served++;
    return { status, loss: 0.05, count };
  },
  { connection: redis, prefix: QUEUE_PREFIX, concurrency },
);
worker.on('error', (err) => process.stderr.write(`fake-workers: ${err.message}\n`));
process.stderr.write(`fake-workers: serving ${GRADIENT_QUEUE} with concurrency ${concurrency}\n`);

const stop = async () => {
  await Promise.allSettled([worker.close()]);
  await Promise.allSettled([redis.quit()]);
  process.stderr.write(`fake-workers: served ${served} jobs\n`);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
