import {
  MNIST_PIXELS,
  type MnistSplit,
  quantize,
  scalePixels,
  setParams,
  shardGradient,
  type WireEncoding,
} from '@gradq/model';
import type { GradientSource, Trainee } from './loop';
import { gatherSamples } from './plan';

/**
 * Computes every shard in this process, in order, on the trainee's current parameters: the single-process baseline.
 * With a 16-bit wire encoding it rounds parameters and gradients exactly as the trip through Redis would, so the
 * baseline stays the bit-exact reference for the distributed trainer.
 */
export function localGradientSource(
  trainee: Trainee,
  train: MnistSplit,
  encoding: WireEncoding = 'f32',
): GradientSource {
  return {
    async gradients({ order, shards }) {
      if (encoding === 'f32') trainee.syncModel();
      else setParams(trainee.bound, quantize(trainee.params, encoding));
      return shards.map(({ start, end }) => {
        const inputs = scalePixels(gatherSamples(train.pixels, MNIST_PIXELS, order, start, end));
        const g = shardGradient(trainee.bound, inputs, end - start);
        return { ...g, grad: quantize(g.grad, encoding) };
      });
    },
  };
}
