import type { AdamState } from './adam';
import type { ParamLayout } from './layout';

/**
 * One Adam step in place on flat float32 arrays, bit-identical to tf.train.adam's; `accBeta1`/`accBeta2` are
 * beta^(t+1) as accumulated in float32. @gradq/native-kernels' `nativeAdamUpdate()` is one.
 */
export type AdamUpdateFn = (
  params: Float32Array,
  m: Float32Array,
  v: Float32Array,
  grad: Float32Array,
  learningRate: number,
  beta1: number,
  beta2: number,
  epsilon: number,
  accBeta1: number,
  accBeta2: number,
) => void;

export interface FlatAdamOptions {
  /** Default 1e-3. */
  learningRate?: number;
  /** Default 0.9, as tf.train.adam. */
  beta1?: number;
  /** Default 0.999, as tf.train.adam. */
  beta2?: number;
  /** Default 1e-7: tf.train.adam's default, the float32 backends' `epsilon()`. */
  epsilon?: number;
  /** The update to run; default {@link adamUpdateJs}. Inject the native one for speed (same bits). */
  update?: AdamUpdateFn;
}

export class FlatAdamError extends RangeError {
  override readonly name = 'FlatAdamError';
}

const f = Math.fround;
/** float32's smallest normal number (C's FLT_MIN). */
const FLT_MIN = 1.1754943508222875e-38;

/**
 * tf.train.adam's update in plain JS, rounded to float32 after every operation, in the order its ops run:
 *   m' = m*b1 + g*(1-b1);  v' = v*b2 + g*g*(1-b2);  p' = (m'/(1-accB1)) / (sqrt(v'/(1-accB2)) + eps) * -lr + p
 * where 1-b1, 1-b2 and -lr are computed in double before becoming float32 scalars, as the optimizer does. One
 * difference: a moment below float32's smallest normal (1.18e-38) is zero here, where tf.train.adam keeps the
 * subnormal. Such a moment moves no parameter (its update is ~1e-41), so the parameters keep tf.train.adam's bits;
 * the moments of parameters whose gradient stopped become 0 instead of sticking at 1.4e-45.
 */
export const adamUpdateJs: AdamUpdateFn = (params, m, v, grad, lr, beta1, beta2, epsilon, accBeta1, accBeta2) => {
  const b1 = f(beta1);
  const b2 = f(beta2);
  const oneMinusB1 = f(1 - beta1);
  const oneMinusB2 = f(1 - beta2);
  const eps = f(epsilon);
  const negLr = f(-lr);
  const oneMinusAcc1 = f(1 - f(accBeta1));
  const oneMinusAcc2 = f(1 - f(accBeta2));
  const n = params.length;
  for (let i = 0; i < n; i++) {
    const g = grad[i] as number;
    let newM = f(f((m[i] as number) * b1) + f(g * oneMinusB1));
    let newV = f(f((v[i] as number) * b2) + f(f(g * g) * oneMinusB2));
    // Moments below float32's smallest normal are zero, as in the native update (kernels.c says why: subnormals).
    if (Math.abs(newM) < FLT_MIN) newM = 0;
    if (Math.abs(newV) < FLT_MIN) newV = 0;
    const mHat = f(newM / oneMinusAcc1);
    const vHat = f(newV / oneMinusAcc2);
    m[i] = newM;
    v[i] = newV;
    params[i] = f(f(f(mHat / f(f(Math.sqrt(vHat)) + eps)) * negLr) + (params[i] as number));
  }
};

/**
 * Adam on flat Float32Arrays in a {@link ParamLayout}: the same bits as {@link AdamStep} (tf.train.adam) without
 * tensors, for the coordinator's step. State is compatible with AdamStep's `getState`/`setState`.
 */
export class FlatAdam {
  iterations = 0;
  readonly firstMoment: Float32Array;
  readonly secondMoment: Float32Array;
  /** beta1^(iterations+1), accumulated in float32 as tf.train.adam does. */
  accBeta1: number;
  accBeta2: number;
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly update: AdamUpdateFn;

  constructor(
    readonly layout: ParamLayout,
    options: FlatAdamOptions = {},
  ) {
    this.learningRate = options.learningRate ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    for (const [key, value] of Object.entries({ learningRate: this.learningRate, epsilon: this.epsilon })) {
      if (!(Number.isFinite(value) && value > 0)) throw new FlatAdamError(`FlatAdam: ${key} must be > 0, got ${value}`);
    }
    for (const [key, value] of Object.entries({ beta1: this.beta1, beta2: this.beta2 })) {
      if (!(value >= 0 && value < 1)) throw new FlatAdamError(`FlatAdam: ${key} must be in [0, 1), got ${value}`);
    }
    this.update = options.update ?? adamUpdateJs;
    this.firstMoment = new Float32Array(layout.size);
    this.secondMoment = new Float32Array(layout.size);
    this.accBeta1 = f(this.beta1);
    this.accBeta2 = f(this.beta2);
  }

  /** Applies one step to `params` in place. */
  step(params: Float32Array, grad: Float32Array): void {
    const { size } = this.layout;
    if (params.length !== size)
      throw new FlatAdamError(`params: expected ${size} float32 values, got ${params.length}`);
    if (grad.length !== size) throw new FlatAdamError(`grad: expected ${size} float32 values, got ${grad.length}`);
    this.update(
      params,
      this.firstMoment,
      this.secondMoment,
      grad,
      this.learningRate,
      this.beta1,
      this.beta2,
      this.epsilon,
      this.accBeta1,
      this.accBeta2,
    );
    this.accBeta1 = f(this.accBeta1 * f(this.beta1));
    this.accBeta2 = f(this.accBeta2 * f(this.beta2));
    this.iterations += 1;
  }

  /** A copy of the state, as AdamStep's `getState` returns it. */
  getState(): AdamState {
    return {
      iterations: this.iterations,
      firstMoment: this.firstMoment.slice(),
      secondMoment: this.secondMoment.slice(),
    };
  }

  /** Restores a state from `getState` (this class's or AdamStep's). */
  setState(state: AdamState): void {
    const { size } = this.layout;
    if (state.firstMoment.length !== size || state.secondMoment.length !== size) {
      throw new FlatAdamError(`Adam state: moments must have ${size} values each`);
    }
    if (!Number.isInteger(state.iterations) || state.iterations < 0) {
      throw new FlatAdamError(`Adam state: invalid iteration count ${state.iterations}`);
    }
    this.firstMoment.set(state.firstMoment);
    this.secondMoment.set(state.secondMoment);
    this.iterations = state.iterations;
    this.accBeta1 = replayPower(this.beta1, state.iterations);
    this.accBeta2 = replayPower(this.beta2, state.iterations);
  }
}

/** beta^(t+1) as t float32 multiplications reach it (pow differs in the last bits); as adam.ts's replayPower. */
function replayPower(beta: number, t: number): number {
  const b = f(beta);
  let acc = b;
  for (let i = 0; i < t; i++) acc = f(acc * b);
  return acc;
}
