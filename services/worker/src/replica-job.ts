import type { BlockGradient } from '@gradq/engine';
import type { AdamState } from '@gradq/model';
import type { GradientJob, InnerMoments } from '@gradq/protocol';
import type { RunCache } from './run-cache';

/** What a local run's job sends: the replica's leaf (its weighted change), and its inner state when it is kept. */
export interface ReplicaOutcome {
  readonly block: BlockGradient;
  readonly inner?: InnerMoments;
  readonly innerIterations?: number;
}

/**
 * A job of `--algorithm local`: replica `job.first`'s round. Its inner Adam state comes from Redis, where the
 * coordinator's pointer names the state an accepted job of an earlier round wrote (or `fresh`); the new state goes
 * back with the change, under the submission's token (`RunData.submitGradient`). Nothing stays here between jobs.
 */
export async function computeReplica(
  run: RunCache,
  job: GradientJob,
  params: Float32Array,
  order: Uint32Array,
): Promise<ReplicaOutcome> {
  const keep = run.meta.hyperparams.innerState === 'keep';
  let state: AdamState | undefined;
  if (keep) {
    const pointer = await run.data.readInnerPointer(job.first);
    // The coordinator writes every replica's pointer before the first round opens: none means Redis lost it.
    if (!pointer)
      throw new Error(`run ${job.runId} replica ${job.first}: no inner state pointer in Redis (was the run lost?)`);
    if (!('fresh' in pointer)) {
      const moments = run.innerMoments();
      if (!(await run.data.readInnerState(pointer.step, pointer.token, moments)))
        throw new Error(
          `run ${job.runId} replica ${job.first}: inner state of round ${pointer.step} is not in Redis (the round moved on?)`,
        );
      state = { iterations: pointer.iterations, ...moments };
    }
  }
  const runner = await run.replicaRunner();
  const [start, end] = job.leaves[0] as [number, number];
  const result = await runner.run({
    global: params,
    order,
    span: { start, end },
    roundSamples: job.stepSamples,
    ...(state ? { state } : {}),
    out: run.gradOut(),
  });
  if (!keep) return { block: result };
  return { block: result, inner: result.state, innerIterations: result.state.iterations };
}
