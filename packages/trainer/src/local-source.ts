import { MNIST_PIXELS, type MnistSplit, scalePixels, shardGradient } from '@gradq/model';
import type { GradientSource, Trainee } from './loop';
import { gatherSamples } from './plan';

/** Computes every shard in this process, in order, on the trainee's current parameters: the single-process baseline. */
export function localGradientSource(trainee: Trainee, train: MnistSplit): GradientSource {
  return {
    async gradients({ order, shards }) {
      trainee.syncModel();
      return shards.map(({ start, end }) =>
        shardGradient(
          trainee.bound,
          scalePixels(gatherSamples(train.pixels, MNIST_PIXELS, order, start, end)),
          end - start,
        ),
      );
    },
  };
}
