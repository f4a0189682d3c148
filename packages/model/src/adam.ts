import * as tf from '@tensorflow/tfjs';
import { type BoundModel, type NamedTensor, splitByVariable } from './params';

export interface AdamOptions {
  /** Default 1e-3. */
  learningRate?: number;
}

/** Adam's whole state in layout order: enough to continue bit-identically. */
export interface AdamState {
  /** Steps applied so far. */
  readonly iterations: number;
  readonly firstMoment: Float32Array;
  readonly secondMoment: Float32Array;
}

/** The private fields of tf.AdamOptimizer that `setWeights` restores inexactly (see `setState`). */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  beta1: number;
  beta2: number;
}

/**
 * Applies averaged flat gradients to a bound model with TensorFlow.js's own Adam (`tf.train.adam`), so that the
 * distributed trainer and the single-process baseline take exactly the same step.
 */
export class AdamStep {
  readonly optimizer: tf.AdamOptimizer;

  constructor(
    readonly bound: BoundModel,
    options: AdamOptions = {},
  ) {
    this.optimizer = tf.train.adam(options.learningRate ?? 1e-3);
  }

  apply(averagedGradient: Float32Array): void {
    if (averagedGradient.length !== this.bound.layout.size) {
      throw new RangeError(
        `gradient: expected ${this.bound.layout.size} float32 values, got ${averagedGradient.length}`,
      );
    }
    // Adam matches its accumulators to variables by position in this list: always layout order.
    tf.tidy(() => this.optimizer.applyGradients(splitByVariable(this.bound, averagedGradient)));
  }

  get iterations(): number {
    return this.optimizer.iterations;
  }

  async getState(): Promise<AdamState> {
    const { size, entries } = this.bound.layout;
    const weights = await this.optimizer.getWeights();
    // weights[0] is a scalar tfjs creates on every call to hold the iteration count; the rest are Adam's own variables.
    weights[0]?.tensor.dispose();
    const moments = weights.slice(1);
    const firstMoment = new Float32Array(size);
    const secondMoment = new Float32Array(size);
    if (moments.length === 2 * entries.length) {
      for (const [i, entry] of entries.entries()) {
        firstMoment.set(await (moments[i] as NamedTensor).tensor.data(), entry.offset);
        secondMoment.set(await (moments[entries.length + i] as NamedTensor).tensor.data(), entry.offset);
      }
    } else if (moments.length !== 0) {
      throw new Error(`Adam holds ${moments.length} moment tensors, expected ${2 * entries.length}`);
    }
    return { iterations: this.optimizer.iterations, firstMoment, secondMoment };
  }

  /** Restores a state from `getState`; call on a fresh AdamStep (earlier accumulators are replaced, not freed). */
  async setState(state: AdamState): Promise<void> {
    const { size } = this.bound.layout;
    if (state.firstMoment.length !== size || state.secondMoment.length !== size) {
      throw new RangeError(`Adam state: moments must have ${size} values each`);
    }
    if (!Number.isInteger(state.iterations) || state.iterations < 0) {
      throw new RangeError(`Adam state: invalid iteration count ${state.iterations}`);
    }
    const m = splitByVariable(this.bound, state.firstMoment);
    const v = splitByVariable(this.bound, state.secondMoment);
    const iter = tf.scalar(state.iterations, 'int32');
    await this.optimizer.setWeights([
      { name: 'iter', tensor: iter },
      ...m.map(({ name, tensor }) => ({ name: `${name}/m`, tensor })),
      ...v.map(({ name, tensor }) => ({ name: `${name}/v`, tensor })),
    ]);
    tf.dispose([iter, ...[...m, ...v].map(({ tensor }) => tensor)]);
    // setWeights sets accBeta = pow(beta, t + 1), but training reached it by t float32 multiplications, which
    // differ in the last bits: replay the products so that a resumed run continues bit-identically.
    const internals = this.optimizer as unknown as AdamInternals;
    tf.tidy(() => {
      internals.accBeta1.assign(tf.scalar(replayPower(internals.beta1, state.iterations)));
      internals.accBeta2.assign(tf.scalar(replayPower(internals.beta2, state.iterations)));
    });
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** beta^(t+1) as float32 arithmetic computes it: beta, then t rounded multiplications by beta. */
function replayPower(beta: number, t: number): number {
  const b = Math.fround(beta);
  let acc = b;
  for (let i = 0; i < t; i++) acc = Math.fround(acc * b);
  return acc;
}
