import type { Engine } from '@gradq/engine';
import { MNIST_PIXELS, type MnistSplit, type WireEncoding } from '@gradq/model';
import type { GradientSource, Trainee } from './loop';

/**
 * Computes every step in this process, as one block of all K leaves on the trainee's current parameters: the
 * single-process baseline. The engine reduces the leaves over the same tree as the coordinator does, rounding at
 * every node to the run's gradient encoding, so the baseline is the bit-exact reference for the distributed trainer.
 */
export function localGradientSource(
  engine: Engine,
  trainee: Trainee,
  train: MnistSplit,
  encoding: WireEncoding = 'f32',
): GradientSource {
  engine.setTrainingSet(train.pixels, MNIST_PIXELS);
  // One gradient array for the whole run: the loop applies a step's gradient before it asks for the next one.
  const out = new Float32Array(trainee.params.length);
  return {
    async gradients({ step, order, shards }) {
      const stepSamples = shards.reduce((sum, s) => sum + (s.end - s.start), 0);
      return await engine.computeBlock({
        version: step,
        params: trainee.params,
        order,
        leaves: shards,
        stepSamples,
        rounding: encoding,
        out,
      });
    },
  };
}
