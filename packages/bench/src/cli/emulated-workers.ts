/**
 * Child process of `pnpm bench --sections scaling`: W emulated workers in one process. Each is the real
 * worker (`startWorker`: BullMQ, the processor, the data plane, its own Redis connections) with the engine replaced
 * by a stand-in that waits the engine's measured time for the block, then returns a precomputed gradient. What is
 * left to limit the rate is the protocol and Redis, which is what the scaling section measures.
 *
 *   node --import tsx packages/bench/src/cli/emulated-workers.ts --redis URL [--cluster] --workers W \
 *     --ms-per-sample T
 */
import { parseArgs } from 'node:util';
import type { BlockGradient, BlockTask, Engine, ModelShape } from '@gradq/engine';
import { relaxHeapGrowth } from '@gradq/trainer';
import { type RunningWorker, startWorker } from '@gradq/worker';

// As every command does (runMain): the emulated workers are the real worker code.
relaxHeapGrowth();

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    cluster: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    'ms-per-sample': { type: 'string', default: '0' },
  },
});
const workers = Number(values.workers);
const msPerSample = Number(values['ms-per-sample']);
if (!values.redis || !Number.isInteger(workers) || workers < 1 || !(msPerSample >= 0)) {
  process.stderr.write('usage: emulated-workers --redis URL [--cluster] --workers W --ms-per-sample T\n');
  process.exit(2);
}

/** The stand-in: no arithmetic, the engine's time, and a gradient of small finite values (Adam stays finite). */
class EmulatedEngine implements Engine {
  readonly name = 'emulated';
  private readonly grad: Float32Array;

  constructor(shape: ModelShape) {
    let size = 0;
    for (let i = 1; i < shape.layerSizes.length; i++)
      size += ((shape.layerSizes[i - 1] as number) + 1) * (shape.layerSizes[i] as number);
    this.grad = Float32Array.from({ length: size }, (_, i) => ((i % 97) - 48) * 1e-6);
  }

  setTrainingSet(): void {}

  async computeBlock(task: BlockTask): Promise<BlockGradient> {
    const counts = task.leaves.map((l) => l.end - l.start);
    const samples = counts.reduce((a, b) => a + b, 0);
    if (msPerSample > 0) await new Promise((resolve) => setTimeout(resolve, samples * msPerSample));
    return { grad: this.grad, losses: counts.map(() => 0.05), counts };
  }

  dispose(): void {}
}

const pool: RunningWorker[] = Array.from({ length: workers }, (_, i) =>
  startWorker({
    redis: { url: values.redis as string, cluster: values.cluster ?? false },
    workerId: `emulated-${i + 1}`,
    backend: 'emulated',
    engines: async (shape) => ({ engine: new EmulatedEngine(shape) }),
    lockMs: 30_000,
    log: (line) => process.stderr.write(`emulated-${i + 1}: ${line}\n`),
  }),
);
process.stderr.write(`emulated-workers: ${workers} worker(s), ${msPerSample} ms per sample\n`);

const stop = async () => {
  await Promise.allSettled(pool.map((w) => w.close()));
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
