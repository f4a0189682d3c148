import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';

/** One trainable tensor's place in the flat parameter vector. */
export interface LayoutEntry {
  readonly name: string;
  readonly shape: readonly number[];
  /** Offset in float32 elements. */
  readonly offset: number;
  readonly size: number;
}

/** The order of every trainable weight in one flat Float32Array, and a fingerprint of that order. */
export interface ParamLayout {
  readonly entries: readonly LayoutEntry[];
  /** Total float32 elements. */
  readonly size: number;
  /** 16 hex digits of sha256 over (name, shape) in order: equal fingerprints mean interchangeable vectors. */
  readonly fingerprint: string;
}

export function makeLayout(specs: readonly { name: string; shape: readonly number[] }[]): ParamLayout {
  let offset = 0;
  const entries = specs.map(({ name, shape }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const entry = { name, shape: [...shape], offset, size };
    offset += size;
    return entry;
  });
  const fingerprint = createHash('sha256')
    .update(JSON.stringify(entries.map((e) => [e.name, e.shape])))
    .digest('hex')
    .slice(0, 16);
  return { entries, size: offset, fingerprint };
}

/**
 * The layout of a model's trainable weights, named `<layer>/<weight>` from the layer's name and the weight's
 * original name (`dense_0/kernel`), never from the tf variable name, which tfjs suffixes to keep it unique.
 */
export function layoutOf(model: tf.LayersModel): ParamLayout {
  return makeLayout(
    model.layers.flatMap((layer) =>
      layer.trainableWeights.map((w) => ({
        name: `${layer.name}/${baseName(w.originalName)}`,
        shape: w.shape as number[],
      })),
    ),
  );
}

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}
