import * as tf from '@tensorflow/tfjs';
import { layoutOf, type ParamLayout } from './layout';

/** A model together with its flat layout and its trainable variables in layout order. */
export interface BoundModel {
  readonly model: tf.LayersModel;
  readonly layout: ParamLayout;
  readonly variables: readonly tf.Variable[];
}

export function bindModel(model: tf.LayersModel): BoundModel {
  const variables = model.layers.flatMap((layer) => layer.trainableWeights.map((w) => w.read() as tf.Variable));
  return { model, layout: layoutOf(model), variables };
}

/** The current parameters as one Float32Array in layout order. */
export function getParams(bound: BoundModel): Float32Array {
  const out = new Float32Array(bound.layout.size);
  bound.layout.entries.forEach((entry, i) => {
    out.set((bound.variables[i] as tf.Variable).dataSync() as Float32Array, entry.offset);
  });
  return out;
}

/** Overwrites every trainable variable from a flat vector in layout order. */
export function setParams(bound: BoundModel, params: Float32Array): void {
  if (params.length !== bound.layout.size) {
    throw new RangeError(`parameters: expected ${bound.layout.size} float32 values, got ${params.length}`);
  }
  tf.tidy(() => {
    bound.layout.entries.forEach((entry, i) => {
      const values = params.subarray(entry.offset, entry.offset + entry.size);
      (bound.variables[i] as tf.Variable).assign(tf.tensor(values, entry.shape as number[], 'float32'));
    });
  });
}

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Slices a flat vector into one tensor per layout entry, in layout order, named by its variable (caller disposes). */
export function splitByVariable(bound: BoundModel, flat: Float32Array): NamedTensor[] {
  return bound.layout.entries.map((entry, i) => ({
    name: (bound.variables[i] as tf.Variable).name,
    tensor: tf.tensor(flat.subarray(entry.offset, entry.offset + entry.size), entry.shape as number[], 'float32'),
  }));
}
