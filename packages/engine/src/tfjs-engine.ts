import {
  type BoundModel,
  bindModel,
  createAutoencoder,
  type OutputActivation,
  scalePixels,
  setParams,
} from '@gradq/model';
import * as tf from '@tensorflow/tfjs';
import { checkTask, gatherLeaf } from './task';
import { reduceLeaves, roundLeaf } from './tree';
import type { BlockGradient, BlockTask, Engine } from './types';

export interface ModelShape {
  /** Units per layer, input first. */
  readonly layerSizes: readonly number[];
  readonly outputActivation: OutputActivation;
}

/**
 * The reference engine: tf.variableGrads on the tfjs model, one leaf at a time, on whichever tfjs backend is
 * active (tensorflow, wasm, cpu, a GPU backend). Every other engine is tested against it, leaf by leaf.
 */
export class TfjsEngine implements Engine {
  readonly name: string;
  private readonly bound: BoundModel;
  private pixels: Uint8Array | undefined;
  private sampleSize = 0;
  private version = -1;

  constructor(shape: ModelShape) {
    this.name = `tfjs-${tf.getBackend()}`;
    // The seed only sets the initial weights, which every block overwrites with its parameters.
    this.bound = bindModel(
      createAutoencoder({ layerSizes: shape.layerSizes, outputActivation: shape.outputActivation, seed: 0 }),
    );
  }

  setTrainingSet(pixels: Uint8Array, sampleSize: number): void {
    this.pixels = pixels;
    this.sampleSize = sampleSize;
  }

  computeBlock(task: BlockTask): BlockGradient {
    const pixels = this.pixels;
    if (!pixels) throw new Error(`${this.name}: setTrainingSet was not called`);
    checkTask(task, this.bound.layout.size, pixels.length / this.sampleSize);
    if (task.version !== this.version) {
      setParams(this.bound, task.params);
      this.version = task.version;
    }
    const losses: number[] = [];
    const counts: number[] = [];
    const leafGrads = task.leaves.map((leaf) => {
      const count = leaf.end - leaf.start;
      const inputs = scalePixels(gatherLeaf(pixels, this.sampleSize, task.order, leaf));
      const { grad, sum } = this.leafGradient(inputs, count, task.stepSamples);
      roundLeaf(grad, task.rounding);
      losses.push(sum / (count * this.sampleSize));
      counts.push(count);
      return grad;
    });
    const grad = reduceLeaves(leafGrads, task.rounding);
    task.out?.set(grad);
    return { grad: task.out ?? grad, losses, counts };
  }

  /** d/dθ of sum(squared error) / (pixels per sample * step samples): the leaf's share of the step's mean loss. */
  private leafGradient(inputs: Float32Array, count: number, stepSamples: number): { grad: Float32Array; sum: number } {
    const { model, variables, layout } = this.bound;
    const grad = new Float32Array(layout.size);
    const scale = 1 / (this.sampleSize * stepSamples);
    const sum = tf.tidy(() => {
      const x = tf.tensor2d(inputs, [count, this.sampleSize], 'float32');
      const { value, grads } = tf.variableGrads(() => {
        const y = model.apply(x, { training: true }) as tf.Tensor2D;
        return tf.mul(tf.sum(tf.squaredDifference(y, x)), scale) as tf.Scalar;
      }, variables as tf.Variable[]);
      layout.entries.forEach((entry, i) => {
        const g = grads[(variables[i] as tf.Variable).name];
        if (!g) throw new Error(`${this.name}: no gradient for ${entry.name}`);
        grad.set(g.dataSync() as Float32Array, entry.offset);
      });
      return (value.dataSync()[0] as number) / scale;
    });
    return { grad, sum };
  }

  dispose(): void {
    this.bound.model.dispose();
  }
}
