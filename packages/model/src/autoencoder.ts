import * as tf from '@tensorflow/tfjs';

export const OUTPUT_ACTIVATIONS = ['relu', 'sigmoid', 'linear'] as const;
export type OutputActivation = (typeof OUTPUT_ACTIVATIONS)[number];

/** The seed network: 784-392-196-392-784. */
export const DEFAULT_LAYER_SIZES: readonly number[] = [784, 392, 196, 392, 784];

export interface AutoencoderOptions {
  /** Units per layer, input first. Default {@link DEFAULT_LAYER_SIZES}. */
  layerSizes?: readonly number[];
  /** Activation of the last layer; every hidden layer is ReLU. Default `relu` (the seed network). */
  outputActivation?: OutputActivation;
  /** Seeds the Glorot-uniform kernels (biases start at zero). Default 0. */
  seed?: number;
}

/**
 * A dense autoencoder. Layer names are fixed (`dense_0`, `dense_1`, ...) so that two instances, in one process or
 * in two, describe the same parameters; tfjs's own auto-names carry a process-global counter.
 */
export function createAutoencoder(options: AutoencoderOptions = {}): tf.Sequential {
  const sizes = options.layerSizes ?? DEFAULT_LAYER_SIZES;
  const outputActivation = options.outputActivation ?? 'relu';
  const seed = options.seed ?? 0;
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`layerSizes must be at least two positive integers, got [${sizes.join(', ')}]`);
  }
  if (!OUTPUT_ACTIVATIONS.includes(outputActivation)) {
    throw new RangeError(`outputActivation must be one of ${OUTPUT_ACTIVATIONS.join(', ')}, got '${outputActivation}'`);
  }
  const model = tf.sequential({ name: 'gradq_autoencoder' });
  for (let i = 1; i < sizes.length; i++) {
    const last = i === sizes.length - 1;
    model.add(
      tf.layers.dense({
        name: `dense_${i - 1}`,
        units: sizes[i] as number,
        ...(i === 1 ? { inputShape: [sizes[0] as number] } : {}),
        activation: last ? outputActivation : 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1009 + i }),
        biasInitializer: 'zeros',
      }),
    );
  }
  return model;
}
