import type { AdamState } from '@gradq/model';
import type { Hyperparams, TrainingPosition } from '@gradq/trainer';
import { assertRunId, assertStep } from './keys';

/** The figures recorded with a checkpoint (shown by `pnpm ckpt list`). */
export interface CheckpointMetrics {
  /** Sample-weighted training loss of the step that produced these parameters. */
  readonly loss?: number;
  /** Test-set MSE of these exact parameters, when evaluated (epoch ends). */
  readonly testMse?: number;
}

/**
 * Everything a checkpoint holds, as the coordinator fills it after a step. `save` copies the arrays, so the
 * coordinator may keep training (mutating its buffers) as soon as `save` returns.
 *
 * Invariants (checked by `save`): `params`, `adam.firstMoment` and `adam.secondMoment` have the layout's size;
 * `step === position.step === adam.iterations + position.skippedSteps`; `rngState` is four uint32 words.
 *
 * @example
 * writer.save({
 *   runId, step: trainee.position.step, epochEnd: false, hyperparams,
 *   params: trainee.params, layoutFingerprint: trainee.bound.layout.fingerprint,
 *   adam: await trainee.optimizer.getState(), position: trainee.position,
 *   rngState: epochRng(hyperparams.seed, trainee.position.epoch).state, backend: 'wasm',
 *   metrics: { loss: report.loss },
 * });
 */
export interface CheckpointContent {
  /** Must match `RUN_ID_PATTERN`. */
  readonly runId: string;
  /** Optimizer steps applied so far: the version of `params`. Names the checkpoint directory. */
  readonly step: number;
  /** True when saved right after an epoch's test evaluation; retention can keep all of these. */
  readonly epochEnd: boolean;
  /** The run's full hyperparameters; a resumed run must use the same ones. */
  readonly hyperparams: Hyperparams;
  /** Trainable parameters, flat in layout order (`trainee.params`). */
  readonly params: Float32Array;
  /** `bound.layout.fingerprint`; checked against the saved model's own layout on load. */
  readonly layoutFingerprint: string;
  /** `trainee.optimizer.getState()`: moments in layout order and the iteration count. */
  readonly adam: AdamState;
  /** Where training stands (step, epoch, stepInEpoch, samples, testMse history). */
  readonly position: TrainingPosition;
  /**
   * State of the RNG that shuffles the current epoch before its first draw, i.e. `epochRng(seed, epoch).state`.
   * Recorded so that the order of the interrupted epoch can be checked, even if the derivation ever changes.
   */
  readonly rngState: readonly number[];
  /** TensorFlow.js backend that computed these numbers (bit-identical resume needs the same one). */
  readonly backend: string;
  readonly metrics: CheckpointMetrics;
  /**
   * `--algorithm local` with `--inner-state keep`: each replica's inner Adam state, as its next round reads it
   * (`adam` is then the outer optimizer's: its momentum as the first moment, zeros as the second).
   */
  readonly inner?: InnerStates;
}

/** The replicas' inner Adam states of a local run, by replica (leaf index of a round). */
export type InnerStates = readonly { readonly replica: number; readonly state: AdamState }[];

/** A deep copy, after checking the invariants above, so the caller's buffers are free again at once. */
export function snapshotContent(content: CheckpointContent): CheckpointContent {
  assertRunId(content.runId);
  assertStep(content.step);
  const { params, adam, position } = content;
  const size = params.length;
  if (adam.firstMoment.length !== size || adam.secondMoment.length !== size) {
    throw new RangeError(
      `checkpoint: Adam moments have ${adam.firstMoment.length}/${adam.secondMoment.length} values, params ${size}`,
    );
  }
  if (position.step !== content.step) {
    throw new RangeError(`checkpoint: position.step ${position.step} differs from step ${content.step}`);
  }
  // Steps skipped for a non-finite loss advance the step but not Adam.
  if (adam.iterations !== content.step - position.skippedSteps) {
    throw new RangeError(
      `checkpoint: adam.iterations ${adam.iterations} differs from step ${content.step} less ${position.skippedSteps} skipped`,
    );
  }
  if (content.rngState.length !== 4 || content.rngState.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
    throw new RangeError(`checkpoint: rngState must be four uint32 words`);
  }
  return {
    ...content,
    hyperparams: structuredClone(content.hyperparams),
    params: params.slice(),
    adam: {
      iterations: adam.iterations,
      firstMoment: adam.firstMoment.slice(),
      secondMoment: adam.secondMoment.slice(),
    },
    position: { ...position, testMse: [...position.testMse] },
    rngState: [...content.rngState],
    metrics: { ...content.metrics },
    ...(content.inner
      ? {
          inner: content.inner.map(({ replica, state }) => {
            if (state.firstMoment.length !== size || state.secondMoment.length !== size)
              throw new RangeError(`checkpoint: replica ${replica}'s inner moments do not have ${size} values`);
            return {
              replica,
              state: {
                iterations: state.iterations,
                firstMoment: state.firstMoment.slice(),
                secondMoment: state.secondMoment.slice(),
              },
            };
          }),
        }
      : {}),
  };
}
