import type { AdamState } from '@gradq/model';
import type { Optimizer } from '../optimizer';

/**
 * DiLoCo's outer optimizer: SGD with Nesterov momentum on the global parameters, the round's averaged parameter
 * change (negated) as its gradient. PyTorch's `SGD(nesterov=True)` arithmetic, each operation rounded to float32 as
 * it is stored:
 *   b' = mu*b + g;  p' = p - lr*(g + mu*b')
 * Plain JS over the flat vector (~3 ms for the default model): it runs once per round, not per batch.
 */
export class OuterNesterov implements Optimizer {
  readonly description: string;
  private rounds = 0;
  private readonly momentum: Float32Array;

  constructor(
    size: number,
    private readonly lr: number,
    private readonly mu: number,
  ) {
    this.momentum = new Float32Array(size);
    this.description = `outer Nesterov SGD (lr ${lr}, momentum ${mu})`;
  }

  get iterations(): number {
    return this.rounds;
  }

  step(params: Float32Array, grad: Float32Array): void {
    const b = this.momentum;
    if (params.length !== b.length || grad.length !== b.length)
      throw new RangeError(
        `outer step: ${params.length} parameters, ${grad.length} gradient values, ${b.length} expected`,
      );
    const lr = Math.fround(this.lr);
    const mu = Math.fround(this.mu);
    for (let i = 0; i < b.length; i++) {
      const g = grad[i] as number;
      const m = Math.fround(Math.fround(mu * (b[i] as number)) + g);
      b[i] = m;
      params[i] = Math.fround((params[i] as number) - Math.fround(lr * Math.fround(g + Math.fround(mu * m))));
    }
    this.rounds += 1;
  }

  /**
   * The momentum buffer as the "first moment" of an Adam-shaped state (the second is all zeros), so that checkpoints
   * keep one optimizer file format; `iterations` counts rounds.
   */
  getState(): AdamState {
    return {
      iterations: this.rounds,
      firstMoment: this.momentum.slice(),
      secondMoment: new Float32Array(this.momentum.length),
    };
  }

  setState(state: AdamState): void {
    if (state.firstMoment.length !== this.momentum.length)
      throw new RangeError(`outer state: ${state.firstMoment.length} values, expected ${this.momentum.length}`);
    this.momentum.set(state.firstMoment);
    this.rounds = state.iterations;
  }

  dispose(): void {}
}
