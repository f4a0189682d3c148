import { type Engine, TreeReducer } from '@gradq/engine';
import { type AdamState, type AdamUpdateFn, MNIST_PIXELS, type MnistSplit } from '@gradq/model';
import type { Hyperparams } from '../config';
import type { GradientSource, StepGradient, Trainee } from '../loop';
import { ReplicaRunner } from './replica';

/** The in-process source of `--algorithm local` rounds, with every replica's inner Adam state between rounds. */
export interface LocalRoundSource extends GradientSource {
  /** Inner state by leaf (replica) index, after the last round; empty with `--inner-state reset`. */
  readonly innerStates: Map<number, AdamState>;
}

/**
 * Runs each round's replicas one after the other in this process (`pnpm baseline --algorithm local`): the reference
 * a distributed local run is held to. A replica's leaf of the round's tree is its weighted parameter change; the
 * leaves combine over the same tree (`TreeReducer`) as the coordinator's, and the loop applies the root with the
 * trainee's outer optimizer. A replica is identified by its leaf index in the round.
 */
export function localRoundSource(
  engine: Engine,
  trainee: Trainee,
  train: MnistSplit,
  h: Hyperparams,
  update?: AdamUpdateFn,
): LocalRoundSource {
  engine.setTrainingSet(train.pixels, MNIST_PIXELS);
  const runner = new ReplicaRunner(engine, trainee.bound.layout, h, update);
  const innerStates = new Map<number, AdamState>();
  return {
    innerStates,
    async gradients({ order, shards }): Promise<StepGradient> {
      const roundSamples = shards.reduce((sum, s) => sum + (s.end - s.start), 0);
      const reducer = new TreeReducer(shards.length, h.gradEncoding);
      const losses: number[] = [];
      const counts: number[] = [];
      for (const [leaf, span] of shards.entries()) {
        const state = h.innerState === 'keep' ? innerStates.get(leaf) : undefined;
        const result = await runner.run({
          global: trainee.params,
          order,
          span,
          roundSamples,
          ...(state ? { state } : {}),
          // The reducer keeps a leaf's array until its sibling arrives: one each (a round is rare; 3 MB is cheap).
          out: new Float32Array(trainee.params.length),
        });
        if (h.innerState === 'keep') {
          const { iterations, firstMoment, secondMoment } = result.state;
          innerStates.set(leaf, { iterations, firstMoment: firstMoment.slice(), secondMoment: secondMoment.slice() });
        }
        losses.push(result.losses[0]);
        counts.push(result.counts[0]);
        reducer.add({ first: leaf, end: leaf + 1 }, result.grad);
      }
      return { grad: reducer.root(), losses, counts };
    },
  };
}
