/**
 * Child process of `pnpm bench --sections scaling`, in one of two modes; prints one JSON line.
 *
 * `--engine`: the compute engine's time per block of each `--blocks` size (an EngineTiming).
 *
 * Otherwise one scaling point (a ScalingPoint, or `{ error }`): raw bandwidth of the Redis at `--redis`, then the
 * real coordinator in this process with `--workers` emulated workers for whole batches of workers x
 * `--samples-per-worker`. A fresh process per point, so that one point's heap and GC state never carry into the next.
 *
 *   node --import tsx packages/bench/src/cli/scaling-point.ts --redis URL [--cluster] --ports P1,P2,P3 \
 *     --workers W --samples-per-worker S --ms-per-sample T --warmup N --steps M --data-dir D --train-count C \
 *     --param-bytes B --log PATH
 *
 * The parent pins BLAS to one thread (GRADQ_BLAS_THREADS), as for every measured child.
 */
import { selectBackend } from '@gradq/backend';
import { loadMnist } from '@gradq/model';
import { readOptions, relaxHeapGrowth } from '@gradq/trainer';
import { z } from 'zod';
import { measureEngine } from '../engine-timing';
import { measurePoint } from '../scaling-point';

const count = (min: number) => z.coerce.number().int().min(min);
const list = z
  .string()
  .default('')
  .transform((s) => s.split(',').filter(Boolean).map(Number))
  .pipe(z.array(z.number().int().min(1)));
const schema = z.object({
  engine: z.boolean().default(false),
  blocks: list,
  calls: count(1).default(30),
  redis: z.string().default(''),
  cluster: z.boolean().default(false),
  ports: list,
  workers: count(1).default(1),
  samplesPerWorker: count(1).default(128),
  msPerSample: z.coerce.number().min(0).default(0),
  warmup: count(1).default(5),
  steps: count(1).default(30),
  dataDir: z.string().min(1).default('data/mnist'),
  trainCount: count(1).default(60_000),
  paramBytes: count(1).default(1),
  root: z.string().min(1).default(process.cwd()),
  log: z.string().default('/dev/null'),
});
const flag = (key: string, flag: string, type?: 'boolean') => ({ key, flag, doc: flag, ...(type ? { type } : {}) });

async function main(): Promise<unknown> {
  const o = readOptions(
    [
      flag('engine', 'engine', 'boolean'),
      flag('blocks', 'blocks'),
      flag('calls', 'calls'),
      flag('redis', 'redis'),
      flag('cluster', 'cluster', 'boolean'),
      flag('ports', 'ports'),
      flag('workers', 'workers'),
      flag('samplesPerWorker', 'samples-per-worker'),
      flag('msPerSample', 'ms-per-sample'),
      flag('warmup', 'warmup'),
      flag('steps', 'steps'),
      flag('dataDir', 'data-dir'),
      flag('trainCount', 'train-count'),
      flag('paramBytes', 'param-bytes'),
      flag('root', 'root'),
      flag('log', 'log'),
    ],
    schema,
    process.argv.slice(2),
    {},
  );
  const backend = await selectBackend({ request: 'cpu-native', log: () => {} });
  if (o.engine) {
    const { train } = await loadMnist(o.dataDir, { log: () => {} });
    return measureEngine(backend, train, o.blocks, o.calls);
  }
  return measurePoint(
    { name: o.cluster ? 'cluster' : 'one Redis', url: o.redis, cluster: o.cluster, ports: o.ports },
    { ...o, backend, logPath: o.log },
  );
}

// As every command does (runMain): the measured process is the real one.
relaxHeapGrowth();
main().then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: String((err as Error)?.message ?? err).split('\n')[0] })}\n`);
    process.exit(1);
  },
);
