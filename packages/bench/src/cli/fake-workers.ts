/**
 * Child process of `pnpm bench` for the coordinator's ceiling: a worker pool that serves every gradient job at once
 * with a precomputed gradient, through the real protocol (BullMQ on the real queue, `RunData.submitGradient` and its
 * exactly-once script), so the coordinator's step loop is the only thing left to limit the rate.
 *
 *   REDIS_URL=... node --import tsx packages/bench/src/cli/fake-workers.ts <concurrency>
 */
import { encodeVector, type WireEncoding } from '@gradq/model';
import {
  type BlockResult,
  createRedis,
  GRADIENT_QUEUE,
  type GradientJobResult,
  gradientJobSchema,
  PROTOCOL_VERSION,
  QUEUE_PREFIX,
  RunData,
  runKeys,
  runMetaSchema,
} from '@gradq/protocol';
import { UnrecoverableError, Worker } from 'bullmq';

const concurrency = Number(process.argv[2] ?? '4');
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const onRedisError = (err: Error) => process.stderr.write(`fake-workers: redis: ${err.message}\n`);
const redis = createRedis({ url, cluster: false }, onRedisError);
// XREAD BLOCK holds its connection: jobs that arrive before their step is published wait on this one.
const blocking = createRedis({ url, cluster: false }, onRedisError);
const runs = new Map<string, { data: RunData; bytes: Buffer; encoding: WireEncoding }>();
let served = 0;

/** One gradient per run, of the run's parameter count and wire encoding, made once: small values, so Adam stays finite. */
async function runFor(runId: string): Promise<{ data: RunData; bytes: Buffer; encoding: WireEncoding }> {
  const cached = runs.get(runId);
  if (cached) return cached;
  const raw = await redis.get(runKeys(runId).meta);
  if (!raw) throw new UnrecoverableError(`run ${runId} has no meta in Redis`);
  const meta = runMetaSchema.parse(JSON.parse(raw));
  const values = new Float32Array(meta.paramCount);
  for (let i = 0; i < values.length; i++) values[i] = ((i % 97) - 48) * 1e-5;
  const encoding = meta.hyperparams.gradEncoding;
  const run = {
    data: new RunData(redis, runId, meta.paramCount, meta.slices),
    bytes: encodeVector(values, encoding),
    encoding,
  };
  runs.set(runId, run);
  return run;
}

const worker = new Worker<unknown, GradientJobResult>(
  GRADIENT_QUEUE,
  async (job) => {
    const parsed = gradientJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid job ${job.id}`);
    const j = parsed.data;
    if (j.protocol !== PROTOCOL_VERSION) throw new UnrecoverableError(`job ${job.id}: protocol ${j.protocol}`);
    const run = await runFor(j.runId);
    const waited = await run.data.waitForStep(blocking, j.step, j.session, 60_000);
    if (waited !== 'open') return { status: 'stale', count: 0 };
    const end = j.first + j.leaves.length;
    const counts = j.leaves.map(([start, stop]) => stop - start);
    const block = { step: j.step, session: j.session, first: j.first, end };
    const { status } = await run.data.submitGradient(block, run.bytes, run.encoding, (token) =>
      JSON.stringify({
        kind: 'accepted',
        step: j.step,
        first: j.first,
        end,
        token,
        losses: counts.map(() => 0.05),
        counts,
        computeSeconds: 0,
        worker: 'bench-fake',
      } satisfies BlockResult),
    );
    served++;
    return { status, count: counts.reduce((sum, c) => sum + c, 0) };
  },
  { connection: redis, prefix: QUEUE_PREFIX, concurrency },
);
worker.on('error', (err) => process.stderr.write(`fake-workers: ${err.message}\n`));
process.stderr.write(`fake-workers: serving ${GRADIENT_QUEUE} with concurrency ${concurrency}\n`);

const stop = async () => {
  await Promise.allSettled([worker.close()]);
  await Promise.allSettled([redis.quit(), blocking.quit()]);
  process.stderr.write(`fake-workers: served ${served} jobs\n`);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
