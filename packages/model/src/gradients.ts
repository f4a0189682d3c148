import * as tf from '@tensorflow/tfjs';
import type { BoundModel } from './params';

/** What a worker returns for one shard: the mean-loss gradient over its samples, the loss, and the sample count. */
export interface ShardGradient {
  readonly grad: Float32Array;
  readonly loss: number;
  readonly count: number;
}

/** Mean squared error over every pixel of every sample: the autoencoder's loss. */
export function reconstructionLoss(model: tf.LayersModel, inputs: tf.Tensor2D): tf.Scalar {
  const outputs = model.apply(inputs, { training: true }) as tf.Tensor2D;
  return tf.mean(tf.squaredDifference(outputs, inputs));
}

/**
 * The gradient of the mean reconstruction loss over `count` samples (`inputs` holds count x inputSize values in
 * [0, 1]) with respect to every trainable variable, flattened in layout order.
 */
export function shardGradient(bound: BoundModel, inputs: Float32Array, count: number): ShardGradient {
  const inputSize = inputs.length / count;
  if (!Number.isInteger(inputSize) || count < 1) {
    throw new RangeError(`shardGradient: ${inputs.length} input values do not split into ${count} samples`);
  }
  const grad = new Float32Array(bound.layout.size);
  const loss = tf.tidy(() => {
    const x = tf.tensor2d(inputs, [count, inputSize], 'float32');
    const { value, grads } = tf.variableGrads(
      () => reconstructionLoss(bound.model, x),
      bound.variables as tf.Variable[],
    );
    bound.layout.entries.forEach((entry, i) => {
      const g = grads[(bound.variables[i] as tf.Variable).name];
      if (!g) throw new Error(`shardGradient: no gradient for ${entry.name}`);
      grad.set(g.dataSync() as Float32Array, entry.offset);
    });
    return value.dataSync()[0] as number;
  });
  return { grad, loss, count };
}

/**
 * Mean squared reconstruction error over every pixel of `count` samples, evaluated in chunks so that the test set
 * never sits in memory as one float tensor. Sums are accumulated in float64 in chunk order (deterministic).
 */
export function evaluateMse(bound: BoundModel, inputs: Float32Array, count: number, chunk = 1000): number {
  let sum = 0;
  for (let start = 0; start < count; start += chunk) {
    for (const r of chunkRows(bound, inputs, count, start, chunk)) sum += r;
  }
  return sum / inputs.length;
}

/**
 * {@link evaluateMse}, the same value, yielding to the event loop between chunks: a coordinator's lease renewals and
 * `/metrics` go on while it evaluates. On the wasm backend on a loaded machine, 10,000 test digits took longer than
 * the lease's 6 s, and another coordinator took the run over from an owner that was only busy.
 */
export async function evaluateMseYielding(
  bound: BoundModel,
  inputs: Float32Array,
  count: number,
  chunk = 1000,
): Promise<number> {
  let sum = 0;
  for (let start = 0; start < count; start += chunk) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const r of chunkRows(bound, inputs, count, start, chunk)) sum += r;
  }
  return sum / inputs.length;
}

/** Each sample's summed squared error, for the samples [start, start + chunk) (fewer at the end). */
function chunkRows(bound: BoundModel, inputs: Float32Array, count: number, start: number, chunk: number): Float32Array {
  const inputSize = inputs.length / count;
  const n = Math.min(chunk, count - start);
  // Per-sample sums in float32 (784 terms), then the samples in float64: one float32 sum over a chunk's 784,000
  // terms was off by ~1e-4 relative (PyTorch, onnxruntime and numpy agreed with each other to 1e-10, not with it).
  return tf.tidy(() => {
    const x = tf.tensor2d(inputs.subarray(start * inputSize, (start + n) * inputSize), [n, inputSize], 'float32');
    const y = bound.model.predict(x) as tf.Tensor2D;
    return tf.sum(tf.squaredDifference(y, x), 1).dataSync() as Float32Array;
  });
}
