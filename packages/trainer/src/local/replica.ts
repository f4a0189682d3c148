import { type Engine, firstNonFinite, type Leaf, roundLeaf } from '@gradq/engine';
import type { AdamState, AdamUpdateFn, FlatAdam, ParamLayout, WireEncoding } from '@gradq/model';
import { runAdam } from '../optimizer';
import { innerBatches } from '../plan';

/** One replica's share of a round (`--algorithm local`). */
export interface ReplicaTask {
  /** The round's global parameters; left unchanged. */
  readonly global: Float32Array;
  /** The epoch's sample order. */
  readonly order: Uint32Array;
  /** The replica's samples: positions [start, end) of the order, walked in batches of B. */
  readonly span: Leaf;
  /** Samples in the whole round: the replica's change counts by its share of them. */
  readonly roundSamples: number;
  /** The inner Adam state the replica ended its last round with; undefined for fresh moments. */
  readonly state?: AdamState;
  /** Receives the replica's leaf of the round's tree. */
  readonly out: Float32Array;
}

export interface ReplicaResult {
  /**
   * The replica's leaf: (global - after) x samples / roundSamples, rounded to the encoding. The round's leaves sum,
   * over the same tree as a sync step's, to the averaged change negated: the outer optimizer's gradient.
   */
  readonly grad: Float32Array;
  /** Sample-weighted mean of the inner steps' losses (each at the parameters it was computed on), and the samples. */
  readonly losses: readonly [number];
  readonly counts: readonly [number];
  /** The inner Adam state after the round: views of this runner's arrays, valid until its next `run`. */
  readonly state: AdamState;
  /** Inner steps skipped because their loss or gradient was not finite (as the loop skips a sync step). */
  readonly skipped: number;
}

/**
 * Runs replicas' inner steps: from the round's global parameters, one Adam step (`FlatAdam`, the run's learning
 * rate) per batch of the replica's span, each batch's gradient the same leaf tree as a sync step's. The baseline and
 * the workers both call this, which is what makes a local run's bits the same in one process and on any workers.
 * One replica at a time; its arrays are reused from call to call.
 */
export class ReplicaRunner {
  private readonly adam: FlatAdam;
  private readonly params: Float32Array;
  private readonly grad: Float32Array;
  /**
   * Engines that keep parameters resident copy them when the version changes: every inner step has new parameters,
   * so each gets a version of its own, far above any step number.
   */
  private version = 2 ** 40;

  constructor(
    private readonly engine: Engine,
    layout: ParamLayout,
    private readonly h: { batchSize: number; shardsPerStep: number; learningRate: number; gradEncoding: WireEncoding },
    update?: AdamUpdateFn,
  ) {
    this.adam = runAdam(layout, h.learningRate, update);
    this.params = new Float32Array(layout.size);
    this.grad = new Float32Array(layout.size);
  }

  async run(task: ReplicaTask): Promise<ReplicaResult> {
    const { adam, params, grad } = this;
    if (task.state) adam.setState(task.state);
    else {
      adam.firstMoment.fill(0);
      adam.secondMoment.fill(0);
      adam.setState({ iterations: 0, firstMoment: adam.firstMoment, secondMoment: adam.secondMoment });
    }
    params.set(task.global);
    let lossSum = 0;
    let samples = 0;
    let skipped = 0;
    for (const leaves of innerBatches(task.span, this.h.batchSize, this.h.shardsPerStep)) {
      const batchSamples = leaves.reduce((sum, l) => sum + (l.end - l.start), 0);
      this.version += 1;
      const block = await this.engine.computeBlock({
        version: this.version,
        params,
        order: task.order,
        leaves,
        stepSamples: batchSamples,
        // The inner steps never leave the process: only the replica's change travels, rounded below.
        rounding: 'f32',
        out: grad,
      });
      let loss = 0;
      for (const [i, count] of block.counts.entries()) loss += (block.losses[i] as number) * count;
      lossSum += loss;
      samples += batchSamples;
      if (Number.isFinite(loss) && firstNonFinite(block.grad) < 0) adam.step(params, block.grad);
      else skipped += 1;
    }
    const out = task.out;
    const share = samples / task.roundSamples;
    const global = task.global;
    for (let i = 0; i < out.length; i++) out[i] = ((global[i] as number) - (params[i] as number)) * share;
    roundLeaf(out, this.h.gradEncoding);
    return {
      grad: out,
      losses: [lossSum / samples],
      counts: [samples],
      state: { iterations: adam.iterations, firstMoment: adam.firstMoment, secondMoment: adam.secondMoment },
      skipped,
    };
  }
}
