import { type BoundModel, MNIST_PIXELS, type MnistSplit, scalePixels, shardGradient } from '@gradq/model';
import type { GradientSource } from './loop';
import { gatherSamples } from './plan';

/** Computes every shard in this process, in order: the single-process baseline. */
export function localGradientSource(bound: BoundModel, train: MnistSplit): GradientSource {
  return {
    async gradients({ order, shards }) {
      return shards.map(({ start, end }) =>
        shardGradient(bound, scalePixels(gatherSamples(train.pixels, MNIST_PIXELS, order, start, end)), end - start),
      );
    },
  };
}
