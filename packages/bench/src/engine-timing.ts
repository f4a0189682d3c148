/**
 * The compute engine's time per block, measured in the bench process: what the emulated workers of the scaling
 * section wait per sample. The engine a cpu-native worker uses (`selectEngine`: the fused native engine), the seed
 * model's parameters, real MNIST pixels, one leaf per block.
 */
import type { SelectedBackend } from '@gradq/backend';
import { selectEngine } from '@gradq/engine';
import type { MnistSplit } from '@gradq/model';
import { createTrainee, epochRng, hyperparamsSchema, shuffledOrder } from '@gradq/trainer';
import type { EngineBlockTiming, EngineTiming } from './results';
import { spread } from './stats';

/** Untimed calls first: the engine's scratch buffers grow to the block, and the pages fault in. */
const WARMUP_CALLS = 3;

/** ms per sample from a block's call times: the median call over the block's samples (pure). */
export function blockTiming(samples: number, callMs: readonly number[]): EngineBlockTiming {
  const s = spread(callMs);
  if (!s || samples <= 0) throw new RangeError('no calls timed');
  return {
    samples,
    calls: callMs.length,
    ms_median: s.median,
    ms_min: s.min,
    ms_max: s.max,
    ms_per_sample: s.median / samples,
  };
}

export async function measureEngine(
  backend: SelectedBackend,
  train: MnistSplit,
  blockSamples: readonly number[],
  calls: number,
): Promise<EngineTiming> {
  const h = hyperparamsSchema.parse({});
  const trainee = createTrainee(h);
  const { engine, skipped } = await selectEngine(
    { layerSizes: h.layerSizes, outputActivation: h.outputActivation },
    backend.name,
  );
  try {
    engine.setTrainingSet(train.pixels, train.pixels.length / train.count);
    const order = shuffledOrder(train.count, epochRng(h.seed, 0));
    const blocks: EngineBlockTiming[] = [];
    for (const samples of blockSamples) {
      // A fixed version: an engine that keeps parameters resident copies them once, as a worker does per step.
      const task = {
        version: 1,
        params: trainee.params,
        order,
        leaves: [{ start: 0, end: samples }],
        stepSamples: samples,
        rounding: 'f32',
      } as const;
      for (let i = 0; i < WARMUP_CALLS; i++) await engine.computeBlock(task);
      const times: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now();
        await engine.computeBlock(task);
        times.push(performance.now() - t0);
      }
      blocks.push(blockTiming(samples, times));
    }
    return { engine: engine.name, ...(skipped ? { skipped } : {}), blocks };
  } finally {
    engine.dispose();
  }
}
