import {
  type AdamState,
  AdamStep,
  type AdamUpdateFn,
  type BoundModel,
  FlatAdam,
  getParams,
  type ParamLayout,
  setParams,
} from '@gradq/model';

/** Adam over the flat parameter vector, in place. */
export interface Optimizer {
  /** `fused` or `tfjs`, and whether the fused update runs natively. */
  readonly description: string;
  readonly iterations: number;
  step(params: Float32Array, grad: Float32Array): void;
  getState(): AdamState | Promise<AdamState>;
  setState(state: AdamState): void | Promise<void>;
  dispose(): void;
}

/**
 * `fused`: FlatAdam, tf.train.adam's arithmetic on flat arrays (native when @gradq/native-kernels is built) —
 * bit-identical to `tfjs`, tested against it on every backend here; ~1 ms per step instead of ~160 ms on `cpu`.
 * `tfjs`: tf.train.adam itself on the model's variables, the reference.
 */
export const OPTIMIZER_IMPLS = ['fused', 'tfjs'] as const;
export type OptimizerImpl = (typeof OPTIMIZER_IMPLS)[number];

/** Optional native versions of the step's serial math: same bits as the JS ones, several times faster. */
export interface NativeMath {
  readonly adamUpdate?: AdamUpdateFn;
  /** Why they are absent, for one log line. */
  readonly unavailable?: string;
}

/** The native step math if @gradq/native-kernels' addon is built here; never throws. */
export async function loadNativeMath(): Promise<NativeMath> {
  try {
    const native = await import('@gradq/native-kernels');
    return { adamUpdate: native.nativeAdamUpdate() };
  } catch (err) {
    return { unavailable: (err as Error).message.split('\n')[0] ?? 'unavailable' };
  }
}

/**
 * The run's Adam on flat arrays: FlatAdam at `learningRate` with its default betas and epsilon, native when
 * `update` is given. The coordinator's `fused` optimizer, a local run's inner steps and a worker's copy of the
 * coordinator's optimizer (derived parameters) are all this one, so their bits agree.
 */
export function runAdam(layout: ParamLayout, learningRate: number, update?: AdamUpdateFn): FlatAdam {
  return new FlatAdam(layout, { learningRate, ...(update ? { update } : {}) });
}

export function createOptimizer(
  impl: OptimizerImpl,
  bound: BoundModel,
  learningRate: number,
  native: NativeMath = {},
): Optimizer {
  if (impl === 'tfjs') return new TfjsAdam(bound, learningRate);
  const adam = runAdam(bound.layout, learningRate, native.adamUpdate);
  return {
    description: `fused Adam (${native.adamUpdate ? 'native' : 'JS'})`,
    get iterations() {
      return adam.iterations;
    },
    step: (params, grad) => adam.step(params, grad),
    getState: () => adam.getState(),
    setState: (state) => adam.setState(state),
    dispose: () => {},
  };
}

/** tf.train.adam on the model's variables, copying the flat vector in and out around each step. */
class TfjsAdam implements Optimizer {
  readonly description = 'tf.train.adam';
  private readonly adam: AdamStep;

  constructor(
    private readonly bound: BoundModel,
    learningRate: number,
  ) {
    this.adam = new AdamStep(bound, { learningRate });
  }

  get iterations(): number {
    return this.adam.iterations;
  }

  step(params: Float32Array, grad: Float32Array): void {
    setParams(this.bound, params);
    this.adam.apply(grad);
    params.set(getParams(this.bound));
  }

  getState(): Promise<AdamState> {
    return this.adam.getState();
  }

  setState(state: AdamState): Promise<void> {
    return this.adam.setState(state);
  }

  dispose(): void {
    this.adam.dispose();
  }
}
