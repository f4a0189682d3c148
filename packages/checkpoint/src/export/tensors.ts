/**
 * A checkpoint's dense stack as PyTorch names and lays it out: `nn.Linear` weights are [out, in] (TensorFlow.js
 * kernels are [in, out], so each is transposed), biases [out]. The seed model's four layers are the `Autoencoder`
 * of `packages/checkpoint/python/gradq_autoencoder.py`: encoder, bottleneck, decoder, output; other depths are
 * `layers.<i>`.
 */
import type { CheckpointContent } from '../content';

export interface ExportedLayer {
  /** `encoder`, ... or `layers.<i>`: the module name; tensors are `<name>.weight` and `<name>.bias`. */
  readonly name: string;
  readonly inputs: number;
  readonly outputs: number;
  /** [outputs, inputs], row-major. */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** After the layer: `relu` for every hidden layer, the run's output activation for the last. */
  readonly activation: 'relu' | 'sigmoid' | 'linear';
}

const SEED_NAMES = ['encoder', 'bottleneck', 'decoder', 'output'];

export function exportedLayers(content: Pick<CheckpointContent, 'hyperparams' | 'params'>): ExportedLayer[] {
  const sizes = content.hyperparams.layerSizes;
  const { params } = content;
  const count = sizes.length - 1;
  const layers: ExportedLayer[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const inputs = sizes[i] as number;
    const outputs = sizes[i + 1] as number;
    // Flat layout order (model/src/layout.ts): dense_i/kernel [inputs, outputs], then dense_i/bias [outputs].
    const kernel = params.subarray(offset, offset + inputs * outputs);
    offset += inputs * outputs;
    const bias = params.slice(offset, offset + outputs);
    offset += outputs;
    const weight = new Float32Array(outputs * inputs);
    for (let r = 0; r < inputs; r++)
      for (let c = 0; c < outputs; c++) weight[c * inputs + r] = kernel[r * outputs + c] as number;
    layers.push({
      name: count === SEED_NAMES.length ? (SEED_NAMES[i] as string) : `layers.${i}`,
      inputs,
      outputs,
      weight,
      bias,
      activation: i === count - 1 ? content.hyperparams.outputActivation : 'relu',
    });
  }
  if (offset !== params.length)
    throw new Error(`the parameters hold ${params.length} values, the layers ${sizes.join('-')} need ${offset}`);
  return layers;
}
